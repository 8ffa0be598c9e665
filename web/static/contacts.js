// contacts.js: groups on the left, the directory on the right.
import { html } from './lib.js';
import { t } from './strings.js';

export function Contacts() {
	return html`<section class="page"><h1>${t('nav.contacts')}</h1></section>`;
}
