// app.js is the shell: it checks the session, shows sign-in or the app,
// routes #/contacts (default), #/board, #/me and #/admin, holds the one
// live presence stream every screen subscribes to, and the toast area.
import { html, render, useState, useEffect, useRef } from './lib.js';
import { get, del, setCsrf, ApiError } from './api.js';
import { t, strings } from './strings.js';
import { SignIn } from './signin.js';
import { Contacts } from './contacts.js';
import { Board } from './board.js';
import { Me, IncomingCall, MissedBadge } from './me.js';
import { Admin } from './admin.js';

// ---- live stream ---------------------------------------------------------

const listeners = new Set();
let source = null;
let retryTimer = 0;
let backoff = 1000;
const maxBackoff = 30000;

// subscribe(fn) calls fn for every live event until the returned function
// is called: {type: 'presence', data: Presence, id}, {type: 'call', data:
// {type, call}, id}, {type: 'click_to_call', data: ClickToCall, id}, and
// {type: 'resync'} after the stream had to be opened afresh (events may
// have been missed: re-read what you show).
export function subscribe(fn) {
	listeners.add(fn);
	return () => listeners.delete(fn);
}

function emit(ev) {
	for (const fn of [...listeners]) {
		try {
			fn(ev);
		} catch (e) {
			console.error('live listener', e);
		}
	}
}

let liveState = 'closed';
const liveWatchers = new Set();
function setLive(s, detail) {
	liveState = s;
	for (const fn of liveWatchers) fn(s, detail);
}

function openStream(fresh) {
	closeStream();
	setLive('connecting');
	const es = new EventSource('/v1/presence/stream');
	source = es;
	const handler = (type) => (e) => {
		let data = null;
		try {
			data = JSON.parse(e.data);
		} catch (err) {
			return;
		}
		emit({ type, data, id: e.lastEventId });
	};
	es.addEventListener('presence', handler('presence'));
	es.addEventListener('call', handler('call'));
	es.addEventListener('click_to_call', handler('click_to_call'));
	es.addEventListener('revoked', () => {
		closeStream();
		window.dispatchEvent(new CustomEvent('sb:unauthenticated'));
	});
	es.onopen = () => {
		backoff = 1000;
		setLive('open');
		// The browser's own reconnects send Last-Event-ID and resume; a
		// stream opened afresh cannot, so screens re-read.
		if (fresh) emit({ type: 'resync' });
		fresh = false;
	};
	es.onerror = () => {
		if (es.readyState === EventSource.CLOSED) {
			// The server refused (401, 429, 503): the browser gives up,
			// so try again with growing pauses.
			const wait = backoff + Math.floor(Math.random() * 500);
			backoff = Math.min(backoff * 2, maxBackoff);
			setLive('offline', Math.round(wait / 1000));
			source = null;
			retryTimer = setTimeout(() => openStream(true), wait);
		} else if (liveState === 'open') {
			// The connection dropped; the browser reconnects by itself and
			// resumes from the last event id.
			setLive('reconnecting');
		}
	};
}

function closeStream() {
	clearTimeout(retryTimer);
	if (source) source.close();
	source = null;
	setLive('closed');
}

// ---- toasts --------------------------------------------------------------

const toastWatchers = new Set();
let toastSeq = 0;

// toast(message) shows a passing note in the role=status area;
// toast(message, 'error') shows it in the role=alert area until dismissed.
export function toast(message, kind = 'info') {
	const item = { id: ++toastSeq, message, kind };
	for (const fn of toastWatchers) fn(item);
}

// toastError shows an ApiError's (or any error's) message as an alert.
export function toastError(err) {
	toast(err && err.message ? err.message : String(err), 'error');
}

function Toasts() {
	const [items, setItems] = useState([]);
	useEffect(() => {
		const fn = (item) => {
			setItems((xs) => [...xs.filter((x) => x.kind === 'error' || x.id > item.id - 3), item]);
			if (item.kind !== 'error') setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== item.id)), 5000);
		};
		toastWatchers.add(fn);
		return () => toastWatchers.delete(fn);
	}, []);
	const drop = (id) => setItems((xs) => xs.filter((x) => x.id !== id));
	const infos = items.filter((x) => x.kind !== 'error');
	const errors = items.filter((x) => x.kind === 'error');
	return html`<div class="toasts">
		<div role="status" aria-live="polite" class="toast-list">
			${infos.map((x) => html`<p class="toast" key=${x.id}>${x.message}</p>`)}
		</div>
		<div role="alert" class="toast-list">
			${errors.map((x) => html`<p class="toast toast-error" key=${x.id}>
				<span>${x.message}</span>
				<button type="button" class="icon-button" aria-label=${t('toast.dismiss')} onClick=${() => drop(x.id)}>×</button>
			</p>`)}
		</div>
	</div>`;
}

function LiveBanner() {
	const [state, setState] = useState({ s: liveState });
	useEffect(() => {
		const fn = (s, detail) => setState({ s, detail });
		liveWatchers.add(fn);
		return () => liveWatchers.delete(fn);
	}, []);
	if (state.s !== 'offline' && state.s !== 'reconnecting') return null;
	return html`<p class="live-banner" role="status">${state.s === 'offline' ? t('live.offline', { s: state.detail }) : t('live.reconnecting')}</p>`;
}

