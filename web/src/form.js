// Create and edit forms, drawn from a model's fields in the schema: one widget per field type
// (tags as removable chips), per-type nested settings (`variants`), required/min/max checks, the
// server's 422 messages inline under each input, If-Match on edits and the 409 "changed by
// someone else" case. Query values pre-fill fields; `next=#/settings/...` is where Save and
// Cancel go (e.g. back to the device page a schedule was created from).
import { request } from './auth.js';
import {
  canWriteHere,
  crumbs,
  displayOf,
  errorText,
  fieldTitle,
  go,
  message,
  modelPlural,
  modelTitle,
  objectHash,
  primeRef,
  rerender,
  SYSTEM_FIELDS,
  valueNode,
} from './catalog.js';
import { h } from './dom.js';

// The secret of a token just created, shown once on its detail page.
let pendingSecret = null;
export function takeSecret(model, id) {
  const s = pendingSecret;
  if (s && s.model === model && String(s.id) === String(id)) {
    pendingSecret = null;
    return s.secret;
  }
  return null;
}

// What the last save did ({model, id, how: 'created' | 'saved'}), for a note on the next page.
let lastSaved = null;
export function takeSaved(model, id) {
  const s = lastSaved;
  lastSaved = null;
  return s && s.model === model && String(s.id) === String(id) ? s.how : null;
}

// A `next` query value (where to go after saving or cancelling): only a Settings hash.
function nextFromQuery(query) {
  const n = query && query.get('next');
  return n && /^#\/settings(\/|$)/.test(n) ? n : null;
}

// String settings that hold a secret are typed into password inputs.
const SECRET_NAME = /(^|_)(password|secret|token)$/;

class FieldError extends Error {}

let uid = 0;
function domId(name) {
  return 'f-' + String(name).replace(/[^A-Za-z0-9_-]/g, '-') + '-' + ++uid;
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// RFC 3339 -> the value of an <input type="datetime-local"> (local time, seconds).
function toLocalInput(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fromLocalInput(v) {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new FieldError('not a valid date and time');
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function same(a, b) {
  const norm = (v) => (v === undefined || v === '' || (Array.isArray(v) && v.length === 0) ? null : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

// A query value (?device=7) as the field's value.
function fromQuery(f, s) {
  switch (f.type) {
    case 'ref':
    case 'int':
    case 'number':
      return s === '' || Number.isNaN(Number(s)) ? undefined : Number(s);
    case 'refs':
      return s.split(',').filter(Boolean).map(Number);
    case 'tags':
      return s.split(',').map((t) => t.trim()).filter(Boolean);
    case 'bool':
      return s === 'true' || s === '1';
    default:
      return s;
  }
}

// Options of ref / refs widgets: GET /api/v1/<ref>?limit=1000 sorted by the display field.
async function loadOptions(schema, fields) {
  const refs = new Set();
  const walk = (list) => {
    for (const f of list) {
      if ((f.type === 'ref' || f.type === 'refs') && f.ref) refs.add(f.ref);
      if (f.variants && f.variants.cases) for (const c of Object.values(f.variants.cases)) walk(c || []);
    }
  };
  walk(fields);
  const out = new Map();
  await Promise.all(
    [...refs].map(async (ref) => {
      const m = schema.byName.get(ref);
      const sort = m && m.display ? `&sort=${encodeURIComponent(m.display)}` : '';
      try {
        const r = await request('GET', `/api/v1/${encodeURIComponent(ref)}?limit=1000${sort}`);
        const list = Array.isArray(r.data) ? r.data : [];
        for (const o of list) primeRef(schema, ref, o);
        out.set(ref, list.map((o) => ({ id: o.id, label: displayOf(m, o) })));
      } catch (e) {
        if (e.status === 401) throw e;
        out.set(ref, { error: errorText(e) });
      }
    }),
  );
  return out;
}

// Whether an entry matching the regular expression `p` may contain a comma: a literal comma, or
// a class / wildcard that matches one (quantifiers like {1,3} do not count). Errs towards yes.
function patternAllowsComma(p) {
  const src = String(p).replace(/\{\d*,\d*\}/g, '');
  const CLASS = /\[(?:\\.|[^\]\\])*\]/g;
  if (src.replace(CLASS, '').includes(',')) return true;
  const atoms = src.match(/\[(?:\\.|[^\]\\])*\]|\\[SWD]|(?<!\\)\./g) || [];
  return atoms.some((a) => {
    try {
      return new RegExp(a).test(',');
    } catch {
      return true;
    }
  });
}

// A list of short strings as chips plus a text input: Enter adds the typed entry (also a comma
// when `commas` is set: plain tags; settings lists such as HTTP headers or plugin arguments may
// contain commas), × or Backspace in the empty input removes one. Text still in the input counts
// as an entry when the form is sent.
function tagsWidget(common, title, value, commas) {
  const items = (Array.isArray(value) ? value : value != null && value !== '' ? [value] : []).map(String);
  const input = h('input', { ...common, type: 'text', autocomplete: 'off', spellcheck: 'false', class: 'tags-text' });
  const list = h('ul', { class: 'tag-chips', 'aria-label': `${title}: entries` });
  const el = h('div', { class: 'tags-input', onclick: (ev) => ev.target === el && input.focus() }, list, input);
  const split = (text) => (commas ? text.split(',') : [text]).map((x) => x.trim()).filter(Boolean);
  const draw = () => {
    list.replaceChildren(
      ...items.map((t, i) =>
        h(
          'li',
          { class: 'chip' },
          h('span', { class: 'chip-text' }, t),
          h(
            'button',
            {
              type: 'button',
              class: 'chip-x',
              'aria-label': `Remove ${t}`,
              onclick: () => {
                items.splice(i, 1);
                draw();
                input.focus();
              },
            },
            '×',
          ),
        ),
      ),
    );
    list.hidden = !items.length;
  };
  const commit = () => {
    for (const t of split(input.value)) if (!items.includes(t)) items.push(t);
    input.value = '';
    draw();
  };
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      commit();
    } else if (ev.key === 'Backspace' && input.value === '' && items.length) {
      items.pop();
      draw();
    }
  });
  if (commas) {
    input.addEventListener('input', () => {
      const v = input.value;
      const cut = v.lastIndexOf(',');
      if (cut < 0) return;
      for (const t of split(v.slice(0, cut))) if (!items.includes(t)) items.push(t);
      input.value = v.slice(cut + 1).trimStart();
      draw();
    });
  }
  input.addEventListener('blur', () => {
    if (input.value.trim()) commit();
  });
  draw();
  const get = () => {
    const all = [...items];
    for (const t of split(input.value)) if (!all.includes(t)) all.push(t);
    return all.length ? all : undefined;
  };
  return { el, input, get };
}

