// The administrator's pages (users:admin): users with their SIP and web
// passwords and numbers, company contacts, shared groups and API keys of
// the session's domain.
import { html, useCallback, useEffect, useState } from './lib.js';
import { request as api } from './api.js';
import { t } from './strings.js';

// USERS_SHOWN is how many users the table shows at first and per "more".
const USERS_SHOWN = 50;

function formData(e) {
  e.preventDefault();
  const form = e.currentTarget;
  return [form, Object.fromEntries(new FormData(form).entries())];
}

// useList loads a list and reloads it on demand.
function useList(load) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState('');
  const reload = useCallback(() => load().then((x) => { setItems(x); setError(''); },
    (err) => { setItems((old) => old || []); setError(t('admin.error', { message: err.message })); }), [load]);
  useEffect(() => { reload(); }, [reload]);
  return [items, error, reload];
}

function Field({ scope, name, label, type = 'text', required, value, autocomplete, minlength }) {
  const id = `admin-${scope}-${name}`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} name=${name} type=${type} required=${required} defaultValue=${value} autocomplete=${autocomplete || 'off'}
           minlength=${minlength} />
  </div>`;
}

function Notice({ msg }) {
  return html`<p role="status" class="admin-notice">${msg}</p>`;
}

function ErrorLine({ msg }) {
  return msg ? html`<p role="alert" class="admin-error">${msg}</p>` : null;
}

function depsText(body) {
  const d = body.dependents || {};
  const s = body.subscriptions || {};
  const parts = [];
  if (d.personal_contacts) parts.push(t('admin.users.dep.personal', { n: d.personal_contacts }));
  if (d.own_groups) parts.push(t('admin.users.dep.own_groups', { n: d.own_groups }));
  if (d.marked_by) parts.push(t('admin.users.dep.marked_by', { n: d.marked_by }));
  if (d.shared_groups && d.shared_groups.length) parts.push(t('admin.users.dep.shared', { groups: d.shared_groups.join(', ') }));
  if (s.watched_by) parts.push(t('admin.users.dep.watched', { n: s.watched_by }));
  if (s.watching) parts.push(t('admin.users.dep.watching', { n: s.watching }));
  return parts.join('; ');
}

function Users({ domain, csrf }) {
  const load = useCallback(() => api('GET', '/v1/users').then((r) => r.items || []), []);
  const [users, error, reload] = useList(load);
  const [editing, setEditing] = useState(null);
  const [confirm, setConfirm] = useState(null);
  const [msg, setMsg] = useState('');
  const [formErr, setFormErr] = useState('');
  const [filter, setFilter] = useState('');
  const [limit, setLimit] = useState(USERS_SHOWN);
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const matching = (users || []).filter((x) => {
    const hay = `${x.extension} ${x.first_name || ''} ${x.last_name || ''} ${x.did || ''} ${x.mobile || ''}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
  const shown = matching.slice(0, limit);

  const save = async (e) => {
    const [form, v] = formData(e);
    const ext = (editing ? editing.extension : v.extension || '').trim();
    const aor = ext.includes('@') ? ext : `${ext}@${domain}`;
    const body = {};
    for (const k of ['first_name', 'last_name', 'email', 'department', 'did', 'mobile']) body[k] = (v[k] || '').trim();
    if (!body.email) delete body.email;
    if (v.sip_password) body.sip_password = v.sip_password;
    if (v.web_password) body.web_password = v.web_password;
    body.admin = v.admin === 'on';
    try {
      await api('PUT', '/v1/users/' + encodeURIComponent(aor), body);
      setMsg(t('admin.users.saved', { aor }));
      setFormErr('');
      setEditing(null);
      form.reset();
      reload();
    } catch (err) {
      setFormErr(t('admin.error', { message: err.message }));
    }
  };

  // The 409 answer's body lists what would go with the user, which
  // api.js's errors do not carry: this one request reads it itself.
  const del = async (aor, confirmed) => {
    try {
      const res = await fetch('/v1/users/' + encodeURIComponent(aor) + (confirmed ? '?confirm=true' : ''), {
        method: 'DELETE', credentials: 'same-origin', cache: 'no-store',
        headers: { Accept: 'application/json', 'X-CSRF-Token': csrf || '' },
      });
      const body = await res.json().catch(() => ({}));
      if (res.status === 409 && !confirmed) {
        const what = depsText(body);
        setConfirm({ aor, text: what ? t('admin.users.confirm', { aor, what }) : t('admin.users.confirm.none', { aor }) });
        return;
      }
      if (!res.ok) throw new Error((body.error && body.error.message) || t('error.status', { status: res.status }));
      setConfirm(null);
      setMsg(t('admin.users.deleted', { aor }));
      reload();
    } catch (err) {
      setMsg(t('admin.error', { message: err.message }));
    }
  };

  const u = editing || {};
  return html`<section class="admin-section" aria-labelledby="admin-users">
    <h2 id="admin-users">${t('admin.users')}</h2>
    <${Notice} msg=${msg} />
    <${ErrorLine} msg=${error} />
    ${users && users.length === 0 ? html`<p class="admin-empty">${t('admin.users.empty')}</p>` : null}
    ${users && users.length > 0 ? html`<input type="search" class="admin-filter" aria-label=${t('admin.users.search')}
      placeholder=${t('admin.users.search')} value=${filter} onInput=${(e) => { setFilter(e.currentTarget.value); setLimit(USERS_SHOWN); }} />` : null}
    ${users && users.length > 0 ? html`<div class="admin-table-wrap"><table class="admin-table">
      <thead><tr><th scope="col">${t('admin.users.ext')}</th><th scope="col">${t('admin.users.name')}</th>
        <th scope="col" class="narrow-hide">${t('admin.users.numbers')}</th><th scope="col" class="narrow-hide">${t('admin.users.sip')}</th>
        <th scope="col" class="narrow-hide">${t('admin.users.web')}</th>
        <th scope="col">${t('admin.users.actions')}</th></tr></thead>
      <tbody>${shown.map((x) => html`<tr key=${x.aor}>
        <td>${x.extension}</td><td>${[x.first_name, x.last_name].filter(Boolean).join(' ')}</td>
        <td class="narrow-hide">${[x.did, x.mobile].filter(Boolean).join(', ')}</td>
        <td class="narrow-hide">${x.sip_credentials ? t('admin.users.sip.set') : t('admin.users.sip.unset')}</td>
        <td class="narrow-hide">${x.web_password ? t('admin.users.sip.set') : t('admin.users.sip.unset')}${x.admin ? ', ' + t('admin.users.admin.short') : ''}</td>
        <td class="admin-actions">
          <button type="button" aria-label=${t('admin.users.edit', { ext: x.extension })} onClick=${() => setEditing(x)}>${t('admin.edit')}</button>
          <button type="button" class="danger" aria-label=${t('admin.users.delete', { ext: x.extension })} onClick=${() => del(x.aor, false)}>${t('admin.delete')}</button>
        </td></tr>`)}</tbody></table></div>` : null}
    ${matching.length > shown.length ? html`<p><button type="button" onClick=${() => setLimit(limit + USERS_SHOWN)}>
      ${t('admin.users.more', { n: matching.length - shown.length })}</button></p>` : null}
    ${confirm ? html`<div role="alertdialog" aria-labelledby="admin-confirm-text" class="admin-confirm">
      <p id="admin-confirm-text">${confirm.text}</p>
      <button type="button" class="danger" onClick=${() => del(confirm.aor, true)}>${t('admin.users.confirm.yes', { aor: confirm.aor })}</button>
      <button type="button" onClick=${() => setConfirm(null)}>${t('admin.cancel')}</button>
    </div>` : null}
    <form class="admin-form" onSubmit=${save} key=${u.aor || 'new'} aria-labelledby="admin-user-form">
      <h3 id="admin-user-form">${editing ? t('admin.users.form.edit', { ext: u.extension }) : t('admin.users.form')}</h3>
      ${editing ? null : html`<${Field} scope="user" name="extension" label=${t('admin.users.ext')} required />`}
      <${Field} scope="user" name="first_name" label=${t('admin.users.first_name')} value=${u.first_name} />
      <${Field} scope="user" name="last_name" label=${t('admin.users.last_name')} value=${u.last_name} />
      <${Field} scope="user" name="email" type="email" label=${t('admin.users.email')} value=${u.email} />
      <${Field} scope="user" name="department" label=${t('admin.users.department')} value=${u.department} />
      <${Field} scope="user" name="did" type="tel" label=${t('admin.users.did')} value=${u.did} />
      <${Field} scope="user" name="mobile" type="tel" label=${t('admin.users.mobile')} value=${u.mobile} />
      <${Field} scope="user" name="sip_password" type="password" label=${t('admin.users.sip_password')} autocomplete="new-password" minlength="8" />
      <${Field} scope="user" name="web_password" type="password" label=${t('admin.users.web_password')} autocomplete="new-password" />
      <div class="field field-check"><label><input type="checkbox" name="admin" defaultChecked=${!!u.admin} />
        ${t('admin.users.admin')}</label></div>
      <${ErrorLine} msg=${formErr} />
      <div class="admin-buttons">
        <button type="submit" class="primary">${t('admin.users.save')}</button>
        ${editing ? html`<button type="button" onClick=${() => setEditing(null)}>${t('admin.cancel')}</button>` : null}
      </div>
    </form>
  </section>`;
}

