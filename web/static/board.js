// The team board (receptionist view): every extension of the domain as a
// tile with its line state, status and note, the ringing caller's name as
// the server allows it, and click-to-call. Only the rows of tiles in view
// are rendered (fixed-height rows in a scroller), so 1,000 extensions stay
// smooth; changes arrive over the app's one event stream.
import { html, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from './lib.js';
import { request as api } from './api.js';
import { subscribe } from './app.js';
import { t } from './strings.js';
import { formatTime } from './ui.js';

// Tile geometry, kept equal to board.css (.board-grid, .tile).
const TILE_MIN_WIDTH = 220;
const ROW_HEIGHT = 112; // tile height plus the row gap
const GAP = 12;
const OVERSCAN_ROWS = 3;
const PRESENCE_CHUNK = 200; // extensions per GET /v1/presence
const PAGE = 500; // contacts per GET /v1/contacts page
const LINES = ['idle', 'ringing', 'in_call', 'on_hold', 'offline'];
const RINGING_CALL = new Set(['trying', 'proceeding', 'early']);

// fold lowers case and drops accents and spacing for search as you type.
export function fold(s) {
  return (s || '').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

function aorOf(entry) {
  const id = entry.contact.id || '';
  return id.startsWith('team:') ? id.slice(5) : '';
}

function nameOf(c) {
  return [c.first_name, c.last_name].filter(Boolean).join(' ') || c.company || '';
}

// caller returns who rings ext, as the presence API names them (the
// server applies the domain's caller-display and privacy rules).
export function callerOf(p) {
  if (!p || p.line !== 'ringing') return '';
  const call = (p.calls || []).find((c) => RINGING_CALL.has(c.state)) || (p.calls || [])[0];
  if (!call || !call.remote) return '';
  if (call.remote.display) return call.remote.display;
  const m = /^(?:sips?|tel):([^@;>]+)/.exec(call.remote.uri || '');
  return m ? m[1] : '';
}

async function loadTeam() {
  const entries = [];
  let cursor = '';
  do {
    const q = new URLSearchParams({ kind: 'team', limit: String(PAGE) });
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', '/v1/contacts?' + q);
    entries.push(...page.items);
    cursor = page.next || '';
  } while (cursor);
  return entries
    .map((e) => {
      const aor = aorOf(e);
      const ext = aor.split('@')[0];
      const name = nameOf(e.contact) || ext;
      return {
        aor, ext, name,
        dept: e.contact.department || '',
        marks: e.marks || [],
        key: fold(`${name} ${ext} ${e.contact.department || ''} ${e.contact.job_title || ''}`),
        brief: e.presence || null,
      };
    })
    .filter((m) => m.aor)
    .sort((a, b) => a.ext.localeCompare(b.ext, undefined, { numeric: true }));
}

async function loadPresence(aors) {
  const out = {};
  for (let i = 0; i < aors.length; i += PRESENCE_CHUNK) {
    const q = new URLSearchParams();
    for (const a of aors.slice(i, i + PRESENCE_CHUNK)) q.append('aor', a);
    const res = await api('GET', '/v1/presence?' + q);
    for (const p of res.items) if (p && p.aor) out[p.aor] = p;
  }
  return out;
}

// eventOf reads the app's stream callback either as (name, data) or as one
// event object ({type|event, data}) with data parsed or as JSON text.
function eventOf(a, b) {
  let name = a, data = b;
  if (a && typeof a === 'object') {
    name = a.type || a.event || a.name;
    data = a.data;
  }
  if (typeof data === 'string') {
    try { data = JSON.parse(data); } catch { data = null; }
  }
  return { name, data };
}

function useColumns(ref) {
  const [cols, setCols] = useState(1);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const measure = () => setCols(Math.max(1, Math.floor((el.clientWidth + GAP) / (TILE_MIN_WIDTH + GAP))));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return cols;
}

function Tile({ m, p, pos, size, onCall }) {
  const line = LINES.includes(p && p.line) ? p.line : 'offline';
  const lineText = t('line.' + line);
  // The server's label where it gives one, as the contacts page shows it.
  const status = p && p.status ? p.status_label || t('status.' + p.status) : '';
  const note = (p && p.note) || '';
  const until = p && p.until && p.status && p.status !== 'offline' ? t('presence.until', { when: formatTime(p.until) }) : '';
  const caller = callerOf(p);
  const label = t('board.tile.name', {
    ext: m.ext, name: m.name, line: lineText,
    caller: caller ? t('board.tile.caller', { caller }) : '',
    status: status && status !== lineText ? `, ${status}` : '', note: (note ? ` (${note})` : '') + (until ? ` ${until}` : ''),
  });
  return html`
    <div role="listitem" class=${'tile line-' + line} aria-label=${label} aria-posinset=${pos} aria-setsize=${size}
         data-aor=${m.aor} data-line=${line}>
      <div class="tile-head">
        <span class="tile-lamp" aria-hidden="true"></span>
        <span class="tile-ext">${m.ext}</span>
        <span class="tile-name" title=${m.name}>${m.name}</span>
      </div>
      <div class="tile-line" title=${caller ? t('board.ringing.from', { caller }) : undefined}>${caller ? t('board.ringing.from', { caller }) : lineText}</div>
      <div class="tile-status">
        <span class=${'tile-status-label status-' + ((p && p.status) || 'offline')}>${status === lineText ? '' : status}</span>
        ${note ? html` <span class="tile-note" title=${note}>· ${note}</span>` : null}
        ${until ? html` <span class="tile-until">${until}</span>` : null}
      </div>
      <button type="button" class="tile-call" aria-label=${t('board.call', { name: m.name, ext: m.ext })}
              onClick=${() => onCall(m)}>${t('board.call.short')}</button>
    </div>`;
}

export function Board(props = {}) {
  const session = props.session || {};
  const [members, setMembers] = useState(null);
  const [presence, setPresence] = useState({});
  const [busy, setBusy] = useState(true); // until the full presence is read
  const [groups, setGroups] = useState([]);
  const [error, setError] = useState('');
  const [q, setQ] = useState('');
  const [group, setGroup] = useState('');
  const [notice, setNotice] = useState('');
  const [scroll, setScroll] = useState({ top: 0, height: 600 });
  const scroller = useRef(null);
  const cols = useColumns(scroller);

  const load = useCallback(async () => {
    setBusy(true);
    try {
      const team = await loadTeam();
      setMembers(team);
      const fresh = await loadPresence(team.map((m) => m.aor));
      // Events that arrived while reading are newer than what was read.
      setPresence((old) => {
        for (const [aor, p] of Object.entries(old)) {
          if (fresh[aor] && p.version > (fresh[aor].version || 0)) fresh[aor] = p;
        }
        return fresh;
      });
      setError('');
    } catch (err) {
      setError(t('board.error', { message: err.message }));
      setMembers((old) => old || []);
    }
    setBusy(false);
  }, []);

  useEffect(() => {
    load();
    api('GET', '/v1/groups').then((r) => setGroups(r.items || []), () => {});
  }, [load]);

  // Live changes: a presence event carries the whole Presence object.
  useEffect(() => subscribe((a, b) => {
    const { name, data } = eventOf(a, b);
    if (name === 'presence' && data && data.aor) {
      setPresence((old) => {
        const cur = old[data.aor];
        if (cur && cur.version && data.version && data.version < cur.version) return old;
        return { ...old, [data.aor]: data };
      });
    } else if (name === 'resync') {
      load(); // re-read what changed while disconnected
    }
  }), [load]);

  const shown = useMemo(() => {
    if (!members) return [];
    const words = fold(q).split(/\s+/).filter(Boolean);
    return members.filter((m) => (!group || m.marks.includes(group)) && words.every((w) => m.key.includes(w)));
  }, [members, q, group]);

  const onScroll = useCallback((e) => setScroll({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight }), []);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) setScroll({ top: el.scrollTop, height: el.clientHeight });
  }, [members]);

  const rows = Math.ceil(shown.length / cols);
  const first = Math.max(0, Math.floor(scroll.top / ROW_HEIGHT) - OVERSCAN_ROWS);
  const last = Math.min(rows, Math.ceil((scroll.top + scroll.height) / ROW_HEIGHT) + OVERSCAN_ROWS);
  const visible = shown.slice(first * cols, last * cols);

  // Arrow keys, Home and End move between the tiles' Call buttons, by
  // rows and columns, scrolling the tile into view (and so into the DOM).
  const pendingFocus = useRef('');
  const focusTile = (aor) => {
    const el = scroller.current && scroller.current.querySelector(`[data-aor="${CSS.escape(aor)}"] .tile-call`);
    if (el) el.focus();
    return !!el;
  };
  useLayoutEffect(() => {
    if (pendingFocus.current && focusTile(pendingFocus.current)) pendingFocus.current = '';
  });
  const onKeyDown = (e) => {
    const item = e.target.closest && e.target.closest('[role="listitem"]');
    if (!item || !e.target.classList.contains('tile-call')) return;
    const i = Number(item.getAttribute('aria-posinset')) - 1;
    let j = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + cols, ArrowUp: i - cols, Home: 0, End: shown.length - 1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    j = Math.max(0, Math.min(shown.length - 1, j));
    const el = scroller.current;
    const top = Math.floor(j / cols) * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    if (!focusTile(shown[j].aor)) {
      pendingFocus.current = shown[j].aor;
      setScroll({ top: el.scrollTop, height: el.clientHeight });
    }
  };

  const onCall = useCallback(async (m) => {
    // The shell toasts the call's later steps (click_to_call events).
    setNotice('');
    try {
      await api('POST', '/v1/calls', { to: m.ext });
      setNotice(t('board.call.started', { to: m.name }));
    } catch (err) {
      setNotice(t('board.call.error', { message: err.message }));
    }
  }, []);

  const shared = groups.filter((g) => !g.builtin || g.id === 'favorite' || g.id === 'vip');

  return html`
    <section class="board" aria-labelledby="board-title">
      <div class="board-bar">
        <h1 id="board-title">${t('board.title')}</h1>
        <input type="search" class="board-search" aria-label=${t('board.search')}
               placeholder=${t('board.search.placeholder')} value=${q} onInput=${(e) => setQ(e.currentTarget.value)} />
        <label class="board-group">
          <span>${t('board.group')}</span>
          <select value=${group} onChange=${(e) => setGroup(e.currentTarget.value)}>
            <option value="">${t('board.group.all')}</option>
            ${shared.map((g) => html`<option value=${g.id}>${g.name}</option>`)}
          </select>
        </label>
        <span class="board-count" aria-live="polite">
          ${members ? t('board.count', { shown: shown.length, total: members.length }) : ''}
        </span>
      </div>
      <p role="status" class="board-notice">${notice}</p>
      ${error ? html`<p role="alert" class="board-error">${error}</p>` : null}
      ${members === null ? html`<p class="board-empty">${t('board.loading')}</p>` : null}
      ${members && members.length === 0 && !error ? html`<p class="board-empty">${t('board.empty')}</p>` : null}
      ${members && members.length > 0 && shown.length === 0
        ? html`<p class="board-empty">${q.trim() ? t('board.nomatch', { q: q.trim() }) : t('board.emptyGroup')}</p>` : null}
      <div class="board-scroll" ref=${scroller} onScroll=${onScroll}>
        <div class="board-space" style=${{ height: rows * ROW_HEIGHT + 'px' }}>
          <div role="list" aria-label=${t('board.list')} aria-busy=${busy ? 'true' : 'false'} class="board-grid" onKeyDown=${onKeyDown}
               style=${{ transform: `translateY(${first * ROW_HEIGHT}px)`, gridTemplateColumns: `repeat(${cols}, minmax(0, 1fr))` }}>
            ${visible.map((m, i) => html`<${Tile} key=${m.aor} m=${m} p=${presence[m.aor] || briefPresence(m)}
                pos=${first * cols + i + 1} size=${shown.length} onCall=${onCall} />`)}
          </div>
        </div>
      </div>
    </section>`;
}

// briefPresence stands in with the contact's own presence summary until
// GET /v1/presence answers.
function briefPresence(m) {
  return m.brief ? { aor: m.aor, ...m.brief } : null;
}

export default Board;
