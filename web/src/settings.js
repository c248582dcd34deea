// The Settings area: login, model index, list, detail, create/edit (form.js), device page
// (device.js), probe page and probe states (probes.js) and the audit log. Routes (URL hash):
//   #/login  #/settings  #/settings/audit  #/settings/<model>  #/settings/<model>/new
//   #/settings/<model>/<id>  #/settings/<model>/<id>/edit  #/settings/device/<id> (device page)
//   #/settings/probe/<id> (probe page: state, schedules, Test, latency chart)
// Every list, detail and form is drawn from GET /api/v1/schema.
import './settings.css';
import { loadMe, login, request, roleAtLeast, session } from './auth.js';
import {
  canRead,
  canWriteHere,
  clearRefCache,
  closeDialogs,
  crumbs,
  drawDetailHead,
  errorText,
  fieldList,
  fieldOf,
  fieldTitle,
  fmtTime,
  getSchema,
  go,
  message,
  modelPlural,
  modelTitle,
  none,
  objectHash,
  pager,
  primeRef,
  refLink,
  rerender,
  resetSchema,
  valueNode,
} from './catalog.js';
import { renderDevicePage } from './device.js';
import { h } from './dom.js';
import { renderForm, takeSaved, takeSecret } from './form.js';
import { fillStateCells, renderProbePage } from './probes.js';

let drawGen = 0;

// Entry point from main.js: route = {parts: ['settings', ...], query: URLSearchParams}.
export async function render(route, container) {
  const gen = ++drawGen;
  const ctx = { alive: () => gen === drawGen, query: route.query };
  closeDialogs();
  clearRefCache();
  const page = h('div', { class: 'page' });
  container.replaceChildren(page);
  const [top, ...rest] = route.parts;

  if (top === 'login') {
    document.title = 'Log in · dashdot';
    if (session.user) {
      go(route.query.get('next') || '#/settings');
      return;
    }
    loginView(page, () => go(route.query.get('next') || '#/settings'));
    return;
  }
  if (top !== 'settings') {
    notFound(page, 'No such page.');
    return;
  }

  // Settings needs a session: ask /auth/me once per page load (and after any 401).
  if (!session.user) {
    page.append(h('p', { class: 'loading' }, 'loading…'));
    let ok;
    try {
      ok = await loadMe();
    } catch (e) {
      if (!ctx.alive()) return;
      page.replaceChildren(message('error', `Cannot reach the server: ${errorText(e)}`));
      return;
    }
    if (!ctx.alive()) return;
    if (!ok) {
      page.replaceChildren();
      document.title = 'Log in · dashdot';
      loginView(page, rerender);
      return;
    }
  }

  let schema;
  try {
    schema = await getSchema();
  } catch (e) {
    if (ctx.alive()) showError(ctx, page, e);
    return;
  }
  if (!ctx.alive()) return;
  page.replaceChildren();

  try {
    await dispatch(ctx, page, schema, rest);
  } catch (e) {
    if (ctx.alive()) showError(ctx, page, e);
  }
}

async function dispatch(ctx, page, schema, parts) {
  if (parts.length === 0) return indexView(page, schema);
  if (parts[0] === 'audit' && parts.length === 1) return auditView(ctx, page, schema);
  const m = schema.byName.get(parts[0]);
  if (!m) return notFound(page, `There is no model “${parts[0]}”.`);
  if (!canRead(m)) return page.append(message('error', `Your role (${session.role}) may not see ${modelPlural(m).toLowerCase()}.`));
  if (parts.length === 1) return listView(ctx, page, schema, m);
  if (parts.length === 2 && parts[1] === 'new') return renderForm(ctx, page, schema, m, null);
  if (!/^\d+$/.test(parts[1])) return notFound(page, `“${parts[1]}” is not an id.`);
  const id = Number(parts[1]);
  if (parts.length === 2) {
    if (m.name === 'device') return renderDevicePage(ctx, page, schema, m, id);
    if (m.name === 'probe') return renderProbePage(ctx, page, schema, m, id, takeSaved(m.name, id));
    return detailView(ctx, page, schema, m, id);
  }
  if (parts.length === 3 && parts[2] === 'edit') return renderForm(ctx, page, schema, m, id);
  return notFound(page, 'No such page.');
}

function notFound(page, text) {
  document.title = 'Not found · dashdot';
  page.replaceChildren(crumbs(['Settings', '#/settings'], 'Not found'), message('error', text));
}