// ---- router --------------------------------------------------------------

const routes = {
	contacts: { label: 'nav.contacts', view: Contacts },
	board: { label: 'nav.board', view: Board },
	me: { label: 'nav.me', view: Me },
	admin: { label: 'nav.admin', view: Admin, admin: true },
};

function currentRoute() {
	const m = location.hash.match(/^#\/([a-z]+)(?:\/(.*))?$/);
	if (!m) return { name: 'contacts', rest: '' };
	return { name: m[1], rest: m[2] || '' };
}

function useRoute() {
	const [route, setRoute] = useState(currentRoute());
	useEffect(() => {
		const fn = () => setRoute(currentRoute());
		window.addEventListener('hashchange', fn);
		return () => window.removeEventListener('hashchange', fn);
	}, []);
	return route;
}

function Nav({ session, route, onSignOut }) {
	const name = session.display_name || session.user;
	return html`<header class="topbar">
		<a class="brand" href="#/contacts">${t('app.name')}</a>
		<nav aria-label=${t('nav.label')}>
			<ul class="nav-links">
				${Object.entries(routes)
					.filter(([, r]) => !r.admin || session.admin)
					.map(([key, r]) => html`<li key=${key}>
						<a href=${'#/' + key} aria-current=${route.name === key ? 'page' : undefined}>
							${t(r.label)}${key === 'me' ? html`<${MissedBadge} />` : null}
						</a>
					</li>`)}
			</ul>
		</nav>
		<div class="user-box">
			<span class="user-name" title=${session.user}>${t('nav.signedInAs', { name })}</span>
			<button type="button" class="button" onClick=${onSignOut}>${t('nav.signout')}</button>
		</div>
	</header>`;
}

function Shell({ session, onSignOut }) {
	const route = useRoute();
	const mainRef = useRef(null);
	const first = useRef(true);
	useEffect(() => {
		openStream(false);
		// Click-to-call progress, whichever screen started it.
		const off = subscribe((ev) => {
			if (ev.type !== 'click_to_call' || !ev.data) return;
			const c = ev.data;
			if (c.state === 'failed') {
				const reason = c.reason && strings['calls.reason.' + c.reason] ? t('calls.reason.' + c.reason) : String(c.reason || c.sip_status || '');
				toast(t('calls.c2c.failed', { to: c.to, reason }), 'error');
			}
			else if (c.state === 'connecting' || c.state === 'connected') toast(t('calls.c2c.' + c.state, { to: c.to }));
		});
		return () => {
			off();
			closeStream();
		};
	}, []);
	useEffect(() => {
		const r = routes[route.name];
		document.title = r ? `${t(r.label)} – ${t('app.name')}` : t('app.name');
		// Move focus to the new page for keyboard and screen-reader users,
		// but not on the first load.
		if (!first.current && mainRef.current) {
			mainRef.current.focus({ preventScroll: true });
			window.scrollTo(0, 0);
		}
		first.current = false;
	}, [route.name]);
	const r = routes[route.name];
	let body;
	if (!r || (r.admin && !session.admin)) body = html`<p class="empty">${t('error.notFound')}</p>`;
	else {
		const View = r.view;
		body = html`<${View} session=${session} route=${route} />`;
	}
	return html`<a class="skip-link" href="#main" onClick=${(e) => { e.preventDefault(); mainRef.current && mainRef.current.focus(); }}>${t('app.skip')}</a>
		<${Nav} session=${session} route=${route} onSignOut=${onSignOut} />
		<${LiveBanner} />
		<${IncomingCall} session=${session} />
		<main id="main" tabindex="-1" ref=${mainRef}>${body}</main>
		<${Toasts} />`;
}

function App() {
	// undefined: checking; null: signed out; object: the session.
	const [session, setSession] = useState(undefined);
	const [notice, setNotice] = useState('');
	const [bootError, setBootError] = useState('');

	const check = () => {
		setBootError('');
		get('/v1/session')
			.then((s) => {
				setCsrf(s.csrf_token);
				setSession(s);
			})
			.catch((e) => {
				setCsrf('');
				if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) {
					setBootError(t('error.session', { message: e.message }));
				}
				setSession(null);
			});
	};
	useEffect(check, []);
	useEffect(() => {
		const fn = () => {
			setCsrf('');
			setNotice(t('signin.expired'));
			setSession(null);
		};
		window.addEventListener('sb:unauthenticated', fn);
		return () => window.removeEventListener('sb:unauthenticated', fn);
	}, []);

	const signedIn = (s) => {
		setCsrf(s.csrf_token);
		setNotice('');
		setBootError('');
		setSession(s);
	};
	const signOut = async () => {
		try {
			await del('/v1/session');
		} catch (e) {
			// Signed out on the server or not: forget the session here.
		}
		closeStream();
		setCsrf('');
		setNotice(t('signin.signedOut'));
		setSession(null);
	};

	if (session === undefined) return html`<p class="loading" role="status">${t('app.loading')}</p>`;
	if (session === null) return html`<${SignIn} onSignedIn=${signedIn} notice=${notice} error=${bootError} />`;
	return html`<${Shell} session=${session} onSignOut=${signOut} />`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