// One field: label, input, hint and error line. Returns {name, field, el, get(), setError(), focus()}.
// get() returns undefined for "no value", throws FieldError for input it cannot convert.
function buildField(f, value, opts) {
  const name = opts.prefix ? `${opts.prefix}.${f.name}` : f.name;
  const id = domId(name);
  const hintId = id + '-hint';
  const errId = id + '-err';
  const common = { id, name, 'aria-required': f.required ? 'true' : null };
  let input;
  let widget = null; // what goes into the page when it is not the input itself
  let get;
  let labelFor = id;
  let control;
  const title = fieldTitle(f);
  let hint = f.help || '';

  switch (f.type) {
    case 'bool': {
      input = h('input', { ...common, type: 'checkbox', checked: !!value });
      get = () => input.checked;
      break;
    }
    case 'enum': {
      const values = f.values || [];
      const cur = value == null ? '' : String(value);
      input = h(
        'select',
        common,
        !f.required || cur === '' ? h('option', { value: '' }, f.required ? '— choose —' : '—') : null,
        values.map((v) => h('option', { value: v, selected: v === cur }, v)),
      );
      get = () => (input.value === '' ? undefined : input.value);
      break;
    }
    case 'ref': {
      const opt = opts.options.get(f.ref);
      const list = Array.isArray(opt) ? opt : [];
      const cur = value == null ? '' : String(value);
      input = h(
        'select',
        common,
        h('option', { value: '' }, f.required ? '— choose —' : '— none —'),
        list.map((o) => h('option', { value: String(o.id), selected: String(o.id) === cur }, o.label)),
      );
      if (cur && !list.some((o) => String(o.id) === cur)) input.append(h('option', { value: cur, selected: true }, `#${cur}`));
      if (opt && opt.error) hint = (hint ? hint + ' ' : '') + `(could not load choices: ${opt.error})`;
      get = () => (input.value === '' ? undefined : Number(input.value));
      break;
    }
    case 'refs': {
      const opt = opts.options.get(f.ref);
      const list = Array.isArray(opt) ? opt : [];
      const cur = new Set((Array.isArray(value) ? value : []).map(String));
      const boxes = list.map((o, i) => {
        const cid = `${id}-${i}`;
        const cb = h('input', { type: 'checkbox', id: cid, value: String(o.id), checked: cur.has(String(o.id)) });
        return { cb, el: h('div', { class: 'check' }, cb, h('label', { for: cid }, o.label)) };
      });
      input = h(
        'fieldset',
        { id, class: 'checklist' },
        h('legend', null, title, f.required ? h('span', { class: 'req', title: 'required' }, ' *') : null),
        boxes.length ? boxes.map((b) => b.el) : h('span', { class: 'none' }, opt && opt.error ? `could not load choices: ${opt.error}` : 'nothing to choose from'),
      );
      labelFor = null;
      get = () => {
        const ids = boxes.filter((b) => b.cb.checked).map((b) => Number(b.cb.value));
        return ids.length ? ids : undefined;
      };
      break;
    }
    case 'tags': {
      // Plain tags split at commas; so do settings lists whose pattern has no room for a comma
      // (status codes), not free-form ones (HTTP headers, plugin arguments, regular expressions).
      const commas = !opts.prefix || (!!f.pattern && !patternAllowsComma(f.pattern));
      const t = tagsWidget(common, title, value, commas);
      input = t.input;
      widget = t.el;
      get = t.get;
      hint = (hint ? hint + ' ' : '') + (commas ? '(comma or Enter after each)' : '(Enter after each entry)');
      break;
    }
    case 'int':
    case 'number': {
      input = h('input', {
        ...common,
        type: 'number',
        inputmode: f.type === 'int' ? 'numeric' : 'decimal',
        step: f.type === 'int' ? '1' : 'any',
        min: f.min,
        max: f.max,
        value: value == null ? '' : String(value),
      });
      get = () => {
        if (input.validity && input.validity.badInput) throw new FieldError('not a number');
        return input.value === '' ? undefined : Number(input.value);
      };
      break;
    }
    case 'time': {
      input = h('input', { ...common, type: 'datetime-local', step: '1', value: toLocalInput(value) });
      get = () => (input.value === '' ? undefined : fromLocalInput(input.value));
      break;
    }
    case 'password': {
      input = h('input', { ...common, type: 'password', autocomplete: 'new-password', value: '' });
      if (opts.edit) {
        input.placeholder = 'unchanged';
        hint = (hint ? hint + ' ' : '') + '(leave empty to keep the current password)';
      }
      get = () => (input.value === '' ? undefined : input.value);
      break;
    }
    case 'object': {
      // Objects without variants: JSON text.
      const text = value == null ? '' : JSON.stringify(value, null, 2);
      input = h('textarea', { ...common, class: 'json', rows: Math.min(14, Math.max(4, text.split('\n').length + 1)), spellcheck: 'false' }, text);
      hint = (hint ? hint + ' ' : '') + '(JSON object)';
      get = () => {
        const t = input.value.trim();
        if (!t) return undefined;
        let v;
        try {
          v = JSON.parse(t);
        } catch (e) {
          throw new FieldError(`not valid JSON: ${e.message}`);
        }
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FieldError('must be a JSON object');
        return v;
      };
      break;
    }
    default: {
      // string, text, duration (and anything unknown) as text.
      const long = f.type === 'text' || f.widget === 'textarea';
      const str = value == null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
      if (long) input = h('textarea', { ...common, rows: 4 }, str);
      else
        input = h('input', {
          ...common,
          type: f.widget === 'password' || (opts.prefix && SECRET_NAME.test(f.name)) ? 'password' : 'text',
          value: str,
          maxlength: f.type === 'string' && f.max ? f.max : null,
          placeholder: f.type === 'duration' ? 'e.g. 30s, 5m, 1h30m' : null,
          spellcheck: f.type === 'string' && f.rule ? 'false' : null,
          autocomplete: opts.prefix && SECRET_NAME.test(f.name) ? 'new-password' : 'off',
        });
      get = () => (input.value === '' ? undefined : input.value);
    }
  }

  const hintNode = hint ? h('div', { class: 'hint', id: hintId }, hint) : null;
  input.setAttribute('aria-describedby', hint ? `${hintId} ${errId}` : errId);
  const errEl = h('div', { class: 'field-error', id: errId, 'aria-live': 'polite' });

  if (labelFor) {
    control = h(
      'div',
      { class: 'field' + (f.type === 'bool' ? ' field-check' : ''), 'data-field': name },
      h(
        'div',
        { class: 'field-head' },
        h('label', { for: labelFor }, title),
        f.required && f.type !== 'bool' ? h('span', { class: 'req', title: 'required' }, '*') : null,
      ),
      widget || input,
      hintNode,
      errEl,
    );
  } else {
    control = h('div', { class: 'field', 'data-field': name }, widget || input, hintNode, errEl);
  }

  const setError = (msg) => {
    errEl.textContent = msg || '';
    control.classList.toggle('invalid', !!msg);
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };

  // Client-side checks: required, min and max only (the server checks the rest).
  const check = () => {
    let v;
    try {
      v = get();
    } catch (e) {
      if (e instanceof FieldError) return e.message;
      throw e;
    }
    if (f.required && f.type !== 'bool' && (v === undefined || (Array.isArray(v) && !v.length))) {
      if (f.type === 'password' && opts.edit) return null;
      return 'required';
    }
    if (v === undefined) return null;
    if ((f.type === 'int' || f.type === 'number') && typeof v === 'number') {
      if (f.min != null && v < f.min) return `must be at least ${f.min}`;
      if (f.max != null && v > f.max) return `must be at most ${f.max}`;
    }
    if ((f.type === 'string' || f.type === 'text' || f.type === 'password') && typeof v === 'string') {
      if (f.min != null && v.length < f.min) return `at least ${f.min} characters`;
      if (f.max != null && v.length > f.max) return `at most ${f.max} characters`;
    }
    return null;
  };

  return {
    name,
    field: f,
    el: control,
    input,
    get,
    check,
    setError,
    focus: () => (labelFor ? input : input.querySelector('input') || input).focus(),
  };
}

