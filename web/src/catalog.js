// Shared pieces of the Settings area: the schema (GET /api/v1/schema), names and titles, how a
// field's value is shown, links to referenced objects, messages, the delete dialog, a pager.
// Everything model-specific comes from the schema; nothing here knows a model by name.
import { request, roleAtLeast, session } from './auth.js';
import { h } from './dom.js';

export const SYSTEM_FIELDS = ['id', 'version', 'created_at', 'updated_at'];

// ---------------------------------------------------------------- navigation

export function go(hash) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}

// Draws the current route again (main.js routes on hashchange).
export function rerender() {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function objectHash(model, id) {
  return `#/settings/${encodeURIComponent(model)}/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------- schema

let schemaPromise = null;

export function getSchema() {
  if (!schemaPromise) {
    schemaPromise = request('GET', '/api/v1/schema').then(
      (r) => normalizeSchema(r.data),
      (e) => {
        schemaPromise = null;
        throw e;
      },
    );
  }
  return schemaPromise;
}

export function resetSchema() {
  schemaPromise = null;
}

function normalizeSchema(data) {
  const models = (data && Array.isArray(data.models) ? data.models : []).map((m) => ({
    ...m,
    fields: Array.isArray(m.fields) ? m.fields : [],
  }));
  const byName = new Map(models.map((m) => [m.name, m]));
  return { version: data && data.version, models, byName };
}

export function humanize(name) {
  const s = String(name || '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fieldTitle(f) {
  return f.title || humanize(f.name);
}

export function modelTitle(m) {
  return m.title || humanize(m.name);
}

export function modelPlural(m) {
  return m.plural || modelTitle(m) + 's';
}

export function canRead(m) {
  return roleAtLeast(m.read || 'viewer');
}

export function canWrite(m) {
  return roleAtLeast(m.write || 'admin');
}

export function fieldOf(m, name) {
  return m.fields.find((f) => f.name === name) || null;
}

// The field that names an object in links and headings (the model's "display").
export function displayOf(m, obj) {
  if (!obj) return '';
  const key = m && m.display;
  const v = key ? obj[key] : null;
  if (v != null && v !== '') return String(v);
  return `${m ? modelTitle(m) : 'object'} #${obj.id}`;
}

// ---------------------------------------------------------------- referenced objects

// Display names of referenced objects, fetched once per page draw (cleared on each route).
const refCache = new Map();

export function clearRefCache() {
  refCache.clear();
}

export function refName(schema, refModel, id) {
  const key = `${refModel}/${id}`;
  let p = refCache.get(key);
  if (!p) {
    const m = schema.byName.get(refModel);
    p = request('GET', `/api/v1/${encodeURIComponent(refModel)}/${encodeURIComponent(id)}`).then(
      (r) => displayOf(m, r.data),
      (e) => (e.status === 404 ? `#${id} (missing)` : `#${id}`),
    );
    refCache.set(key, p);
  }
  return p;
}

// Seeds the cache with objects already loaded (lists, selects), saving requests.
export function primeRef(schema, refModel, obj) {
  if (!obj || obj.id == null) return;
  refCache.set(`${refModel}/${obj.id}`, Promise.resolve(displayOf(schema.byName.get(refModel), obj)));
}

export function refLink(schema, refModel, id) {
  const a = h('a', { href: objectHash(refModel, id), class: 'ref' }, `#${id}`);
  refName(schema, refModel, id).then((name) => {
    a.textContent = name;
  });
  return a;
}

// ---------------------------------------------------------------- values

function pad(n) {
  return String(n).padStart(2, '0');
}

export function fmtTime(s) {
  if (s == null || s === '') return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function isEmpty(v) {
  return v == null || v === '' || (Array.isArray(v) && v.length === 0);
}

export function none() {
  return h('span', { class: 'none' }, '—');
}

export function chips(list) {
  return h('span', { class: 'chips' }, list.map((t) => h('span', { class: 'chip' }, String(t))));
}

function scalarText(v) {
  if (v == null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// An object as a key/value table (nested objects as nested tables, arrays of scalars joined).
export function kvTable(obj) {
  const rows = Object.entries(obj || {}).map(([k, v]) =>
    h('tr', null, h('th', { scope: 'row' }, k), h('td', null, plainValue(v))),
  );
  if (!rows.length) return none();
  return h('table', { class: 'kv' }, h('tbody', null, rows));
}

export function plainValue(v) {
  if (isEmpty(v)) return none();
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) {
    if (v.every((x) => x == null || typeof x !== 'object')) return v.map(scalarText).join(', ');
    return h('code', { class: 'json' }, JSON.stringify(v));
  }
  if (typeof v === 'object') return kvTable(v);
  return String(v);
}

// How a field's value is shown in lists and details.
export function valueNode(schema, f, v) {
  if (f.type === 'bool') return v == null ? none() : v ? 'yes' : 'no';
  if (isEmpty(v)) return none();
  switch (f.type) {
    case 'ref':
      return refLink(schema, f.ref, v);
    case 'refs':
      return h(
        'span',
        { class: 'refs' },
        (Array.isArray(v) ? v : [v]).flatMap((id, i) => (i ? [', ', refLink(schema, f.ref, id)] : [refLink(schema, f.ref, id)])),
      );
    case 'tags':
      return chips(Array.isArray(v) ? v : [v]);
    case 'time':
      return h('time', { datetime: String(v), title: String(v) }, fmtTime(v));
    case 'object':
      return typeof v === 'object' ? kvTable(v) : String(v);
    case 'text':
      return h('div', { class: 'text-value' }, String(v));
    case 'password':
      return '••••••';
    default:
      return scalarText(v);
  }
}

// ---------------------------------------------------------------- messages

export function message(kind, text, ...extra) {
  return h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text, ...extra);
}

// A readable sentence for an error answer.
export function errorText(e) {
  if (!e) return 'unknown error';
  if (e.status === 403) return `Not allowed for your role (${session.role || 'none'}): ${e.message}`;
  return e.message || String(e);
}

export function crumbs(...items) {
  const out = [];
  items.forEach((it, i) => {
    if (i) out.push(h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/'));
    out.push(Array.isArray(it) ? h('a', { href: it[1] }, it[0]) : h('span', { 'aria-current': 'page' }, it));
  });
  return h('nav', { class: 'crumbs', 'aria-label': 'breadcrumb' }, out);
}

// ---------------------------------------------------------------- pager

export function pager(total, limit, offset, onPage) {
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return h(
    'div',
    { class: 'pager' },
    h('span', { class: 'pager-text', 'data-total': total }, `${from}–${to} of ${total}`),
    h('button', { type: 'button', class: 'btn', disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, 'Previous'),
    h('button', { type: 'button', class: 'btn', disabled: offset + limit >= total, onclick: () => onPage(offset + limit) }, 'Next'),
  );
}

// ---------------------------------------------------------------- delete dialog

export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog.dialog')) {
    if (d.open) d.close();
    d.remove();
  }
}

// Asks before deleting obj; on success calls done(). A 409 (still referenced) is shown in the
// dialog, which stays open so the user can read it.
export function confirmDelete(schema, m, obj, done) {
  closeDialogs();
  const name = displayOf(m, obj);
  const titleId = `dlg-title-${Date.now()}`;
  const err = h('div', { class: 'msg error', role: 'alert', hidden: true });
  const cancel = h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, 'Cancel');
  const del = h('button', { type: 'button', class: 'btn danger' }, 'Delete');
  // Objects whose `ref` to this model cascades go with it (a `refs` link only loses the entry).
  const cascades = schema.models.flatMap((other) =>
    other.fields.filter((f) => f.type === 'ref' && f.ref === m.name && f.on_delete === 'cascade').map(() => modelPlural(other).toLowerCase()),
  );
  const dlg = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Delete ${modelTitle(m).toLowerCase()} “${name}”?`),
    h(
      'p',
      null,
      'This cannot be undone.',
      cascades.length ? ` ${humanize([...new Set(cascades)].join(', '))} referring to it are deleted with it.` : '',
    ),
    err,
    h('div', { class: 'actions' }, cancel, del),
  );
  del.addEventListener('click', async () => {
    del.disabled = true;
    cancel.disabled = true;
    err.hidden = true;
    try {
      await request('DELETE', `/api/v1/${encodeURIComponent(m.name)}/${encodeURIComponent(obj.id)}`);
      dlg.close();
      done();
    } catch (e) {
      err.textContent =
        e.status === 409 ? `Cannot delete: ${e.message}` : e.status === 401 ? 'Your session has ended; log in again.' : errorText(e);
      err.hidden = false;
    } finally {
      del.disabled = false;
      cancel.disabled = false;
    }
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  cancel.focus();
}

// ---------------------------------------------------------------- detail fields

// The readable fields of obj as a description list (passwords are never output).
export function fieldList(schema, m, obj, opts = {}) {
  const skip = new Set(opts.skip || []);
  const rows = [];
  const seen = new Set();
  for (const f of m.fields) {
    seen.add(f.name);
    if (f.type === 'password' || skip.has(f.name) || SYSTEM_FIELDS.includes(f.name)) continue;
    rows.push(h('div', { class: 'dl-row', 'data-field': f.name }, h('dt', null, fieldTitle(f)), h('dd', null, valueNode(schema, f, obj[f.name]))));
  }
  const sys = [];
  for (const k of SYSTEM_FIELDS) {
    if (obj[k] == null) continue;
    const f = fieldOf(m, k) || { name: k, type: k.endsWith('_at') ? 'time' : 'int' };
    sys.push(h('div', { class: 'dl-row', 'data-field': k }, h('dt', null, fieldTitle(f)), h('dd', null, valueNode(schema, f, obj[k]))));
  }
  return h('div', { class: 'fields' }, h('dl', { class: 'dl' }, rows), sys.length ? h('dl', { class: 'dl sys' }, sys) : null);
}

export function canWriteHere(m) {
  return !!session.user && canWrite(m);
}

// Extra cards some models' detail pages get under the heading, loaded on first use.
const DETAIL_EXTRAS = { sensor: () => import('./sensors.js') };

// Heading with Edit and Delete (shared with the device page); for models in DETAIL_EXTRAS also
// their own cards (a sensor's status and "How to send").
export function drawDetailHead(page, schema, m, obj, opts = {}) {
  const name = displayOf(m, obj);
  document.title = `${name} · ${modelPlural(m)} · dashdot`;
  const canEdit = canWriteHere(m);
  const del = h('button', { type: 'button', class: 'btn danger' }, 'Delete');
  del.addEventListener('click', () =>
    confirmDelete(schema, m, obj, () => go(opts.afterDelete || `#/settings/${encodeURIComponent(m.name)}`)),
  );
  page.append(
    crumbs(['Settings', '#/settings'], [modelPlural(m), `#/settings/${encodeURIComponent(m.name)}`], name),
    h(
      'div',
      { class: 'page-head', 'data-object': `${m.name}/${obj.id}` },
      h('h1', null, name),
      h('span', { class: 'muted' }, `${modelTitle(m)} #${obj.id}`),
      h('div', { class: 'spacer' }),
      canEdit ? h('a', { class: 'btn', href: `${objectHash(m.name, obj.id)}/edit` }, 'Edit') : null,
      canEdit ? del : null,
    ),
  );
  const extra = DETAIL_EXTRAS[m.name];
  if (extra) {
    const slot = h('div', { class: 'detail-extras' }, h('p', { class: 'loading' }, 'loading…'));
    page.append(slot);
    extra().then(
      (mod) => mod.renderDetailExtras(slot, schema, m, obj),
      (e) => slot.replaceChildren(message('error', `Could not load this part of the page: ${e.message}`)),
    );
  }
}
