// contacts.js is the contacts screen as people know it from their phone
// system: the groups on the left, the directory (personal, company and
// team contacts) on the right with search as you type, a contact card
// with call, message, copy and marks, and forms to add, edit and import.
import { html, useState, useEffect, useRef, useMemo, useCallback } from './lib.js';
import { get, post, put, del, request, enc, query } from './api.js';
import { t } from './strings.js';
import { subscribe, toast } from './app.js';
import { Dialog, Presence, formatDateTime, formatTime, copyText, debounce, contactName } from './ui.js';

const builtins = ['favorite', 'vip', 'blocked'];
const builtinLabel = { favorite: 'contacts.group.favorite', vip: 'contacts.group.vip', blocked: 'contacts.group.blocked' };
const phoneTypes = ['work', 'mobile', 'home', 'fax', 'other'];
const pageSize = 100;

export function groupLabel(g) {
	return builtinLabel[g.id] ? t(builtinLabel[g.id]) : g.name || g.id;
}

function routeGroup(route) {
	const m = (route.rest || '').match(/^group\/(.+)$/);
	return m ? decodeURIComponent(m[1]) : '';
}

function groupHref(id) {
	return id ? '#/contacts/group/' + encodeURIComponent(id) : '#/contacts';
}

// ---- the screen -----------------------------------------------------------

export function Contacts({ session, route }) {
	const group = routeGroup(route);
	const [groups, setGroups] = useState([]);
	const [q, setQ] = useState('');
	const [kind, setKind] = useState('');
	const [list, setList] = useState({ items: [], next: '', loading: true, error: '' });
	const [open, setOpen] = useState(null); // contact id shown in the card
	const [adding, setAdding] = useState(false);
	const seq = useRef(0);

	const loadGroups = useCallback(() => {
		get('/v1/groups')
			.then((r) => setGroups(r.items || []))
			.catch((e) => toast(e.message, 'error'));
	}, []);
	useEffect(loadGroups, []);

	const load = useCallback((params, append, cursor) => {
		const n = ++seq.current;
		setList((l) => ({ ...l, loading: true, error: '' }));
		get('/v1/contacts' + query({ q: params.q.trim(), group: params.group, kind: params.kind, limit: pageSize, cursor }))
			.then((r) => {
				if (n !== seq.current) return; // a newer search answered or will
				setList((l) => ({ items: append ? [...l.items, ...(r.items || [])] : r.items || [], next: r.next || '', loading: false, error: '' }));
			})
			.catch((e) => {
				if (n !== seq.current) return;
				setList((l) => ({ ...l, loading: false, error: e.message }));
			});
	}, []);

	const params = { q, group, kind };
	const paramsRef = useRef(params);
	paramsRef.current = params;
	const reload = useCallback(() => load(paramsRef.current, false), [load]);
	const debounced = useMemo(() => debounce(reload, 250), [reload]);

	// Group and kind change at once; typing waits for a pause.
	useEffect(reload, [group, kind]);
	const onSearch = (e) => {
		setQ(e.currentTarget.value);
		paramsRef.current = { ...paramsRef.current, q: e.currentTarget.value };
		debounced();
	};

	// Live presence of team members in the list.
	useEffect(() => subscribe((ev) => {
		if (ev.type === 'resync') {
			reload();
			return;
		}
		if (ev.type !== 'presence' || !ev.data || !ev.data.aor) return;
		const id = 'team:' + ev.data.aor;
		const p = ev.data;
		setList((l) => {
			if (!l.items.some((x) => x.contact.id === id)) return l;
			return {
				...l,
				items: l.items.map((x) => (x.contact.id === id
					? { ...x, presence: { line: p.line, status: p.status, status_label: p.status_label, note: p.note } }
					: x)),
			};
		});
	}), [reload]);

	// Focus goes back to the row a card was opened from (or the search
	// box when the contact is gone), even after an edit replaced the card.
	const opener = useRef(null);
	const openCard = (id) => {
		opener.current = document.activeElement;
		setOpen(id);
	};
	const pendingFocus = useRef(null);
	const closeCard = (gone) => {
		pendingFocus.current = { id: gone ? '' : open, gone };
		setOpen(null);
	};
	// After the card is gone (its <dialog> closed, which moves focus by
	// itself), put focus where the user was.
	useEffect(() => {
		const p = pendingFocus.current;
		if (open || !p) return;
		pendingFocus.current = null;
		const row = p.id && document.querySelector(`.contact-open[data-id="${CSS.escape(p.id)}"]`);
		const el = row || (!p.gone && opener.current && opener.current.isConnected ? opener.current : document.querySelector('.contacts-page .search'));
		if (el) el.focus();
	}, [open]);
	const changed = (entry) => {
		// A card changed a contact: refresh the list (marks change the order).
		reload();
		if (entry === null) closeCard(true);
	};

	const current = groups.find((g) => g.id === group);
	const title = current ? groupLabel(current) : t('contacts.all');

	return html`<section class="page contacts-page">
		<div class="page-head">
			<h1>${t('nav.contacts')}</h1>
			<div class="actions">
				<button type="button" class="button primary" onClick=${() => setAdding(true)}>
					<span aria-hidden="true">+</span> ${t('contacts.add')}
				</button>
				<${ImportButton} onDone=${() => { reload(); loadGroups(); }} />
				<a class="button" href="/v1/contacts/export.csv" download>${t('contacts.exportCSV')}</a>
				<a class="button" href="/v1/contacts/export.vcf" download>${t('contacts.exportVCard')}</a>
			</div>
		</div>
		<div class="contacts-layout">
			<${GroupPane} groups=${groups} selected=${group} onChanged=${loadGroups} />
			<div class="directory">
				<div class="directory-tools">
					<input type="search" class="search" aria-label=${t('contacts.search')} placeholder=${t('contacts.searchPlaceholder')}
						value=${q} onInput=${onSearch} autocomplete="off" spellcheck="false"
						onKeyDown=${(e) => {
							if (e.key !== 'ArrowDown') return;
							const first = document.querySelector('.contact-list .contact-open');
							if (first) { e.preventDefault(); first.focus(); }
						}} />
					<label class="inline-field">
						<span>${t('contacts.kind')}</span>
						<select value=${kind} onChange=${(e) => setKind(e.currentTarget.value)}>
							<option value="">${t('contacts.kind.all')}</option>
							<option value="personal">${t('contacts.kind.personal')}</option>
							<option value="company">${t('contacts.kind.company')}</option>
							<option value="team">${t('contacts.kind.team')}</option>
						</select>
					</label>
				</div>
				<h2 class="visually-hidden" id="directory-title">${title}</h2>
				<${ContactList} list=${list} q=${q} group=${current} onOpen=${openCard}
					onMore=${() => load(paramsRef.current, true, list.next)} onRetry=${reload} />
			</div>
		</div>
		${open ? html`<${ContactCard} id=${open} session=${session} groups=${groups}
			onClose=${() => closeCard(false)} onChanged=${changed} />` : null}
		${adding ? html`<${ContactForm} onClose=${() => setAdding(false)}
			onSaved=${(e) => { setAdding(false); reload(); toast(t('contacts.added', { name: contactName(e.contact) })); }} />` : null}
	</section>`;
}