// A failed request for the whole page: 401 shows the login form (then draws the page again).
export function showError(ctx, page, e) {
  if (e && e.status === 401) {
    page.replaceChildren();
    loginView(page, rerender, 'Your session has ended; log in again.');
    return;
  }
  page.append(message('error', errorText(e)));
}

// ---------------------------------------------------------------- login

function loginView(page, after, note) {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('div', { class: 'msg error', role: 'alert', id: 'login-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'login card', 'aria-labelledby': 'login-title', novalidate: true },
    h('h1', { id: 'login-title' }, 'Log in'),
    h('p', { class: 'muted' }, 'Settings need an account. The dashboard stays open without one.'),
    note ? message('info', note) : null,
    h('div', { class: 'field' }, h('div', { class: 'field-head' }, h('label', { for: 'login-user' }, 'Username')), user),
    h('div', { class: 'field' }, h('div', { class: 'field-head' }, h('label', { for: 'login-pass' }, 'Password')), pass),
    err,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    if (!user.value.trim() || !pass.value) {
      err.textContent = 'Enter a username and a password.';
      err.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      await login(user.value.trim(), pass.value);
      resetSchema();
      after();
    } catch (e) {
      if (e.status === 401) err.textContent = 'Wrong username or password.';
      else if (e.status === 429) err.textContent = `Too many attempts, try again in ${e.retryAfter != null ? e.retryAfter : 'a few'} s.`;
      else err.textContent = errorText(e);
      err.hidden = false;
      pass.select();
    } finally {
      submit.disabled = false;
    }
  });
  page.append(form);
  user.focus();
}

// ---------------------------------------------------------------- index

function indexView(page, schema) {
  document.title = 'Settings · dashdot';
  const cards = schema.models
    .filter((m) => canRead(m))
    .map((m) =>
      h(
        'a',
        { class: 'card model-card', href: `#/settings/${encodeURIComponent(m.name)}` },
        h('h2', null, modelPlural(m)),
        m.help ? h('p', null, m.help) : null,
      ),
    );
  if (roleAtLeast('admin')) {
    cards.push(
      h('a', { class: 'card model-card', href: '#/settings/audit' }, h('h2', null, 'Audit log'), h('p', null, 'Who changed what, and when.')),
    );
  }
  page.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Settings'), h('span', { class: 'muted' }, `logged in as ${session.user.name} (${session.role})`)),
    cards.length ? h('div', { class: 'cards' }, cards) : message('info', 'Nothing to show for your role.'),
  );
}

// ---------------------------------------------------------------- list

const PAGE_SIZE = 50;
const CONTROL = new Set(['sort', 'q', 'limit', 'offset']);

function listColumns(m) {
  const cols = m.fields.filter((f) => f.list && f.type !== 'password');
  if (!cols.some((f) => f.name === 'id')) cols.unshift(fieldOf(m, 'id') || { name: 'id', type: 'int', title: 'ID' });
  return cols;
}