function Company() {
  const load = useCallback(async () => {
    const out = [];
    let cursor = '';
    do {
      const q = new URLSearchParams({ kind: 'company', limit: '500' });
      if (cursor) q.set('cursor', cursor);
      const page = await api('GET', '/v1/contacts?' + q);
      out.push(...page.items);
      cursor = page.next || '';
    } while (cursor && out.length < 5000);
    return out.map((e) => e.contact);
  }, []);
  const [items, error, reload] = useList(load);
  const [msg, setMsg] = useState('');
  const [formErr, setFormErr] = useState('');

  const add = async (e) => {
    const [form, v] = formData(e);
    const body = { kind: 'company' };
    for (const k of ['first_name', 'last_name', 'company']) if (v[k].trim()) body[k] = v[k].trim();
    if (v.phone.trim()) body.phones = [{ type: 'work', number: v.phone.trim() }];
    if (v.email.trim()) body.emails = [v.email.trim()];
    try {
      await api('POST', '/v1/contacts', body);
      setMsg(t('admin.company.added'));
      setFormErr('');
      form.reset();
      reload();
    } catch (err) {
      setFormErr(t('admin.error', { message: err.message }));
    }
  };
  const del = async (c) => {
    try {
      await api('DELETE', '/v1/contacts/' + encodeURIComponent(c.id), undefined, { headers: { 'If-Match': '*' } });
      setMsg(t('admin.company.deleted'));
      reload();
    } catch (err) {
      setMsg(t('admin.error', { message: err.message }));
    }
  };
  const label = (c) => [c.first_name, c.last_name].filter(Boolean).join(' ') || c.company;
  return html`<section class="admin-section" aria-labelledby="admin-company">
    <h2 id="admin-company">${t('admin.company')}</h2>
    <${Notice} msg=${msg} />
    <${ErrorLine} msg=${error} />
    ${items && items.length === 0 ? html`<p class="admin-empty">${t('admin.company.empty')}</p>` : null}
    ${items && items.length > 0 ? html`<ul class="admin-list">${items.map((c) => html`<li key=${c.id}>
      <span>${label(c)}${c.company && label(c) !== c.company ? ` (${c.company})` : ''}
        ${(c.phones || []).map((p) => html` <span class="admin-muted">${p.number}</span>`)}</span>
      <button type="button" class="danger" onClick=${() => del(c)}>${t('admin.company.delete', { name: label(c) })}</button>
    </li>`)}</ul>` : null}
    <form class="admin-form" onSubmit=${add} aria-labelledby="admin-company-form">
      <h3 id="admin-company-form">${t('admin.company.form')}</h3>
      <${Field} scope="company" name="first_name" label=${t('admin.company.first_name')} />
      <${Field} scope="company" name="last_name" label=${t('admin.company.last_name')} />
      <${Field} scope="company" name="company" label=${t('admin.company.company')} />
      <${Field} scope="company" name="phone" type="tel" label=${t('admin.company.phone')} />
      <${Field} scope="company" name="email" type="email" label=${t('admin.company.email')} />
      <${ErrorLine} msg=${formErr} />
      <div class="admin-buttons"><button type="submit" class="primary">${t('admin.company.add')}</button></div>
    </form>
  </section>`;
}