// ---- groups ---------------------------------------------------------------

function GroupPane({ groups, selected, onChanged }) {
	const [name, setName] = useState('');
	const [error, setError] = useState('');
	const own = groups.filter((g) => !g.builtin && g.id.startsWith('own:'));
	const shared = groups.filter((g) => !g.builtin && g.id.startsWith('shared:'));
	const link = (id, label) => html`<li key=${id || 'all'}>
		<a href=${groupHref(id)} aria-current=${selected === id ? 'page' : undefined}>${label}</a>
	</li>`;
	const create = async (e) => {
		e.preventDefault();
		setError('');
		try {
			const g = await post('/v1/groups', { name: name.trim() });
			setName('');
			onChanged();
			location.hash = groupHref(g.id);
		} catch (err) {
			setError(err.message);
		}
	};
	const remove = async (g) => {
		try {
			await del('/v1/groups/' + enc(g.id));
			toast(t('contacts.groupDeleted', { name: g.name }));
			location.hash = groupHref('');
			onChanged();
		} catch (err) {
			toast(err.message, 'error');
		}
	};
	const sel = own.find((g) => g.id === selected);
	return html`<nav class="group-pane" aria-label=${t('contacts.groups')}>
		<ul class="group-list">
			${link('', t('contacts.all'))}
			${builtins.map((id) => link(id, t(builtinLabel[id])))}
		</ul>
		<h2 class="group-heading">${t('contacts.ownGroups')}</h2>
		${own.length ? html`<ul class="group-list">${own.map((g) => link(g.id, g.name))}</ul>`
			: html`<p class="hint">${t('contacts.noOwnGroups')}</p>`}
		${sel ? html`<button type="button" class="button small danger" onClick=${() => remove(sel)}>
			${t('contacts.deleteGroup', { name: sel.name })}</button>` : null}
		<form class="new-group" onSubmit=${create}>
			<input type="text" aria-label=${t('contacts.newGroupName')} placeholder=${t('contacts.newGroupName')} maxlength="100"
				value=${name} onInput=${(e) => setName(e.currentTarget.value)}
				aria-invalid=${error ? 'true' : undefined} aria-describedby=${error ? 'new-group-error' : undefined} />
			<button type="submit" class="button small" disabled=${!name.trim()}>${t('contacts.createGroup')}</button>
			${error ? html`<p id="new-group-error" class="field-error" role="alert">${error}</p>` : null}
		</form>
		${shared.length ? html`<h2 class="group-heading">${t('contacts.sharedGroups')}</h2>
			<ul class="group-list">${shared.map((g) => link(g.id, g.name))}</ul>` : null}
	</nav>`;
}