function listView(ctx, page, schema, m) {
  document.title = `${modelPlural(m)} · dashdot`;
  const q = ctx.query;
  const st = {
    sort: q.get('sort') || '',
    q: q.get('q') || '',
    offset: Math.max(0, parseInt(q.get('offset') || '0', 10) || 0),
    limit: Math.min(1000, Math.max(1, parseInt(q.get('limit') || String(PAGE_SIZE), 10) || PAGE_SIZE)),
    filters: new Map(),
  };
  for (const [k, v] of q) if (!CONTROL.has(k) && v !== '') st.filters.set(k, v);
  const cols = listColumns(m);
  const base = `#/settings/${encodeURIComponent(m.name)}`;
  // Probes get a State column (GET /api/v1/probe/<id>/status per row).
  const withState = m.name === 'probe';

  const params = (withPaging) => {
    const p = new URLSearchParams();
    for (const [k, v] of st.filters) p.set(k, v);
    if (st.q) p.set('q', st.q);
    if (st.sort) p.set('sort', st.sort);
    if (withPaging) {
      p.set('limit', String(st.limit));
      p.set('offset', String(st.offset));
    } else {
      if (st.offset) p.set('offset', String(st.offset));
      if (st.limit !== PAGE_SIZE) p.set('limit', String(st.limit));
    }
    return p;
  };
  const syncURL = () => {
    const s = params(false).toString();
    history.replaceState(null, '', base + (s ? '?' + s : ''));
  };

  // Search box and the filters that have no input in the filter row (e.g. ?device=7).
  const search = h('input', { type: 'search', id: 'list-q', value: st.q, placeholder: `Search ${modelPlural(m).toLowerCase()}`, 'aria-label': 'Search' });
  const extra = h('div', { class: 'active-filters' });
  const head = h('thead');
  const body = h('tbody');
  const status = h('div', { class: 'list-status', role: 'status' });
  const pagerBox = h('div');
  const table = h('table', { class: 'data', 'aria-label': modelPlural(m) }, head, body);

  let seq = 0;
  async function load() {
    const my = ++seq;
    status.textContent = 'loading…';
    let r;
    try {
      r = await request('GET', `/api/v1/${encodeURIComponent(m.name)}?${params(true)}`);
    } catch (e) {
      if (!ctx.alive() || my !== seq) return;
      status.textContent = '';
      if (e.status === 401) return showError(ctx, page, e);
      status.replaceChildren(message('error', errorText(e)));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    const rows = Array.isArray(r.data) ? r.data : [];
    const total = Number.isFinite(r.body.total) ? r.body.total : rows.length;
    for (const o of rows) primeRef(schema, m.name, o);
    const stateCells = [];
    body.replaceChildren(
      ...rows.map((o) => {
        const href = objectHash(m.name, o.id);
        let stateTd = null;
        if (withState) {
          stateTd = h('td', { 'data-field': 'state' }, h('span', { class: 'muted small' }, '…'));
          stateCells.push([o.id, stateTd]);
        }
        const tr = h(
          'tr',
          { 'data-id': o.id },
          cols.map((f) => {
            const v = o[f.name];
            const linked = f.name === 'id' || f.name === m.display;
            return h('td', { 'data-field': f.name }, linked ? h('a', { href }, v == null || v === '' ? `#${o.id}` : String(v)) : valueNode(schema, f, v));
          }),
          stateTd,
        );
        tr.addEventListener('click', (ev) => {
          if (ev.target.closest('a, button, input, select')) return;
          go(href);
        });
        return tr;
      }),
    );
    if (stateCells.length) fillStateCells(ctx, stateCells);
    if (!rows.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: cols.length + (withState ? 1 : 0) }, st.filters.size || st.q ? 'Nothing matches.' : `No ${modelPlural(m).toLowerCase()} yet.`)));
    status.textContent = `${total} ${total === 1 ? modelTitle(m).toLowerCase() : modelPlural(m).toLowerCase()}`;
    pagerBox.replaceChildren(
      total > st.limit || st.offset
        ? pager(total, st.limit, st.offset, (off) => {
            st.offset = off;
            syncURL();
            load();
          })
        : '',
    );
  }

  let timer = 0;
  const changed = (now) => {
    clearTimeout(timer);
    const run = () => {
      st.offset = 0;
      syncURL();
      load();
    };
    if (now) run();
    else timer = setTimeout(run, 300);
  };

  search.addEventListener('input', () => {
    st.q = search.value.trim();
    changed(false);
  });

  function drawHead() {
    const sortName = st.sort.replace(/^-/, '');
    const desc = st.sort.startsWith('-');
    const titles = h(
      'tr',
      null,
      cols.map((f) => {
        const active = sortName === f.name;
        if (['refs', 'tags', 'object'].includes(f.type)) return h('th', { scope: 'col' }, fieldTitle(f));
        const btn = h(
          'button',
          {
            type: 'button',
            class: 'sort' + (active ? ' active' : ''),
            onclick: () => {
              st.sort = active && !desc ? '-' + f.name : f.name;
              drawHead();
              changed(true);
            },
          },
          fieldTitle(f),
          h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ''),
        );
        return h('th', { scope: 'col', 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none' }, btn);
      }),
    );
    if (withState) titles.append(h('th', { scope: 'col' }, 'State'));
    head.replaceChildren(titles, filterRow);
  }

  const filterRow = h(
    'tr',
    { class: 'filters' },
    cols.map((f) => h('td', null, filterInput(f))),
    withState ? h('td') : null,
  );

  function filterable(f) {
    return ['enum', 'bool', 'string', 'text', 'duration', 'tags'].includes(f.type) && f.name !== 'id';
  }

  function filterInput(f) {
    if (!filterable(f)) return '';
    const label = `Filter ${fieldTitle(f)}`;
    const cur = st.filters.get(f.name) || '';
    if (f.type === 'enum' || f.type === 'bool') {
      const values = f.type === 'bool' ? ['true', 'false'] : f.values || [];
      const sel = h(
        'select',
        { 'aria-label': label },
        h('option', { value: '' }, 'any'),
        values.map((v) => h('option', { value: v, selected: v === cur }, f.type === 'bool' ? (v === 'true' ? 'yes' : 'no') : v)),
      );
      sel.addEventListener('change', () => {
        if (sel.value) st.filters.set(f.name, sel.value);
        else st.filters.delete(f.name);
        changed(true);
      });
      return sel;
    }
    const inp = h('input', { type: 'text', value: cur, 'aria-label': label, placeholder: f.type === 'tags' ? 'tag' : 'filter (* glob)' });
    inp.addEventListener('input', () => {
      const v = inp.value.trim();
      if (v) st.filters.set(f.name, v);
      else st.filters.delete(f.name);
      changed(false);
    });
    return inp;
  }

  // Filters from the URL that the filter row does not show (refs, ints...): removable chips.
  function drawExtra() {
    const shown = new Set(cols.filter(filterable).map((f) => f.name));
    const items = [];
    for (const [k, v] of st.filters) {
      if (shown.has(k)) continue;
      const f = fieldOf(m, k) || { name: k, type: 'string' };
      const val = f.type === 'ref' || f.type === 'refs' ? refLink(schema, f.ref, v) : v;
      items.push(
        h(
          'span',
          { class: 'chip filter-chip' },
          `${fieldTitle(f)}: `,
          val,
          h(
            'button',
            {
              type: 'button',
              class: 'chip-x',
              'aria-label': `Remove filter ${fieldTitle(f)}`,
              onclick: () => {
                st.filters.delete(k);
                drawExtra();
                changed(true);
              },
            },
            '×',
          ),
        ),
      );
    }
    extra.replaceChildren(...items);
  }

  drawHead();
  drawExtra();
  const canNew = canWriteHere(m);
  page.append(
    crumbs(['Settings', '#/settings'], modelPlural(m)),
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, modelPlural(m)),
      h('div', { class: 'spacer' }),
      canNew ? h('a', { class: 'btn primary', href: `${base}/new${newQuery(m, st.filters)}` }, `New ${modelTitle(m).toLowerCase()}`) : null,
    ),
    m.help ? h('p', { class: 'muted help' }, m.help) : '',
    h('div', { class: 'toolbar' }, search, extra, h('div', { class: 'spacer' }), status),
    h('div', { class: 'table-wrap' }, table),
    pagerBox,
  );
  load();
}

