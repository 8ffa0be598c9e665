// me.js: my status, my calls, my calendar and password.
import { html } from './lib.js';
import { t } from './strings.js';

export function Me() {
	return html`<section class="page"><h1>${t('nav.me')}</h1></section>`;
}

// IncomingCall shows a card on every page while my own line rings.
export function IncomingCall() {
	return null;
}

// MissedBadge shows the number of unread missed calls in the nav.
export function MissedBadge() {
	return null;
}