// A readonly field in the edit form: shown, not editable.
function readonlyField(schema, f, value) {
  return h(
    'div',
    { class: 'field readonly', 'data-field': f.name },
    h('div', { class: 'field-head' }, h('span', { class: 'label' }, fieldTitle(f)), h('span', { class: 'muted small' }, '(read only)')),
    h('div', { class: 'ro-value' }, valueNode(schema, f, value)),
    f.help ? h('div', { class: 'hint' }, f.help) : null,
  );
}

// The "Settings" fieldset of an object field with variants: the fields of the case chosen by the
// `by` field, redrawn when it changes. Values typed for one case are kept if the user switches
// back to it.
function variantsBlock(f, initial, initialCase, opts) {
  const box = h('div', { class: 'variant-fields' });
  const fs = h('fieldset', { class: 'variants', 'data-field': f.name }, h('legend', null, fieldTitle(f)), f.help ? h('div', { class: 'hint' }, f.help) : null, box);
  const errEl = h('div', { class: 'field-error', 'aria-live': 'polite' });
  fs.append(errEl);
  const kept = new Map(); // case -> {name: value}
  let cur = null; // {case, fields: [built]}

  const snapshot = () => {
    if (!cur) return;
    const vals = {};
    for (const b of cur.fields) {
      try {
        const v = b.get();
        if (v !== undefined) vals[b.field.name] = v;
      } catch {
        /* unparsable input is dropped */
      }
    }
    kept.set(cur.case, vals);
  };

  const draw = (c) => {
    snapshot();
    const cases = (f.variants && f.variants.cases) || {};
    const list = c != null && c !== '' ? cases[c] : null;
    let vals;
    if (kept.has(c)) vals = kept.get(c);
    else if (c === initialCase && initial && typeof initial === 'object') vals = initial;
    else vals = null;
    const fields = (list || []).filter((x) => !x.readonly).map((x) =>
      buildField(x, vals ? vals[x.name] : x.default, { ...opts, prefix: f.name, edit: opts.edit && c === initialCase }),
    );
    cur = { case: c, fields };
    if (c == null || c === '') box.replaceChildren(h('p', { class: 'muted' }, `Choose a ${f.variants.by} first.`));
    else if (!list) box.replaceChildren(h('p', { class: 'muted' }, `No settings are known for “${c}”.`));
    else if (!fields.length) box.replaceChildren(h('p', { class: 'muted' }, `“${c}” has no settings.`));
    else box.replaceChildren(...fields.map((b) => b.el));
  };

  return {
    name: f.name,
    field: f,
    el: fs,
    draw,
    nested: () => (cur ? cur.fields : []),
    get: () => {
      if (!cur || cur.case == null || cur.case === '') return undefined;
      const out = {};
      for (const b of cur.fields) {
        const v = b.get();
        if (v !== undefined) out[b.field.name] = v;
      }
      return out;
    },
    check: () => null,
    setError: (msg) => {
      errEl.textContent = msg || '';
      fs.classList.toggle('invalid', !!msg);
    },
    focus: () => fs.focus(),
  };
}