function SharedGroups() {
  const load = useCallback(() => api('GET', '/v1/groups').then((r) => (r.items || []).filter((g) => (g.id || '').startsWith('shared:'))), []);
  const [items, error, reload] = useList(load);
  const [msg, setMsg] = useState('');
  const [formErr, setFormErr] = useState('');
  const add = async (e) => {
    const [form, v] = formData(e);
    try {
      const g = await api('POST', '/v1/shared-groups', { name: v.name.trim() });
      setMsg(t('admin.groups.added', { name: g.name }));
      setFormErr('');
      form.reset();
      reload();
    } catch (err) {
      setFormErr(t('admin.error', { message: err.message }));
    }
  };
  const del = async (g) => {
    try {
      await api('DELETE', '/v1/groups/' + encodeURIComponent(g.id));
      setMsg(t('admin.groups.deleted'));
      reload();
    } catch (err) {
      setMsg(t('admin.error', { message: err.message }));
    }
  };
  return html`<section class="admin-section" aria-labelledby="admin-groups">
    <h2 id="admin-groups">${t('admin.groups')}</h2>
    <${Notice} msg=${msg} />
    <${ErrorLine} msg=${error} />
    ${items && items.length === 0 ? html`<p class="admin-empty">${t('admin.groups.empty')}</p>` : null}
    ${items && items.length > 0 ? html`<ul class="admin-list">${items.map((g) => html`<li key=${g.id}>
      <span>${g.name}</span>
      <button type="button" class="danger" onClick=${() => del(g)}>${t('admin.groups.delete', { name: g.name })}</button>
    </li>`)}</ul>` : null}
    <form class="admin-form admin-inline" onSubmit=${add}>
      <${Field} scope="group" name="name" label=${t('admin.groups.name')} required />
      <${ErrorLine} msg=${formErr} />
      <div class="admin-buttons"><button type="submit" class="primary">${t('admin.groups.add')}</button></div>
    </form>
  </section>`;
}

