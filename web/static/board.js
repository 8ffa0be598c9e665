// board.js: the team board (receptionist view). Placeholder; web-board
// replaces it.
import { html } from './lib.js';
import { t } from './strings.js';

export function Board() {
	return html`<section class="page"><h1>${t('page.board')}</h1></section>`;
}
