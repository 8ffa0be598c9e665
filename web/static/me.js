// me.js is "Me": my status, my recent calls, my calendar feed and my web
// password; also the missed-call badge and the incoming-call card the
// shell shows on every page.
import { html, useState, useEffect, useRef } from './lib.js';
import { get, post, put, del, enc, query } from './api.js';
import { t } from './strings.js';
import { subscribe, toast } from './app.js';
import { Presence, formatDateTime, formatDuration } from './ui.js';

export const statuses = ['available', 'away', 'dnd', 'lunch', 'business_trip', 'unavailable'];

// Other parts of the app learn that the missed-call count changed.
function callsChanged() {
	window.dispatchEvent(new CustomEvent('sb:calls-changed'));
}

export function Me({ session }) {
	return html`<section class="page me-page">
		<h1>${t('me.title')}</h1>
		<div class="me-grid">
			<${StatusCard} session=${session} />
			<${CallsCard} session=${session} />
			<${CalendarCard} session=${session} />
			<${PasswordCard} session=${session} />
		</div>
	</section>`;
}

// ---- status -------------------------------------------------------------------

// toLocalInput turns an RFC 3339 time into a datetime-local value.
function toLocalInput(s) {
	if (!s) return '';
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return '';
	const pad = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function StatusCard({ session }) {
	const [presence, setPresence] = useState(null);
	const [status, setStatus] = useState('available');
	const [note, setNote] = useState('');
	const [until, setUntil] = useState('');
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState({ message: '', field: '' });

	const take = (p) => {
		setPresence(p);
		if (statuses.includes(p.status)) setStatus(p.status);
		setNote(p.note || '');
		setUntil(toLocalInput(p.until));
	};
	useEffect(() => {
		get('/v1/presence/' + enc(session.user)).then(take).catch((e) => {
			if (e.status !== 404) setError({ message: e.message, field: '' });
		});
		return subscribe((ev) => {
			if (ev.type === 'presence' && ev.data && ev.data.aor === session.user) setPresence(ev.data);
		});
	}, [session.user]);

	const submit = async (e) => {
		e.preventDefault();
		setError({ message: '', field: '' });
		const body = { status };
		if (note.trim()) body.note = note.trim();
		if (until) {
			const d = new Date(until);
			if (Number.isNaN(d.getTime())) {
				setError({ message: t('me.untilInvalid'), field: 'until' });
				return;
			}
			body.until = d.toISOString();
		}
		setBusy(true);
		try {
			const p = await put('/v1/presence/' + enc(session.user) + '/status', body);
			setPresence(p);
			toast(t('me.statusSet', { status: t('status.' + status) }));
		} catch (err) {
			setError({ message: err.message, field: err.field });
		} finally {
			setBusy(false);
		}
	};
	const fieldErr = (f) => (error.field === f ? error.message : '');
	return html`<section class="card me-card" aria-labelledby="me-status-title">
		<h2 id="me-status-title">${t('me.status')}</h2>
		${presence ? html`<p>${t('me.now')} <${Presence} p=${presence} /></p>` : null}
		${presence && presence.line === 'offline' ? html`<p class="hint">${t('me.offlineHint')}</p>` : null}
		<form onSubmit=${submit}>
			<fieldset class="status-choices">
				<legend>${t('me.chooseStatus')}</legend>
				${statuses.map((s) => html`<label class="check" key=${s}>
					<input type="radio" name="status" value=${s} checked=${status === s} onChange=${() => setStatus(s)} />
					<span class=${'dot status-' + s} aria-hidden="true"></span> ${t('status.' + s)}
				</label>`)}
			</fieldset>
			<div class="field">
				<label for="me-note">${t('me.note')}</label>
				<input id="me-note" type="text" maxlength="200" value=${note} onInput=${(e) => setNote(e.currentTarget.value)}
					placeholder=${t('me.notePlaceholder')}
					aria-invalid=${fieldErr('note') ? 'true' : undefined} aria-describedby=${fieldErr('note') ? 'me-note-error' : undefined} />
				${fieldErr('note') ? html`<p id="me-note-error" class="field-error">${fieldErr('note')}</p>` : null}
			</div>
			<div class="field">
				<label for="me-until">${t('me.until')}</label>
				<input id="me-until" type="datetime-local" value=${until} onInput=${(e) => setUntil(e.currentTarget.value)}
					aria-invalid=${fieldErr('until') ? 'true' : undefined} aria-describedby="me-until-hint" />
				<p id="me-until-hint" class="hint">${fieldErr('until') || t('me.untilHint')}</p>
			</div>
			<div role="alert" class="form-error">${error.field === 'note' || error.field === 'until' ? '' : error.message}</div>
			<div class="actions">
				<button type="submit" class="button primary" disabled=${busy}>${t('me.setStatus')}</button>
			</div>
		</form>
	</section>`;
}

// ---- calls ----------------------------------------------------------------------

const outcomeKey = (c) => 'calls.outcome.' + (c.outcome || 'ongoing');

function CallsCard({ session }) {
	const [calls, setCalls] = useState({ items: [], next: '', loading: true, error: '' });
	const [missedOnly, setMissedOnly] = useState(false);
	const [rowMsg, setRowMsg] = useState({});

	const load = (cursor) => {
		setCalls((c) => ({ ...c, loading: true, error: '' }));
		get('/v1/calls' + query({ limit: 50, cursor, missed: missedOnly ? 'true' : '' }))
			.then((r) => {
				setCalls((c) => ({ items: cursor ? [...c.items, ...(r.items || [])] : r.items || [], next: r.next_cursor || '', loading: false, error: '' }));
				// Seeing the history reads it: the badge goes.
				if (!cursor && r.missed_unread) post('/v1/calls/read').then(callsChanged).catch(() => {});
			})
			.catch((e) => setCalls((c) => ({ ...c, loading: false, error: e.message })));
	};
	useEffect(() => load(''), [missedOnly]);
	useEffect(() => subscribe((ev) => {
		if (ev.type === 'resync') load('');
		if (ev.type !== 'call' || !ev.data || !ev.data.call) return;
		const rec = ev.data.call;
		if (missedOnly && rec.outcome !== 'missed') return;
		setCalls((c) => ({ ...c, items: [rec, ...c.items.filter((x) => x.id !== rec.id)] }));
		// A call missed while I look at my calls is seen.
		if (ev.data.type === 'ended' && rec.outcome === 'missed') post('/v1/calls/read').then(callsChanged).catch(() => {});
	}), [missedOnly]);

	const who = (c) => c.name || c.number || t('calls.unknown');
	const note = (id, message, kind) => setRowMsg((m) => ({ ...m, [id]: { message, kind } }));
	const addContact = async (c) => {
		try {
			await post('/v1/calls/' + enc(c.id) + '/contact', {});
			note(c.id, t('calls.contactAdded', { who: who(c) }), 'ok');
			setCalls((x) => ({ ...x, items: x.items.map((y) => (y.id === c.id ? { ...y, saved: true } : y)) }));
		} catch (e) {
			note(c.id, e.message, 'error');
		}
	};
	const block = async (c) => {
		try {
			const r = await post('/v1/calls/' + enc(c.id) + '/block');
			note(c.id, r.blocked === 'contact' ? t('calls.blockedContact', { who: who(c) }) : t('calls.blockedNumber', { who: r.number || who(c) }), 'ok');
		} catch (e) {
			note(c.id, e.status === 409 ? t('contacts.markConflict', { message: e.message.replace(/[.\s]+$/, '') }) : e.message, 'error');
		}
	};

	return html`<section class="card me-card calls-card" aria-labelledby="me-calls-title">
		<div class="card-head">
			<h2 id="me-calls-title">${t('me.calls')}</h2>
			<label class="check"><input type="checkbox" checked=${missedOnly} onChange=${(e) => setMissedOnly(e.currentTarget.checked)} /> ${t('calls.missedOnly')}</label>
		</div>
		${calls.error ? html`<p role="alert" class="form-error">${calls.error}</p>` : null}
		${!calls.loading && !calls.error && !calls.items.length ? html`<p class="empty">${missedOnly ? t('calls.noMissed') : t('calls.none')}</p>` : null}
		<ul role="list" class="call-list" aria-labelledby="me-calls-title">
			${calls.items.map((c) => {
				const m = rowMsg[c.id];
				const missed = c.outcome === 'missed';
				return html`<li role="listitem" key=${c.id} class=${'call-row' + (missed ? ' missed' : '')}>
					<div class="call-main">
						<span class="call-who">${who(c)}</span>
						${c.name && c.number ? html`<span class="call-number">${c.number}</span>` : null}
						<span class="call-meta">
							${t('calls.direction.' + c.direction)} · ${t(outcomeKey(c))} · ${formatDateTime(c.started)}
							${c.duration ? ' · ' + formatDuration(c.duration) : ''}
						</span>
						${m ? html`<span class=${m.kind === 'error' ? 'field-error' : 'ok-text'} role=${m.kind === 'error' ? 'alert' : 'status'}>${m.message}</span>` : null}
					</div>
					<div class="call-actions">
						${!c.contact_id && !c.saved && c.number ? html`<button type="button" class="button small" aria-label=${t('calls.addContactLabel', { who: who(c) })}
							onClick=${() => addContact(c)}><span aria-hidden="true">+</span></button>` : null}
						${c.number ? html`<button type="button" class="button small" aria-label=${t('calls.blockLabel', { who: who(c) })}
							onClick=${() => block(c)}>${t('calls.block')}</button>` : null}
					</div>
				</li>`;
			})}
		</ul>
		${calls.next ? html`<button type="button" class="button more" disabled=${calls.loading} onClick=${() => load(calls.next)}>${t('calls.more')}</button>` : null}
	</section>`;
}

// MissedBadge shows the unread missed calls in the nav.
export function MissedBadge() {
	const [n, setN] = useState(0);
	useEffect(() => {
		let alive = true;
		const fetchCount = () => get('/v1/calls/unread')
			.then((r) => alive && setN(r.missed || 0))
			.catch(() => alive && setN(0));
		fetchCount();
		window.addEventListener('sb:calls-changed', fetchCount);
		const off = subscribe((ev) => {
			if (ev.type === 'resync' || (ev.type === 'call' && ev.data && ev.data.type === 'ended')) fetchCount();
		});
		return () => {
			alive = false;
			off();
			window.removeEventListener('sb:calls-changed', fetchCount);
		};
	}, []);
	if (!n) return null;
	return html`<span class="badge">${n}<span class="visually-hidden"> ${t('nav.missedLabel', { n })}</span></span>`;
}

// ---- the incoming-call card ---------------------------------------------------------

// IncomingCall shows on every page while my own line rings, with the caller
// as the server lets me see them (my contacts' names first).
export function IncomingCall({ session }) {
	const [ringing, setRinging] = useState(null); // {who, number}
	const lastStarted = useRef(null);
	useEffect(() => subscribe((ev) => {
		if (ev.type === 'call' && ev.data && ev.data.call && ev.data.call.user === session.user) {
			const c = ev.data.call;
			if (ev.data.type === 'started' && c.direction === 'incoming') {
				lastStarted.current = c;
				setRinging((r) => (r ? { who: c.name || c.number, number: c.name ? c.number : '' } : r));
			}
			if (ev.data.type === 'ended') {
				lastStarted.current = null;
				setRinging(null);
			}
			return;
		}
		if (ev.type !== 'presence' || !ev.data || ev.data.aor !== session.user) return;
		const p = ev.data;
		if (p.line !== 'ringing') {
			setRinging(null);
			return;
		}
		// The line rings only for a call to me; name the caller from my
		// call history when it has it (it uses my contacts' names), else
		// as presence shows them (the server applies the privacy rules).
		const early = (p.calls || []).find((c) => c.direction !== 'initiator' && c.state !== 'confirmed' && c.state !== 'terminated');
		const rec = lastStarted.current;
		let who = '', number = '';
		if (rec && !rec.ended) {
			who = rec.name || rec.number;
			number = rec.name ? rec.number : '';
		} else if (early && early.remote) {
			who = early.remote.display || early.remote.uri || '';
		}
		setRinging({ who: who || t('calls.unknown'), number });
	}), [session.user]);
	if (!ringing) return null;
	return html`<aside class="incoming" role="alert" aria-label=${t('incoming.label')}>
		<span class="dot line-ringing" aria-hidden="true"></span>
		<span><strong>${t('incoming.title')}</strong> ${t('incoming.from', { who: ringing.who })}${ringing.number ? html` <span class="call-number">${ringing.number}</span>` : null}</span>
		<button type="button" class="button small" onClick=${() => setRinging(null)}>${t('incoming.dismiss')}</button>
	</aside>`;
}

// ---- calendar ---------------------------------------------------------------------

function CalendarCard({ session }) {
	const [cal, setCal] = useState(undefined); // undefined loading, null none
	const [url, setUrl] = useState('');
	const [share, setShare] = useState(true);
	const [error, setError] = useState('');
	const [busy, setBusy] = useState(false);
	const path = '/v1/users/' + enc(session.user) + '/calendar';

	useEffect(() => {
		get(path)
			.then((c) => { setCal(c); setUrl(c.url || ''); setShare(c.share !== false); })
			.catch((e) => {
				setCal(null);
				if (e.status !== 404) setError(e.message);
			});
	}, [path]);

	const save = async (e) => {
		e.preventDefault();
		setError('');
		setBusy(true);
		try {
			const body = { share };
			if (url.trim() && url.trim() !== (cal && cal.url)) body.url = url.trim();
			if (!cal && !body.url) {
				setError(t('calendar.urlMissing'));
				return;
			}
			const c = await put(path, body);
			setCal(c);
			toast(t('calendar.saved'));
		} catch (err) {
			setError(err.message);
		} finally {
			setBusy(false);
		}
	};
	const remove = async () => {
		setError('');
		try {
			await del(path);
			setCal(null);
			setUrl('');
			toast(t('calendar.removed'));
		} catch (err) {
			setError(err.message);
		}
	};
	const poll = cal && cal.poll;
	return html`<section class="card me-card" aria-labelledby="me-cal-title">
		<h2 id="me-cal-title">${t('calendar.title')}</h2>
		<p class="hint">${t('calendar.hint')}</p>
		${poll ? html`<p class=${poll.error ? 'field-error' : 'hint'}>
			${poll.error ? t('calendar.failing', { error: poll.error }) : poll.last_success ? t('calendar.lastRead', { when: formatDateTime(poll.last_success) }) : t('calendar.notReadYet')}
		</p>` : null}
		<form onSubmit=${save}>
			<div class="field">
				<label for="me-cal-url">${t('calendar.url')}</label>
				<input id="me-cal-url" type="url" inputmode="url" autocomplete="off" spellcheck="false" maxlength="2048"
					placeholder=${cal ? cal.url_hint : 'https://…/basic.ics'} value=${url} onInput=${(e) => setUrl(e.currentTarget.value)} />
			</div>
			<label class="check"><input type="checkbox" checked=${share} onChange=${(e) => setShare(e.currentTarget.checked)} /> ${t('calendar.share')}</label>
			<div role="alert" class="form-error">${error}</div>
			<div class="actions">
				<button type="submit" class="button primary" disabled=${busy}>${t('calendar.save')}</button>
				${cal ? html`<button type="button" class="button danger" onClick=${remove}>${t('calendar.remove')}</button>` : null}
			</div>
		</form>
	</section>`;
}

// ---- web password ---------------------------------------------------------------------

function PasswordCard({ session }) {
	const [current, setCurrent] = useState('');
	const [next, setNext] = useState('');
	const [repeat, setRepeat] = useState('');
	const [error, setError] = useState({ message: '', field: '' });
	const [busy, setBusy] = useState(false);

	const submit = async (e) => {
		e.preventDefault();
		setError({ message: '', field: '' });
		if (next !== repeat) {
			setError({ message: t('password.mismatch'), field: 'repeat' });
			return;
		}
		setBusy(true);
		try {
			await put('/v1/users/' + enc(session.user) + '/web-password', { current, password: next });
			setCurrent('');
			setNext('');
			setRepeat('');
			toast(t('password.changed'));
		} catch (err) {
			const field = err.field === 'password' ? 'password' : err.field === 'current' || err.status === 401 || err.status === 403 ? 'current' : '';
			setError({ message: err.status === 429 && err.retryAfter ? t('signin.throttled', { s: err.retryAfter }) : err.message, field });
		} finally {
			setBusy(false);
		}
	};
	const pw = (id, field, label, value, set, autocomplete) => {
		const err = error.field === field ? error.message : '';
		return html`<div class="field">
			<label for=${id}>${label}</label>
			<input id=${id} type="password" autocomplete=${autocomplete} value=${value} onInput=${(e) => set(e.currentTarget.value)}
				aria-invalid=${err ? 'true' : undefined} aria-describedby=${err ? id + '-error' : undefined} />
			${err ? html`<p id=${id + '-error'} class="field-error" role="alert">${err}</p>` : null}
		</div>`;
	};
	return html`<section class="card me-card" aria-labelledby="me-pw-title">
		<h2 id="me-pw-title">${t('password.title')}</h2>
		<form onSubmit=${submit}>
			<input type="text" name="username" autocomplete="username" value=${session.user} hidden readonly />
			${pw('me-pw-current', 'current', t('password.current'), current, setCurrent, 'current-password')}
			${pw('me-pw-new', 'password', t('password.new'), next, setNext, 'new-password')}
			${pw('me-pw-repeat', 'repeat', t('password.repeat'), repeat, setRepeat, 'new-password')}
			<div role="alert" class="form-error">${error.field ? '' : error.message}</div>
			<div class="actions">
				<button type="submit" class="button primary" disabled=${busy || !next}>${t('password.change')}</button>
			</div>
		</form>
	</section>`;
}