// ---- the directory list ---------------------------------------------------

function ContactList({ list, q, group, onOpen, onMore, onRetry }) {
	const ref = useRef(null);
	// Up/Down/Home/End move between contacts, as in a list box.
	const onKeyDown = (e) => {
		if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(e.key)) return;
		const buttons = [...ref.current.querySelectorAll('.contact-open')];
		if (!buttons.length) return;
		const i = buttons.indexOf(document.activeElement);
		let j = i;
		if (e.key === 'ArrowDown') j = Math.min(buttons.length - 1, i + 1);
		if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
		if (e.key === 'Home') j = 0;
		if (e.key === 'End') j = buttons.length - 1;
		e.preventDefault();
		buttons[j].focus();
	};
	if (list.error) {
		return html`<div class="empty" role="alert"><p>${list.error}</p>
			<button type="button" class="button" onClick=${onRetry}>${t('common.retry')}</button></div>`;
	}
	let empty = '';
	if (!list.loading && !list.items.length) {
		if (q.trim()) empty = t('contacts.noMatch', { q: q.trim() });
		else if (group) empty = t('contacts.emptyGroup', { name: groupLabel(group) });
		else empty = t('contacts.empty');
	}
	return html`<div class="contact-results" aria-busy=${list.loading ? 'true' : 'false'}>
		<p class="visually-hidden" role="status">${list.loading ? t('app.loading') : t('contacts.count', { n: list.items.length })}</p>
		${empty ? html`<p class="empty">${empty}</p>` : null}
		<ul role="list" class="contact-list" aria-labelledby="directory-title" ref=${ref} onKeyDown=${onKeyDown}>
			${list.items.map((e) => html`<${ContactRow} key=${e.contact.id} entry=${e} onOpen=${onOpen} />`)}
		</ul>
		${list.next ? html`<button type="button" class="button more" onClick=${onMore} disabled=${list.loading}>${t('contacts.more')}</button>` : null}
	</div>`;
}

function Marks({ marks }) {
	const m = marks || [];
	return html`${m.includes('favorite') ? html`<span class="tag tag-fav"><span aria-hidden="true">★ </span>${t('contacts.mark.favorite')}</span>` : null}
		${m.includes('vip') ? html`<span class="tag tag-vip">${t('contacts.mark.vip')}</span>` : null}
		${m.includes('blocked') ? html`<span class="tag tag-blocked">${t('contacts.mark.blocked')}</span>` : null}`;
}

function ContactRow({ entry, onOpen }) {
	const c = entry.contact;
	const sub = [c.company && (c.first_name || c.last_name) ? c.company : '', c.job_title].filter(Boolean).join(' · ');
	const phone = c.phones && c.phones[0];
	// The button holds the name alone (the whole row is its click area), so
	// it never answers to "Favorite" or "Call"; the rest describes it.
	const metaId = 'row-' + c.id.replace(/\W/g, '-');
	return html`<li role="listitem" class="contact-row">
		<span class="contact-main">
			<button type="button" class="contact-open" data-id=${c.id} aria-describedby=${metaId}
				onClick=${() => onOpen(c.id)}>${contactName(c)}</button>
			<span class="contact-sub">${sub}</span>
		</span>
		<span class="contact-meta" id=${metaId}>
			<${Marks} marks=${entry.marks} />
			<span class=${'tag tag-kind kind-' + c.kind}>${t('contacts.kind.' + c.kind + '.one')}</span>
			${phone ? html`<span class="contact-number">${phone.number}</span>` : null}
			${c.kind === 'team' ? html`<${Presence} p=${entry.presence || { line: 'offline' }} />` : null}
		</span>
	</li>`;
}

// ---- the contact card -----------------------------------------------------

