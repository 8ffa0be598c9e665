// signin.js is the sign-in screen: extension@domain and web password.
import { html, useState, useRef, useEffect } from './lib.js';
import { post } from './api.js';
import { t } from './strings.js';

const userPattern = /^[^@\s]+@[^@\s]+$/;

export function SignIn({ onSignedIn, notice, error: initialError }) {
	const [user, setUser] = useState('');
	const [password, setPassword] = useState('');
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState(initialError || '');
	const [fieldErrors, setFieldErrors] = useState({});
	const userRef = useRef(null);
	const passwordRef = useRef(null);

	useEffect(() => {
		document.title = t('signin.title');
		if (userRef.current) userRef.current.focus();
	}, []);

	const submit = async (e) => {
		e.preventDefault();
		const u = user.trim();
		const fe = {};
		if (!u) fe.user = t('signin.userMissing');
		else if (!userPattern.test(u)) fe.user = t('signin.userInvalid');
		if (!password) fe.password = t('signin.passwordMissing');
		setFieldErrors(fe);
		if (fe.user || fe.password) {
			setError('');
			(fe.user ? userRef : passwordRef).current.focus();
			return;
		}
		setBusy(true);
		setError('');
		try {
			const s = await post('/v1/session', { user: u, password });
			setPassword('');
			onSignedIn(s);
		} catch (err) {
			if (err.status === 401) setError(t('signin.wrong'));
			else if (err.status === 429) setError(err.retryAfter ? t('signin.throttled', { s: err.retryAfter }) : t('signin.throttledLater'));
			else setError(err.message);
			setPassword('');
			if (passwordRef.current) passwordRef.current.focus();
		} finally {
			setBusy(false);
		}
	};

	return html`<main id="main" class="signin">
		<form class="card signin-card" onSubmit=${submit} noValidate aria-labelledby="signin-title">
			<h1 id="signin-title">${t('signin.title')}</h1>
			<p class="hint">${t('signin.intro')}</p>
			${notice && !error ? html`<p role="status" class="notice">${notice}</p>` : null}
			<div role="alert" class="form-error">${error}</div>
			<div class="field">
				<label for="signin-user">${t('signin.user')}</label>
				<input id="signin-user" ref=${userRef} name="username" type="text" inputmode="email"
					autocomplete="username" autocapitalize="none" spellcheck="false" required
					placeholder="201@example.com"
					aria-invalid=${fieldErrors.user ? 'true' : undefined}
					aria-describedby=${fieldErrors.user ? 'signin-user-error' : undefined}
					value=${user} onInput=${(e) => setUser(e.currentTarget.value)} />
				${fieldErrors.user ? html`<p id="signin-user-error" class="field-error">${fieldErrors.user}</p>` : null}
			</div>
			<div class="field">
				<label for="signin-password">${t('signin.password')}</label>
				<input id="signin-password" ref=${passwordRef} name="password" type="password"
					autocomplete="current-password" required
					aria-invalid=${fieldErrors.password ? 'true' : undefined}
					aria-describedby=${fieldErrors.password ? 'signin-password-error' : undefined}
					value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
				${fieldErrors.password ? html`<p id="signin-password-error" class="field-error">${fieldErrors.password}</p>` : null}
			</div>
			<button type="submit" class="button primary" disabled=${busy}>${busy ? t('signin.busy') : t('signin.submit')}</button>
		</form>
	</main>`;
}