export async function renderForm(ctx, page, schema, m, id) {
  const edit = id != null;
  const base = `#/settings/${encodeURIComponent(m.name)}`;
  if (!canWriteHere(m)) {
    page.append(crumbs(['Settings', '#/settings'], [modelPlural(m), base], edit ? 'Edit' : 'New'), message('error', `Your role may not change ${modelPlural(m).toLowerCase()}.`));
    return;
  }
  const fields = m.fields.filter((f) => !SYSTEM_FIELDS.includes(f.name));

  let obj = null;
  let etag = null;
  const [loaded, options] = await Promise.all([
    edit ? request('GET', `/api/v1/${encodeURIComponent(m.name)}/${id}`) : null,
    loadOptions(schema, fields),
  ]);
  if (!ctx.alive()) return;
  if (loaded) {
    obj = loaded.data;
    etag = loaded.etag || `"${obj.version}"`;
  }

  // Start values: the object (edit), else defaults overridden by the query (?device=7).
  const start = {};
  for (const f of fields) {
    if (edit) start[f.name] = obj[f.name];
    else {
      start[f.name] = f.default;
      if (ctx.query && ctx.query.has(f.name)) start[f.name] = fromQuery(f, ctx.query.get(f.name));
    }
  }

  const name = edit ? displayOf(m, obj) : null;
  document.title = `${edit ? 'Edit ' + name : 'New ' + modelTitle(m).toLowerCase()} · dashdot`;
  const next = nextFromQuery(ctx.query);
  const backHash = next || (edit ? objectHash(m.name, id) : backFromQuery(schema, m, ctx.query) || base);

  const opts = { options, edit };
  const built = []; // editable widgets (incl. variant blocks)
  const nodes = [];
  const variantBlocks = [];
  for (const f of fields) {
    if (f.readonly) {
      if (edit) nodes.push(readonlyField(schema, f, obj[f.name]));
      continue;
    }
    if (f.type === 'object' && f.variants && f.variants.by && fields.some((x) => x.name === f.variants.by)) {
      const vb = variantsBlock(f, start[f.name], start[f.variants.by], opts);
      variantBlocks.push(vb);
      built.push(vb);
      nodes.push(vb.el);
      continue;
    }
    const b = buildField(f, start[f.name], opts);
    built.push(b);
    nodes.push(b.el);
  }
  // Wire each variant block to its `by` field.
  for (const vb of variantBlocks) {
    const by = built.find((b) => b.name === vb.field.variants.by);
    const current = () => {
      try {
        return by ? by.get() : undefined;
      } catch {
        return undefined;
      }
    };
    vb.draw(by ? current() : start[vb.field.variants.by]);
    if (by) by.input.addEventListener('change', () => vb.draw(current()));
  }
  // Variant blocks go right after their `by` field.
  for (const vb of variantBlocks) {
    const by = built.find((b) => b.name === vb.field.variants.by);
    if (!by) continue;
    nodes.splice(nodes.indexOf(vb.el), 1);
    nodes.splice(nodes.indexOf(by.el) + 1, 0, vb.el);
  }

  const top = h('div', { class: 'form-messages' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, edit ? 'Save' : 'Create');
  const form = h(
    'form',
    { class: 'card form', novalidate: true, 'aria-label': edit ? `Edit ${name}` : `New ${modelTitle(m).toLowerCase()}` },
    top,
    nodes,
    h('div', { class: 'actions' }, submit, h('a', { class: 'btn', href: backHash }, 'Cancel')),
  );

  const all = () => built.flatMap((b) => (b.nested ? [b, ...b.nested()] : [b]));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    top.replaceChildren();
    for (const b of all()) b.setError('');
    // Client checks.
    let first = null;
    for (const b of all()) {
      const msg = b.check();
      if (msg) {
        b.setError(msg);
        first = first || b;
      }
    }
    if (first) {
      top.append(message('error', 'Please correct the marked fields.'));
      first.focus();
      return;
    }
    // Body: everything set (create) or what changed (edit).
    const body = {};
    for (const b of built) {
      const f = b.field;
      const v = b.get();
      if (!edit) {
        if (v !== undefined) body[f.name] = v;
        continue;
      }
      if (f.type === 'password') {
        if (v !== undefined) body[f.name] = v;
        continue;
      }
      if (same(v, obj[f.name])) continue;
      body[f.name] = v !== undefined ? v : clearedValue(f);
    }
    if (edit && !Object.keys(body).length) {
      go(objectHash(m.name, id));
      return;
    }
    submit.disabled = true;
    try {
      let r;
      if (edit) r = await request('PATCH', `/api/v1/${encodeURIComponent(m.name)}/${id}`, body, { ifMatch: etag });
      else r = await request('POST', `/api/v1/${encodeURIComponent(m.name)}`, body);
      const saved = r.data || {};
      if (!edit && saved.secret) pendingSecret = { model: m.name, id: saved.id, secret: saved.secret };
      const savedId = saved.id != null ? saved.id : id;
      lastSaved = { model: m.name, id: savedId, how: edit ? 'saved' : 'created' };
      // A token's secret is shown on its own page only: `next` does not apply then.
      go(next && !(pendingSecret && pendingSecret.model === m.name) ? next : objectHash(m.name, savedId));
    } catch (e) {
      if (!ctx.alive()) return;
      showSubmitError(e, top, all(), m, edit);
    } finally {
      submit.disabled = false;
    }
  });

  page.append(
    crumbs(['Settings', '#/settings'], [modelPlural(m), base], ...(edit ? [[name, objectHash(m.name, id)], 'Edit'] : ['New'])),
    h('div', { class: 'page-head' }, h('h1', null, edit ? `Edit ${name}` : `New ${modelTitle(m).toLowerCase()}`)),
    m.help ? h('p', { class: 'muted help' }, m.help) : '',
    form,
  );
  const firstInput = built.find((b) => b.input && !b.input.disabled);
  if (firstInput) firstInput.focus();
}