function ContactCard({ id, session, groups, onClose, onChanged }) {
	const [entry, setEntry] = useState(null);
	const [error, setError] = useState('');
	const [alert, setAlert] = useState('');
	const [editing, setEditing] = useState(false);
	const [confirmDelete, setConfirmDelete] = useState(false);

	useEffect(() => {
		get('/v1/contacts/' + enc(id)).then(setEntry).catch((e) => setError(e.message));
	}, [id]);

	useEffect(() => subscribe((ev) => {
		if (ev.type !== 'presence' || !ev.data || 'team:' + ev.data.aor !== id) return;
		const p = ev.data;
		setEntry((x) => x && { ...x, presence: { line: p.line, status: p.status, status_label: p.status_label, note: p.note } });
	}), [id]);

	if (error) {
		return html`<${Dialog} title=${t('contacts.card')} onClose=${onClose}><p role="alert" class="form-error">${error}</p></${Dialog}>`;
	}
	if (!entry) {
		return html`<${Dialog} title=${t('contacts.card')} onClose=${onClose}><p role="status">${t('app.loading')}</p></${Dialog}>`;
	}
	const c = entry.contact;
	if (editing) {
		return html`<${ContactForm} entry=${entry} onClose=${() => setEditing(false)}
			onSaved=${(e) => { setEntry(e); setEditing(false); onChanged(e); toast(t('contacts.saved')); }} />`;
	}
	const own = c.kind === 'personal' && (!c.owner || c.owner === session.user);
	const marks = entry.marks || [];

	const mark = async (g, on) => {
		setAlert('');
		try {
			const path = '/v1/contacts/' + enc(c.id) + '/marks/' + enc(g);
			const e = on ? await put(path) : await del(path);
			setEntry((x) => ({ ...x, marks: (e && e.marks) || x.marks }));
			onChanged(e);
		} catch (err) {
			setAlert(err.status === 409 ? t('contacts.markConflict', { message: err.message.replace(/[.\s]+$/, '') }) : err.message);
		}
	};
	const remove = async () => {
		setAlert('');
		try {
			await del('/v1/contacts/' + enc(c.id), { headers: { 'If-Match': '"' + c.version + '"' } });
			toast(t('contacts.deleted', { name: contactName(c) }));
			onChanged(null);
		} catch (err) {
			setConfirmDelete(false);
			setAlert(err.message);
		}
	};
	const toggle = (g, label) => html`<button type="button" class="button" aria-pressed=${marks.includes(g) ? 'true' : 'false'}
		onClick=${() => mark(g, !marks.includes(g))}>${label}</button>`;
	const memberOf = groups.filter((g) => !g.builtin && marks.includes(g.id));
	const addable = groups.filter((g) => !g.builtin && !marks.includes(g.id) && (g.id.startsWith('own:') || session.admin));

	return html`<${Dialog} title=${contactName(c)} onClose=${onClose} className="contact-card">
		<p class="card-kind">
			<span class=${'tag tag-kind kind-' + c.kind}>${t('contacts.kind.' + c.kind + '.one')}</span>
			${c.kind === 'team' ? html` <${Presence} p=${entry.presence || { line: 'offline' }} />` : null}
		</p>
		${[c.job_title, c.department, c.company].filter(Boolean).length
			? html`<p class="card-org">${[c.job_title, c.department, c.company].filter(Boolean).join(' · ')}</p>` : null}
		<div role="alert" class="form-error card-alert">${alert}</div>

		<${CallBar} contact=${c} onError=${setAlert} />

		<div class="actions marks" role="group" aria-label=${t('contacts.marks')}>
			${toggle('favorite', t('contacts.mark.favorite'))}
			${toggle('vip', t('contacts.mark.vip'))}
			${toggle('blocked', t('contacts.mark.block'))}
		</div>

		${c.phones && c.phones.length ? html`<h3>${t('contacts.numbers')}</h3>
			<ul class="detail-list">${c.phones.map((p, i) => html`<${PhoneLine} key=${i} phone=${p} />`)}</ul>` : null}
		${c.emails && c.emails.length ? html`<h3>${t('contacts.emails')}</h3>
			<ul class="detail-list">${c.emails.map((m) => html`<li key=${m}>
				<a href=${'mailto:' + m}>${m}</a>
				<button type="button" class="button small" aria-label=${t('contacts.copyThis', { what: m })}
					onClick=${() => copy(m)}>${t('contacts.copy')}</button>
			</li>`)}</ul>` : null}
		${c.address && Object.values(c.address).some(Boolean) ? html`<h3>${t('contacts.address')}</h3>
			<p class="address">${[c.address.street, [c.address.postal_code, c.address.city].filter(Boolean).join(' '), c.address.region, c.address.country]
				.filter(Boolean).map((l, i) => html`<span key=${i}>${l}<br /></span>`)}</p>` : null}
		${c.notes ? html`<h3>${t('contacts.notes')}</h3><p class="notes">${c.notes}</p>` : null}
		${c.kind === 'team' ? html`<${Availability} aor=${c.id.slice('team:'.length)} />` : null}

		<h3>${t('contacts.inGroups')}</h3>
		${memberOf.length ? html`<ul class="chips">${memberOf.map((g) => html`<li key=${g.id}>${g.name}
			<button type="button" class="icon-button" aria-label=${t('contacts.removeFrom', { name: g.name })}
				onClick=${() => mark(g.id, false)}>×</button></li>`)}</ul>`
			: html`<p class="hint">${t('contacts.inNoGroup')}</p>`}
		${addable.length ? html`<${AddToGroup} groups=${addable} onAdd=${(g) => mark(g, true)} />` : null}

		<dl class="meta">
			${c.owner ? html`<dt>${t('contacts.owner')}</dt><dd>${c.owner}</dd>` : null}
			${c.created ? html`<dt>${t('contacts.created')}</dt><dd>${formatDateTime(c.created)}</dd>` : null}
			${c.updated ? html`<dt>${t('contacts.updated')}</dt><dd>${formatDateTime(c.updated)}</dd>` : null}
		</dl>

		${own ? html`<div class="actions card-edit">
			<button type="button" class="button" onClick=${() => setEditing(true)}>${t('common.edit')}</button>
			${confirmDelete
				? html`<span role="group" aria-label=${t('contacts.confirmDelete')} class="confirm">
					<span>${t('contacts.confirmDelete')}</span>
					<button type="button" class="button danger" onClick=${remove}>${t('contacts.deleteYes')}</button>
					<button type="button" class="button" onClick=${() => setConfirmDelete(false)}>${t('common.cancel')}</button>
				</span>`
				: html`<button type="button" class="button danger" onClick=${() => setConfirmDelete(true)}>${t('common.delete')}</button>`}
		</div>` : html`<p class="hint">${t('contacts.readOnly')}</p>`}
	</${Dialog}>`;
}

