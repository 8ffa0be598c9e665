// ui.js: small pieces several screens share: the modal dialog, presence
// shown as text and colour, dates, copying.
import { html, useEffect, useRef, useId } from './lib.js';
import { t } from './strings.js';

// Dialog is a modal <dialog>: focus stays inside, Escape closes it, so
// does any navigation, and focus goes back to what had it before.
export function Dialog({ title, onClose, children, className = '' }) {
	const ref = useRef(null);
	const close = useRef(onClose);
	close.current = onClose;
	const id = useId();
	useEffect(() => {
		const d = ref.current;
		const opener = document.activeElement;
		const onCancel = (e) => {
			e.preventDefault();
			close.current();
		};
		d.addEventListener('cancel', onCancel);
		// Going somewhere (back, a link, the same address again) closes it.
		const onNavigate = () => close.current();
		window.addEventListener('popstate', onNavigate);
		if (!d.open) d.showModal();
		return () => {
			d.removeEventListener('cancel', onCancel);
			window.removeEventListener('popstate', onNavigate);
			if (d.open) d.close();
			if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
		};
	}, []);
	return html`<dialog ref=${ref} class=${className} aria-labelledby=${id + '-title'}>
		<div class="dialog-head">
			<h2 id=${id + '-title'}>${title}</h2>
			<button type="button" class="icon-button" aria-label=${t('common.close')} onClick=${() => close.current()}>×</button>
		</div>
		<div class="dialog-body">${children}</div>
	</dialog>`;
}

// Presence shows a line state and status as a dot and as words.
export function Presence({ p }) {
	if (!p) return null;
	const line = p.line || 'offline';
	const status = p.status && p.status !== 'offline' ? p.status_label || t('status.' + p.status) : '';
	const words = [t('line.' + line), status].filter(Boolean);
	if (line === 'offline' && !status) words.splice(0, 1, t('status.offline'));
	return html`<span class="presence">
		<span class=${'dot line-' + line} aria-hidden="true"></span>
		<span>${[...new Set(words)].join(' · ')}${p.note ? html` — <span class="note">${p.note}</span>` : null}${p.until && status ? ' ' + t('presence.until', { when: formatTime(p.until) }) : ''}</span>
	</span>`;
}

export function formatDateTime(s) {
	if (!s) return '';
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return s;
	return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// formatTime shows a time today as a time, another day with its date.
export function formatTime(s) {
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return s;
	const today = new Date();
	if (d.toDateString() === today.toDateString()) return d.toLocaleTimeString(undefined, { timeStyle: 'short' });
	return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDuration(secs) {
	if (!secs) return '0:00';
	const m = Math.floor(secs / 60);
	const s = String(secs % 60).padStart(2, '0');
	return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

// copyText copies s to the clipboard, also where the Clipboard API is not
// offered (plain http on another host than localhost).
export async function copyText(s) {
	if (navigator.clipboard && window.isSecureContext) {
		await navigator.clipboard.writeText(s);
		return;
	}
	const ta = document.createElement('textarea');
	ta.value = s;
	ta.setAttribute('readonly', '');
	ta.className = 'visually-hidden';
	document.body.appendChild(ta);
	ta.select();
	const ok = document.execCommand('copy');
	ta.remove();
	if (!ok) throw new Error(t('contacts.copyFailed'));
}

// debounce returns fn delayed until ms passed without another call.
export function debounce(fn, ms) {
	let timer = 0;
	return (...args) => {
		clearTimeout(timer);
		timer = setTimeout(() => fn(...args), ms);
	};
}

// contactName is how a contact is called in lists and headings.
export function contactName(c) {
	const n = [c.first_name, c.last_name].filter(Boolean).join(' ');
	return n || c.company || (c.phones && c.phones[0] && c.phones[0].number) || (c.emails && c.emails[0]) || t('contacts.unnamed');
}
