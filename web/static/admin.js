// admin.js: users, company contacts, shared groups, keys, settings.
// Placeholder; web-board replaces it.
import { html } from './lib.js';
import { t } from './strings.js';

export function Admin() {
	return html`<section class="page"><h1>${t('page.admin')}</h1></section>`;
}