// Availability shows a colleague's busy times of the coming week, where
// their calendar is shared (the server answers 404 otherwise).
function Availability({ aor }) {
	const [a, setA] = useState(undefined);
	useEffect(() => {
		get('/v1/users/' + enc(aor) + '/availability').then(setA).catch(() => setA(null));
	}, [aor]);
	if (a === undefined) return null;
	return html`<h3>${t('contacts.busy')}</h3>
		${!a ? html`<p class="hint">${t('contacts.busyNotShared')}</p>`
			: !a.busy.length ? html`<p class="hint">${t('contacts.busyNone')}</p>`
			: html`<ul class="busy-list">${a.busy.slice(0, 20).map((b, i) => html`<li key=${i}>${t('contacts.busyBlock', { start: formatTime(b.start), end: formatTime(b.end) })}</li>`)}</ul>`}`;
}

async function copy(s) {
	try {
		await copyText(s);
		toast(t('contacts.copied', { what: s }));
	} catch (e) {
		toast(e.message, 'error');
	}
}

// callNumber starts a click-to-call: the user's own phone rings first.
export async function callNumber(number) {
	const r = await post('/v1/calls', { to: number });
	toast(t('calls.started', { number }));
	return r;
}

function CallBar({ contact, onError }) {
	const phones = (contact.phones || []).filter((p) => p.type !== 'fax');
	const [pick, setPick] = useState(0);
	const [busy, setBusy] = useState(false);
	if (!phones.length) return null;
	const p = phones[Math.min(pick, phones.length - 1)];
	const call = async () => {
		onError('');
		setBusy(true);
		try {
			await callNumber(p.dial || p.number);
		} catch (e) {
			onError(e.status === 429 && e.retryAfter ? t('calls.tooMany', { s: e.retryAfter }) : e.message);
		} finally {
			setBusy(false);
		}
	};
	return html`<div class="actions call-bar">
		${phones.length > 1 ? html`<label class="inline-field"><span>${t('contacts.numberToCall')}</span>
			<select value=${pick} onChange=${(e) => setPick(Number(e.currentTarget.value))}>
				${phones.map((x, i) => html`<option value=${i}>${t('phone.' + x.type)}: ${x.number}</option>`)}
			</select></label>` : null}
		<button type="button" class="button primary" onClick=${call} disabled=${busy}>${t('contacts.call')}</button>
	</div>`;
}

function PhoneLine({ phone }) {
	const dial = phone.dial || phone.number;
	return html`<li class="phone-line">
		<span class="phone-type">${t('phone.' + phone.type)}</span>
		<span class="phone-number">${phone.number}</span>
		<span class="phone-actions">
			<a class="button small" href=${'tel:' + dial} aria-label=${t('contacts.dialThis', { number: phone.number })}>${t('contacts.dial')}</a>
			${phone.type !== 'fax' ? html`<a class="button small" href=${'sms:' + dial} aria-label=${t('contacts.smsThis', { number: phone.number })}>${t('contacts.sms')}</a>` : null}
			<button type="button" class="button small" aria-label=${t('contacts.copyThis', { what: phone.number })}
				onClick=${() => copy(phone.number)}>${t('contacts.copy')}</button>
		</span>
	</li>`;
}

function AddToGroup({ groups, onAdd }) {
	const [g, setG] = useState(groups[0].id);
	const value = groups.some((x) => x.id === g) ? g : groups[0].id;
	return html`<div class="actions">
		<label class="inline-field"><span>${t('contacts.addToGroup')}</span>
			<select value=${value} onChange=${(e) => setG(e.currentTarget.value)}>
				${groups.map((x) => html`<option value=${x.id}>${x.name}</option>`)}
			</select>
		</label>
		<button type="button" class="button small" onClick=${() => onAdd(value)}>${t('contacts.addToGroupButton')}</button>
	</div>`;
}