// ADMIN_SCOPES are what an admin key may hold; a key gets those of the
// session's own scopes (nobody mints more than they hold).
const ADMIN_SCOPES = ['users:admin', 'company:write', 'lookup'];

function Keys({ domain, scopes }) {
  // A PBX key's scope is lookup: offered only to sessions that hold it.
  const kinds = scopes.includes('lookup') ? ['user', 'pbx', 'admin'] : ['user', 'admin'];
  const load = useCallback(() => api('GET', '/v1/keys').then((r) => r.items || []), []);
  const [items, error, reload] = useList(load);
  const [msg, setMsg] = useState('');
  const [formErr, setFormErr] = useState('');
  const [secret, setSecret] = useState('');
  const [kind, setKind] = useState('user');

  const mint = async (e) => {
    const [form, v] = formData(e);
    let body;
    if (kind === 'pbx') body = { pbx: true, domain, scopes: ['lookup'] };
    else if (kind === 'admin') body = { admin: true, domain, scopes: ADMIN_SCOPES.filter((x) => scopes.includes(x)) };
    else {
      const user = (v.user || '').trim();
      body = { user: user.includes('@') ? user : `${user}@${domain}`, scopes: ['contacts:personal', 'company:read'] };
    }
    try {
      const k = await api('POST', '/v1/keys', body);
      setSecret(k.key);
      setFormErr('');
      form.reset();
      reload();
    } catch (err) {
      setFormErr(t('admin.error', { message: err.message }));
    }
  };
  const revoke = async (k) => {
    try {
      await api('DELETE', '/v1/keys/' + encodeURIComponent(k.id));
      setMsg(t('admin.keys.revoked', { id: k.id }));
      reload();
    } catch (err) {
      setMsg(t('admin.error', { message: err.message }));
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setMsg(t('admin.keys.copied'));
    } catch { /* the key stays selectable in the box */ }
  };
  return html`<section class="admin-section" aria-labelledby="admin-keys">
    <h2 id="admin-keys">${t('admin.keys')}</h2>
    <${Notice} msg=${msg} />
    <${ErrorLine} msg=${error} />
    ${secret ? html`<div class="admin-secret" role="region" aria-labelledby="admin-secret-label">
      <p id="admin-secret-label">${t('admin.keys.secret')}</p>
      <output class="admin-secret-value" aria-labelledby="admin-secret-label">${secret}</output>
      <div class="admin-buttons">
        <button type="button" onClick=${copy}>${t('admin.keys.copy')}</button>
        <button type="button" onClick=${() => setSecret('')}>${t('admin.keys.done')}</button>
      </div>
    </div>` : null}
    ${items && items.length === 0 ? html`<p class="admin-empty">${t('admin.keys.empty')}</p>` : null}
    ${items && items.length > 0 ? html`<div class="admin-table-wrap"><table class="admin-table">
      <thead><tr><th scope="col">${t('admin.keys.id')}</th><th scope="col">${t('admin.keys.kind')}</th>
        <th scope="col" class="narrow-hide">${t('admin.keys.user')}</th><th scope="col" class="narrow-hide">${t('admin.keys.scopes')}</th>
        <th scope="col" class="narrow-hide">${t('admin.keys.created')}</th><th scope="col">${t('admin.users.actions')}</th></tr></thead>
      <tbody>${items.map((k) => html`<tr key=${k.id}>
        <td><code>${k.id}</code></td><td>${k.kind}</td><td class="narrow-hide">${k.user || k.domain || ''}</td>
        <td class="narrow-hide">${(k.scopes || []).join(', ')}</td><td class="narrow-hide">${(k.created || '').slice(0, 10)}</td>
        <td><button type="button" class="danger" onClick=${() => revoke(k)}>${t('admin.keys.revoke', { id: k.id })}</button></td>
      </tr>`)}</tbody></table></div>` : null}
    <form class="admin-form" onSubmit=${mint} aria-labelledby="admin-key-form">
      <h3 id="admin-key-form">${t('admin.keys.form')}</h3>
      <fieldset class="admin-kinds">
        <legend>${t('admin.keys.kind')}</legend>
        ${kinds.map((k) => html`<label key=${k}>
          <input type="radio" name="kind" value=${k} checked=${kind === k} onChange=${() => setKind(k)} />
          ${t('admin.keys.kind.' + k)}</label>`)}
      </fieldset>
      ${kind === 'user' ? html`<${Field} scope="key" name="user" label=${t('admin.keys.for')} required />` : null}
      <${ErrorLine} msg=${formErr} />
      <div class="admin-buttons"><button type="submit" class="primary">${t('admin.keys.mint')}</button></div>
    </form>
  </section>`;
}

export function Admin(props = {}) {
  const session = props.session || {};
  if (!session.admin) {
    return html`<section class="admin"><h1>${t('admin.title')}</h1><p role="alert">${t('admin.forbidden')}</p></section>`;
  }
  const domain = session.domain;
  return html`<section class="admin" aria-labelledby="admin-title">
    <h1 id="admin-title">${t('admin.title')}</h1>
    <p class="admin-muted">${t('admin.domain', { domain })}</p>
    <${Users} domain=${domain} csrf=${session.csrf_token} />
    <${Company} />
    <${SharedGroups} />
    <${Keys} domain=${domain} scopes=${session.scopes || []} />
    <section class="admin-section" aria-labelledby="admin-settings">
      <h2 id="admin-settings">${t('admin.settings')}</h2>
      <p>${t('admin.settings.none')}</p>
    </section>
  </section>`;
}

export default Admin;