// The value that clears a field on edit.
function clearedValue(f) {
  switch (f.type) {
    case 'string':
    case 'text':
      return '';
    case 'tags':
    case 'refs':
      return [];
    case 'bool':
      return false;
    default:
      return null;
  }
}

// "New endpoint" opened from a device page: Cancel goes back there.
function backFromQuery(schema, m, query) {
  if (!query) return null;
  for (const [k, v] of query) {
    const f = m.fields.find((x) => x.name === k && x.type === 'ref');
    if (f && /^\d+$/.test(v) && schema.byName.has(f.ref)) return objectHash(f.ref, v);
  }
  return null;
}

function showSubmitError(e, top, widgets, m, edit) {
  if (e.status === 422 && e.errors && typeof e.errors === 'object') {
    const byName = new Map(widgets.map((b) => [b.name, b]));
    const other = [];
    let first = null;
    for (const [k, msg] of Object.entries(e.errors)) {
      let b = byName.get(k);
      // "settings" itself, or a nested key with no widget: show on the closest block.
      if (!b && k.includes('.')) b = byName.get(k.split('.')[0]);
      if (b) {
        b.setError(b.name === k ? String(msg) : `${k.slice(b.name.length + 1)}: ${msg}`);
        first = first || b;
      } else other.push(`${k}: ${msg}`);
    }
    top.append(message('error', e.message || 'Some fields are invalid.', other.length ? h('ul', null, other.map((t) => h('li', null, t))) : null));
    if (first) first.focus();
    return;
  }
  if (e.status === 409 && edit) {
    const reload = h('button', { type: 'button', class: 'btn', onclick: () => rerender() }, 'Reload');
    top.append(
      message(
        'error',
        `This ${modelTitle(m).toLowerCase()} was changed by someone else since you opened it. Reload to see the current values (your changes here are lost). `,
        h('span', { class: 'small muted' }, `(${e.message})`),
        ' ',
        reload,
      ),
    );
    return;
  }
  if (e.status === 401) {
    top.append(message('error', 'Your session has ended. Log in again in another tab, then save again — or reload this page.'));
    return;
  }
  top.append(message('error', errorText(e)));
}