// ---- add and edit -----------------------------------------------------------

const textFields = ['first_name', 'last_name', 'company', 'department', 'job_title'];
const addressFields = ['street', 'postal_code', 'city', 'region', 'country'];

function emptyForm() {
	return {
		first_name: '', last_name: '', company: '', department: '', job_title: '',
		phones: [{ type: 'work', number: '' }], emails: [''],
		address: { street: '', postal_code: '', city: '', region: '', country: '' }, notes: '',
	};
}

function toForm(c) {
	const f = emptyForm();
	for (const k of textFields) f[k] = c[k] || '';
	f.phones = c.phones && c.phones.length ? c.phones.map((p) => ({ type: p.type, number: p.number })) : f.phones;
	f.emails = c.emails && c.emails.length ? [...c.emails] : f.emails;
	f.address = { ...f.address, ...(c.address || {}) };
	f.notes = c.notes || '';
	return f;
}

// toBody drops empty rows and remembers where each sent row came from, so
// an error naming phones[1] lands on the right input.
function toBody(f) {
	const body = {};
	for (const k of textFields) if (f[k].trim()) body[k] = f[k].trim();
	const phoneIdx = [];
	body.phones = [];
	f.phones.forEach((p, i) => {
		if (p.number.trim()) {
			phoneIdx.push(i);
			body.phones.push({ type: p.type, number: p.number.trim() });
		}
	});
	const emailIdx = [];
	body.emails = [];
	f.emails.forEach((m, i) => {
		if (m.trim()) {
			emailIdx.push(i);
			body.emails.push(m.trim());
		}
	});
	const addr = {};
	for (const k of addressFields) if (f.address[k].trim()) addr[k] = f.address[k].trim();
	if (Object.keys(addr).length) body.address = addr;
	if (f.notes.trim()) body.notes = f.notes;
	return { body, phoneIdx, emailIdx };
}

// formField maps an API error field to the form's own field name.
function formField(field, phoneIdx, emailIdx) {
	let m = field.match(/^phones\[(\d+)\](?:\.(number|type))?$/);
	if (m) return 'phones.' + (phoneIdx[Number(m[1])] ?? 0) + '.' + (m[2] || 'number');
	m = field.match(/^emails\[(\d+)\]$/);
	if (m) return 'emails.' + (emailIdx[Number(m[1])] ?? 0);
	if (field === 'name') return 'first_name';
	if (field === 'phones') return 'phones.0.number';
	if (field === 'emails') return 'emails.0';
	return field;
}