// A "New" link from a list filtered by a reference pre-fills that reference.
function newQuery(m, filters) {
  const p = new URLSearchParams();
  for (const [k, v] of filters) {
    const f = fieldOf(m, k);
    if (f && f.type === 'ref' && /^\d+$/.test(v)) p.set(k, v);
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// ---------------------------------------------------------------- detail

async function detailView(ctx, page, schema, m, id) {
  const r = await request('GET', `/api/v1/${encodeURIComponent(m.name)}/${id}`);
  if (!ctx.alive()) return;
  const obj = r.data;
  drawDetailHead(page, schema, m, obj);
  const secret = takeSecret(m.name, obj.id);
  if (secret) page.append(secretBox(secret));
  page.append(h('section', { class: 'card' }, fieldList(schema, m, obj)));
}

// The secret of a just-created token: shown once, with a copy button.
function secretBox(secret) {
  const input = h('input', { id: 'secret', class: 'secret', readonly: true, value: secret, spellcheck: 'false' });
  const done = h('span', { class: 'muted', role: 'status' });
  const copy = h('button', { type: 'button', class: 'btn primary' }, 'Copy');
  copy.addEventListener('click', async () => {
    input.select();
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(secret);
      else if (!document.execCommand('copy')) throw new Error('copy refused');
      done.textContent = 'copied';
    } catch {
      done.textContent = 'select the text and copy it by hand';
    }
  });
  return h(
    'section',
    { class: 'card secret-box', 'aria-labelledby': 'secret-title' },
    h('h2', { id: 'secret-title' }, 'Token secret'),
    h('p', { class: 'warn' }, 'This secret is shown only once. Copy it now: it cannot be shown again (create a new token if it is lost).'),
    h('div', { class: 'secret-row' }, h('label', { for: 'secret', class: 'sr-only' }, 'Token secret'), input, copy, done),
  );
}

// ---------------------------------------------------------------- audit log

function auditView(ctx, page, schema) {
  document.title = 'Audit log · dashdot';
  page.append(crumbs(['Settings', '#/settings'], 'Audit log'), h('div', { class: 'page-head' }, h('h1', null, 'Audit log')));
  if (!roleAtLeast('admin')) {
    page.append(message('error', 'Only admins may read the audit log.'));
    return;
  }
  const q = ctx.query;
  const st = {
    model: q.get('model') || '',
    actor: q.get('actor') || '',
    object: q.get('object') || '',
    offset: Math.max(0, parseInt(q.get('offset') || '0', 10) || 0),
    limit: PAGE_SIZE,
  };
  const modelSel = h(
    'select',
    { id: 'audit-model' },
    h('option', { value: '' }, 'any'),
    schema.models.map((m) => h('option', { value: m.name, selected: m.name === st.model }, modelTitle(m))),
  );
  const actor = h('input', { id: 'audit-actor', value: st.actor });
  const object = h('input', { id: 'audit-object', value: st.object, inputmode: 'numeric', size: 6 });
  const body = h('tbody');
  const status = h('div', { class: 'list-status', role: 'status' });
  const pagerBox = h('div');

  const params = (paging) => {
    const p = new URLSearchParams();
    if (st.model) p.set('model', st.model);
    if (st.actor) p.set('actor', st.actor);
    if (st.object) p.set('object', st.object);
    if (paging) p.set('limit', String(st.limit));
    if (paging || st.offset) p.set('offset', String(st.offset));
    return p;
  };
  let seq = 0;
  async function load() {
    const my = ++seq;
    const s = params(false).toString();
    history.replaceState(null, '', '#/settings/audit' + (s ? '?' + s : ''));
    status.textContent = 'loading…';
    let r;
    try {
      r = await request('GET', `/api/v1/audit?${params(true)}`);
    } catch (e) {
      if (!ctx.alive() || my !== seq) return;
      status.replaceChildren(message('error', errorText(e)));
      return;
    }
    if (!ctx.alive() || my !== seq) return;
    const rows = Array.isArray(r.data) ? r.data : [];
    const total = Number.isFinite(r.body.total) ? r.body.total : rows.length;
    body.replaceChildren(
      ...rows.map((a) => {
        const m = schema.byName.get(a.model);
        const obj = a.object == null ? none() : m && a.action !== 'delete' ? h('a', { href: objectHash(a.model, a.object) }, `#${a.object}`) : `#${a.object}`;
        return h(
          'tr',
          null,
          h('td', null, h('time', { datetime: a.ts, title: a.ts }, fmtTime(a.ts))),
          h('td', null, a.actor || ''),
          h('td', null, a.action || ''),
          h('td', null, m ? modelTitle(m) : a.model || ''),
          h('td', null, obj),
          h('td', null, changesList(a.changes)),
        );
      }),
    );
    if (!rows.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: 6 }, 'No entries.')));
    status.textContent = `${total} ${total === 1 ? 'entry' : 'entries'}`;
    pagerBox.replaceChildren(
      total > st.limit || st.offset
        ? pager(total, st.limit, st.offset, (off) => {
            st.offset = off;
            load();
          })
        : '',
    );
  }
  let timer = 0;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      st.model = modelSel.value;
      st.actor = actor.value.trim();
      st.object = object.value.trim();
      st.offset = 0;
      load();
    }, 250);
  };
  modelSel.addEventListener('change', changed);
  actor.addEventListener('input', changed);
  object.addEventListener('input', changed);
  page.append(
    h(
      'div',
      { class: 'toolbar' },
      h('label', { for: 'audit-model' }, 'Model'),
      modelSel,
      h('label', { for: 'audit-actor' }, 'Actor'),
      actor,
      h('label', { for: 'audit-object' }, 'Object id'),
      object,
      h('div', { class: 'spacer' }),
      status,
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'data', 'aria-label': 'Audit log' },
        h('thead', null, h('tr', null, ['Time', 'Actor', 'Action', 'Model', 'Object', 'Changes'].map((t) => h('th', { scope: 'col' }, t)))),
        body,
      ),
    ),
    pagerBox,
  );
  load();
}

function changesList(changes) {
  if (!changes || typeof changes !== 'object') return none();
  const items = Object.entries(changes).map(([k, v]) => {
    const [before, after] = Array.isArray(v) ? v : [undefined, v];
    return h(
      'li',
      null,
      h('span', { class: 'change-key' }, k),
      ': ',
      h('span', { class: 'before' }, plainText(before)),
      ' → ',
      h('span', { class: 'after' }, plainText(after)),
    );
  });
  return items.length ? h('ul', { class: 'changes' }, items) : none();
}

export function plainText(v) {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