function ContactForm({ entry, onClose, onSaved }) {
	const editing = !!entry;
	const [f, setF] = useState(() => (editing ? toForm(entry.contact) : emptyForm()));
	const [errors, setErrors] = useState({});
	const [formError, setFormError] = useState('');
	const [busy, setBusy] = useState(false);
	const formRef = useRef(null);

	const set = (k, v) => setF((x) => ({ ...x, [k]: v }));
	const setPhone = (i, k, v) => setF((x) => ({ ...x, phones: x.phones.map((p, j) => (j === i ? { ...p, [k]: v } : p)) }));
	const setEmail = (i, v) => setF((x) => ({ ...x, emails: x.emails.map((m, j) => (j === i ? v : m)) }));
	const setAddr = (k, v) => setF((x) => ({ ...x, address: { ...x.address, [k]: v } }));

	const submit = async (e) => {
		e.preventDefault();
		setErrors({});
		setFormError('');
		const { body, phoneIdx, emailIdx } = toBody(f);
		body.kind = editing ? entry.contact.kind : 'personal';
		setBusy(true);
		try {
			const saved = editing
				? await put('/v1/contacts/' + enc(entry.contact.id), body, { headers: { 'If-Match': '"' + entry.contact.version + '"' } })
				: await post('/v1/contacts', body);
			onSaved(saved);
		} catch (err) {
			const field = err.field ? formField(err.field, phoneIdx, emailIdx) : '';
			const el = field && formRef.current && formRef.current.querySelector(`[data-field="${CSS.escape(field)}"]`);
			if (el) {
				setErrors({ [field]: err.message });
				el.focus();
			} else {
				setFormError(err.status === 412 ? t('contacts.changedMeanwhile') : err.message);
			}
		} finally {
			setBusy(false);
		}
	};

	const input = (name, label, value, onInput, attrs = {}) => {
		const id = 'cf-' + name.replace(/\W/g, '-');
		const err = errors[name];
		return html`<div class="field">
			<label for=${id}>${label}</label>
			<input id=${id} data-field=${name} value=${value} onInput=${(e) => onInput(e.currentTarget.value)}
				aria-invalid=${err ? 'true' : undefined} aria-describedby=${err ? id + '-error' : undefined} ...${attrs} />
			${err ? html`<p id=${id + '-error'} class="field-error" role="alert">${err}</p>` : null}
		</div>`;
	};
	const nth = (label, i) => (i === 0 ? label : `${label} ${i + 1}`);

	return html`<${Dialog} title=${editing ? t('contacts.editTitle', { name: contactName(entry.contact) }) : t('contacts.addTitle')} onClose=${onClose}>
		<form ref=${formRef} onSubmit=${submit} noValidate class="contact-form">
			<p class="hint">${t('contacts.formHint')}</p>
			<div role="alert" class="form-error">${formError}</div>
			<div class="form-row">
				${input('first_name', t('field.first_name'), f.first_name, (v) => set('first_name', v), { autocomplete: 'off', maxlength: 200 })}
				${input('last_name', t('field.last_name'), f.last_name, (v) => set('last_name', v), { autocomplete: 'off', maxlength: 200 })}
			</div>
			<div class="form-row">
				${input('company', t('field.company'), f.company, (v) => set('company', v), { autocomplete: 'off', maxlength: 200 })}
				${input('department', t('field.department'), f.department, (v) => set('department', v), { autocomplete: 'off', maxlength: 200 })}
				${input('job_title', t('field.job_title'), f.job_title, (v) => set('job_title', v), { autocomplete: 'off', maxlength: 200 })}
			</div>
			<fieldset>
				<legend>${t('contacts.numbers')}</legend>
				${f.phones.map((p, i) => html`<div class="form-row phone-row" key=${i}>
					<div class="field phone-type-field">
						<label for=${'cf-phone-type-' + i}>${nth(t('field.phone_type'), i)}</label>
						<select id=${'cf-phone-type-' + i} data-field=${'phones.' + i + '.type'} value=${p.type}
							onChange=${(e) => setPhone(i, 'type', e.currentTarget.value)}>
							${phoneTypes.map((x) => html`<option value=${x}>${t('phone.' + x)}</option>`)}
						</select>
					</div>
					${input('phones.' + i + '.number', nth(t('field.phone_number'), i), p.number, (v) => setPhone(i, 'number', v), { type: 'tel', autocomplete: 'off', maxlength: 100 })}
					${f.phones.length > 1 ? html`<button type="button" class="button small remove-row" aria-label=${t('contacts.removeNumber', { n: i + 1 })}
						onClick=${() => set('phones', f.phones.filter((_, j) => j !== i))}>${t('contacts.remove')}</button>` : null}
				</div>`)}
				<button type="button" class="button small" onClick=${() => set('phones', [...f.phones, { type: 'mobile', number: '' }])}>${t('contacts.addNumber')}</button>
			</fieldset>
			<fieldset>
				<legend>${t('contacts.emails')}</legend>
				${f.emails.map((m, i) => html`<div class="form-row" key=${i}>
					${input('emails.' + i, nth(t('field.email'), i), m, (v) => setEmail(i, v), { type: 'email', autocomplete: 'off' })}
					${f.emails.length > 1 ? html`<button type="button" class="button small remove-row" aria-label=${t('contacts.removeEmail', { n: i + 1 })}
						onClick=${() => set('emails', f.emails.filter((_, j) => j !== i))}>${t('contacts.remove')}</button>` : null}
				</div>`)}
				<button type="button" class="button small" onClick=${() => set('emails', [...f.emails, ''])}>${t('contacts.addEmail')}</button>
			</fieldset>
			<fieldset>
				<legend>${t('contacts.address')}</legend>
				${input('address.street', t('field.street'), f.address.street, (v) => setAddr('street', v), { autocomplete: 'off' })}
				<div class="form-row">
					${input('address.postal_code', t('field.postal_code'), f.address.postal_code, (v) => setAddr('postal_code', v), { autocomplete: 'off' })}
					${input('address.city', t('field.city'), f.address.city, (v) => setAddr('city', v), { autocomplete: 'off' })}
				</div>
				<div class="form-row">
					${input('address.region', t('field.region'), f.address.region, (v) => setAddr('region', v), { autocomplete: 'off' })}
					${input('address.country', t('field.country'), f.address.country, (v) => setAddr('country', v), { autocomplete: 'off' })}
				</div>
			</fieldset>
			<div class="field">
				<label for="cf-notes">${t('field.notes')}</label>
				<textarea id="cf-notes" data-field="notes" rows="3" maxlength="10000" value=${f.notes}
					aria-invalid=${errors.notes ? 'true' : undefined}
					onInput=${(e) => set('notes', e.currentTarget.value)}></textarea>
				${errors.notes ? html`<p class="field-error" role="alert">${errors.notes}</p>` : null}
			</div>
			<div class="actions">
				<button type="submit" class="button primary" disabled=${busy}>${busy ? t('common.saving') : t('common.save')}</button>
				<button type="button" class="button" onClick=${onClose}>${t('common.cancel')}</button>
			</div>
		</form>
	</${Dialog}>`;
}

// ---- import -----------------------------------------------------------------

// ImportButton opens the file picker at once; the chosen file is uploaded
// (duplicates skipped) and the report shown, with the choice to run it
// again updating duplicates or as a check only.
function ImportButton({ onDone }) {
	const input = useRef(null);
	const [file, setFile] = useState(null);
	return html`<button type="button" class="button" onClick=${() => input.current.click()}>${t('contacts.import')}</button>
		<input ref=${input} type="file" class="visually-hidden" tabindex="-1" aria-label=${t('import.file')}
			accept=".csv,.vcf,.vcard,text/csv,text/vcard"
			onChange=${(e) => { const f = e.currentTarget.files[0]; e.currentTarget.value = ''; if (f) setFile(f); }} />
		${file ? html`<${ImportDialog} file=${file} onClose=${() => { setFile(null); onDone(); }} />` : null}`;
}

function ImportDialog({ file, onClose }) {
	const [onDup, setOnDup] = useState('skip');
	const [dryRun, setDryRun] = useState(false);
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState('');
	const [report, setReport] = useState(null);

	const run = async (dup, dry) => {
		setError('');
		setBusy(true);
		setReport(null);
		const vcf = /\.(vcf|vcard)$/i.test(file.name) || /vcard/i.test(file.type);
		try {
			const text = await file.text();
			const r = await request('POST', '/v1/contacts/import.' + (vcf ? 'vcf' : 'csv') + query({ on_duplicate: dup, dry_run: dry ? 'true' : '' }),
				text, { type: vcf ? 'text/vcard; charset=utf-8' : 'text/csv; charset=utf-8' });
			setReport(r);
		} catch (err) {
			setError(err.message);
		} finally {
			setBusy(false);
		}
	};
	useEffect(() => { run('skip', false); }, [file]);

	const again = (e) => {
		e.preventDefault();
		run(onDup, dryRun);
	};
	return html`<${Dialog} title=${t('import.title')} onClose=${onClose}>
		<p class="hint">${t('import.fileName', { name: file.name })}</p>
		${busy ? html`<p role="status">${t('import.busy')}</p>` : null}
		<div role="alert" class="form-error">${error}</div>
		${report ? html`<section class="import-report" aria-labelledby="import-report-title">
			<h3 id="import-report-title">${report.dry_run ? t('import.reportDry') : t('import.report')}</h3>
			<p role="status">${t('import.summary', { imported: report.imported || 0, updated: report.updated || 0, skipped: report.skipped || 0, rejected: (report.errors || []).length + (report.errors_omitted || 0) })}</p>
			${report.created_groups && report.created_groups.length ? html`<p>${t('import.createdGroups', { names: report.created_groups.join(', ') })}</p>` : null}
			<${RowReport} title=${t('import.errors')} rows=${report.errors} omitted=${report.errors_omitted} />
			<${RowReport} title=${t('import.skips')} rows=${report.skips} omitted=${report.skips_omitted} />
		</section>` : null}
		<form onSubmit=${again} class="import-form">
			<h3>${t('import.again')}</h3>
			<div class="field">
				<label for="import-dup">${t('import.onDuplicate')}</label>
				<select id="import-dup" value=${onDup} onChange=${(e) => setOnDup(e.currentTarget.value)}>
					<option value="skip">${t('import.dupSkip')}</option>
					<option value="update">${t('import.dupUpdate')}</option>
				</select>
			</div>
			<label class="check"><input type="checkbox" checked=${dryRun} onChange=${(e) => setDryRun(e.currentTarget.checked)} /> ${t('import.dryRun')}</label>
			<div class="actions">
				<button type="submit" class="button" disabled=${busy}>${t('import.upload')}</button>
				<button type="button" class="button primary" onClick=${onClose}>${t('common.close')}</button>
			</div>
		</form>
	</${Dialog}>`;
}

// RowReport lists rejected or skipped rows, one per line of the file.
function RowReport({ title, rows, omitted }) {
	if (!rows || !rows.length) return null;
	return html`<h4>${title}</h4>
		<ul class="row-report" role="list">
			${rows.map((r, i) => html`<li key=${i} role="listitem">
				<strong>${t('import.lineN', { n: r.line })}</strong>${r.column ? t('import.columnN', { column: r.column }) : ''}: ${r.reason}
			</li>`)}
		</ul>
		${omitted ? html`<p class="hint">${t('import.omitted', { n: omitted })}</p>` : null}`;
}
