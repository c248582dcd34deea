// The device page (#/settings/device/<id>): the device's fields, its endpoints and the probes on
// them (with links that open the endpoint / probe form pre-filled with the reference; each probe
// as a card with its state per vantage point, schedules, Test and latency chart, see probes.js),
// its last events (live, events.js), its inventory as readable tables, and the inventory history
// with a "what changed" view.
import { request } from './auth.js';
import {
  canRead,
  canWriteHere,
  displayOf,
  drawDetailHead,
  errorText,
  fieldList,
  fieldTitle,
  fmtTime,
  isEmpty,
  kvTable,
  message,
  modelPlural,
  modelTitle,
  none,
  objectHash,
  plainValue,
  valueNode,
} from './catalog.js';
import { h } from './dom.js';
import { deviceEventsCard } from './events.js';
import { fmtBytes } from './format.js';
import { probeCard } from './probes.js';

export async function renderDevicePage(ctx, page, schema, m, id) {
  const r = await request('GET', `/api/v1/device/${id}`);
  if (!ctx.alive()) return;
  const dev = r.data;
  drawDetailHead(page, schema, m, dev);

  const endpointsBox = h('section', { class: 'card', 'aria-labelledby': 'endpoints-title' });
  const invBox = h('section', { class: 'card', 'aria-labelledby': 'inventory-title' });
  const histBox = h('section', { class: 'card', 'aria-labelledby': 'history-title' });
  const eventsBox = h('section', { class: 'card device-events', 'aria-labelledby': 'events-title' });
  page.append(h('section', { class: 'card', 'aria-label': 'Device fields' }, fieldList(schema, m, dev)), endpointsBox, eventsBox, invBox, histBox);

  const epModel = schema.byName.get('endpoint');
  const probeModel = schema.byName.get('probe');
  if (epModel && canRead(epModel)) drawEndpoints(ctx, endpointsBox, schema, dev, epModel, probeModel);
  else endpointsBox.remove();
  deviceEventsCard(ctx, eventsBox, dev);
  drawInventory(ctx, invBox, dev);
  drawHistory(ctx, histBox, dev);
}

// ---------------------------------------------------------------- endpoints and probes

function listFields(m, skip) {
  return m.fields.filter((f) => f.list && f.type !== 'password' && !skip.includes(f.name));
}

function refFieldTo(m, target) {
  const f = m.fields.find((x) => x.type === 'ref' && x.ref === target);
  return f ? f.name : target;
}

async function drawEndpoints(ctx, box, schema, dev, epModel, probeModel) {
  const devField = refFieldTo(epModel, 'device');
  const canAddEp = canWriteHere(epModel);
  box.append(
    h(
      'div',
      { class: 'section-head' },
      h('h2', { id: 'endpoints-title' }, modelPlural(epModel)),
      h('div', { class: 'spacer' }),
      canAddEp
        ? h('a', { class: 'btn', href: `#/settings/endpoint/new?${devField}=${dev.id}` }, `Add ${modelTitle(epModel).toLowerCase()}`)
        : null,
    ),
  );
  const body = h('div', { class: 'endpoints' }, h('p', { class: 'loading' }, 'loading…'));
  box.append(body);
  let eps;
  try {
    const r = await request('GET', `/api/v1/endpoint?${devField}=${dev.id}&limit=1000`);
    eps = Array.isArray(r.data) ? r.data : [];
  } catch (e) {
    if (ctx.alive()) body.replaceChildren(message('error', errorText(e)));
    return;
  }
  if (!ctx.alive()) return;
  if (!eps.length) {
    body.replaceChildren(h('p', { class: 'muted' }, `No ${modelPlural(epModel).toLowerCase()} yet.`));
    return;
  }
  const epCols = listFields(epModel, [devField]);
  const showProbes = probeModel && canRead(probeModel);
  const epField = showProbes ? refFieldTo(probeModel, 'endpoint') : null;
  const canAddProbe = showProbes && canWriteHere(probeModel);

  body.replaceChildren(
    ...eps.map((ep) => {
      const name = displayOf(epModel, ep);
      const probesBox = h('div', { class: 'probes' });
      const card = h(
        'div',
        { class: 'endpoint', 'data-id': ep.id },
        h(
          'div',
          { class: 'endpoint-head' },
          h('a', { class: 'endpoint-name', href: objectHash('endpoint', ep.id) }, name),
          h(
            'span',
            { class: 'endpoint-meta' },
            epCols
              .filter((f) => f.name !== epModel.display && !isEmpty(ep[f.name]))
              .map((f) => h('span', { class: 'meta-item', title: fieldTitle(f) }, valueNode(schema, f, ep[f.name]))),
          ),
          h('div', { class: 'spacer' }),
          canAddProbe
            ? h(
                'a',
                { class: 'btn small', href: `#/settings/probe/new?${epField}=${ep.id}`, 'aria-label': `Add ${modelTitle(probeModel).toLowerCase()} to ${name}` },
                `Add ${modelTitle(probeModel).toLowerCase()}`,
              )
            : null,
        ),
        showProbes ? probesBox : null,
      );
      if (showProbes) loadProbes(ctx, probesBox, schema, ep, probeModel, epField, objectHash('device', dev.id));
      return card;
    }),
  );
}

// The probes of one endpoint as probe cards (probes.js): state per vantage point, schedules,
// Test (editors) and the latency chart, polled while the page is shown.
async function loadProbes(ctx, box, schema, ep, probeModel, epField, back) {
  let list;
  try {
    const r = await request('GET', `/api/v1/probe?${epField}=${ep.id}&limit=1000&sort=${encodeURIComponent(probeModel.display || 'id')}`);
    list = Array.isArray(r.data) ? r.data : [];
  } catch (e) {
    if (ctx.alive()) box.replaceChildren(message('error', errorText(e)));
    return;
  }
  if (!ctx.alive()) return;
  if (!list.length) {
    box.replaceChildren(h('p', { class: 'muted small' }, `No ${modelPlural(probeModel).toLowerCase()} on this endpoint.`));
    return;
  }
  // One slot per probe, in list order, filled as each card is ready.
  const slots = list.map((p) =>
    h('div', { class: 'probe-slot', 'data-probe': p.id }, h('a', { href: objectHash('probe', p.id) }, displayOf(probeModel, p)), h('span', { class: 'loading small' }, ' loading…')),
  );
  box.replaceChildren(h('div', { class: 'probe-cards', role: 'list', 'aria-label': `${modelPlural(probeModel)} on ${displayOf(schema.byName.get('endpoint'), ep)}` }, slots));
  list.forEach(async (p, i) => {
    try {
      const card = await probeCard(ctx, schema, p, { title: true, back });
      if (!ctx.alive()) return;
      card.setAttribute('role', 'listitem');
      slots[i].replaceWith(card);
    } catch (e) {
      if (ctx.alive()) slots[i].append(message('error', errorText(e)));
    }
  });
}

// ---------------------------------------------------------------- inventory

// GET /device/<id>/inventory answers the latest document and its time; accept the document at
// data.inventory / data.document / data.doc, or data itself.
function splitInventory(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const ts = data.ts || data.time || data.received_at || data.updated_at || data.created_at || null;
  for (const k of ['inventory', 'document', 'doc']) {
    if (data[k] && typeof data[k] === 'object') return { doc: data[k], ts };
  }
  const doc = { ...data };
  for (const k of ['ts', 'time', 'received_at', 'id', 'device']) if (typeof doc[k] !== 'object') delete doc[k];
  return Object.keys(doc).length ? { doc, ts } : null;
}

async function drawInventory(ctx, box, dev) {
  box.append(h('div', { class: 'section-head' }, h('h2', { id: 'inventory-title' }, 'Inventory')));
  const body = h('div', null, h('p', { class: 'loading' }, 'loading…'));
  box.append(body);
  let inv;
  try {
    const r = await request('GET', `/api/v1/device/${dev.id}/inventory`);
    inv = splitInventory(r.data);
  } catch (e) {
    if (!ctx.alive()) return;
    if (e.status === 404) inv = null;
    else {
      body.replaceChildren(message('error', errorText(e)));
      return;
    }
  }
  if (!ctx.alive()) return;
  if (!inv) {
    body.replaceChildren(h('p', { class: 'muted', 'data-empty': 'inventory' }, 'No inventory yet: it arrives once an agent runs on this device.'));
    return;
  }
  body.replaceChildren(...inventoryView(inv.doc, inv.ts));
}

const yesNo = (v) => (v == null ? null : v ? 'yes' : 'no');
const bytes = (v) => (v == null || v === '' ? null : fmtBytes(Number(v)));
const join = (...xs) => xs.filter((x) => x != null && x !== '').join(' ');

function rowsTable(label, rows) {
  const tr = rows.filter(([, v]) => !isEmpty(v)).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v instanceof Node ? v : String(v))));
  return tr.length ? h('table', { class: 'kv inv', 'aria-label': label }, h('tbody', null, tr)) : null;
}

function listTable(title, items, cols) {
  if (!Array.isArray(items) || !items.length) return null;
  return h(
    'div',
    { class: 'inv-block' },
    h('h3', null, title),
    h(
      'table',
      { class: 'data compact', 'aria-label': title },
      h('thead', null, h('tr', null, cols.map(([t]) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        null,
        items.map((it) =>
          h(
            'tr',
            null,
            cols.map(([, fn]) => {
              const v = fn(it || {});
              return h('td', null, isEmpty(v) ? none() : v instanceof Node ? v : String(v));
            }),
          ),
        ),
      ),
    ),
  );
}

const KNOWN = new Set([
  'hostname', 'machine_id', 'boot_time', 'os', 'kernel', 'arch', 'cpu', 'memory', 'disks', 'filesystems',
  'interfaces', 'virtualization', 'container', 'cloud', 'dmi',
]);

function inventoryView(d, ts) {
  const os = d.os || {};
  const k = d.kernel || {};
  const cpu = d.cpu || {};
  const mem = d.memory || {};
  const virt = d.virtualization || {};
  const ct = d.container || {};
  const cloud = d.cloud || {};
  const dmi = d.dmi || {};
  const cpuCount = [
    cpu.sockets != null ? `${cpu.sockets} socket${cpu.sockets === 1 ? '' : 's'}` : null,
    cpu.cores != null ? `${cpu.cores} cores` : null,
    cpu.threads != null ? `${cpu.threads} threads` : null,
    cpu.mhz ? `${cpu.mhz} MHz` : null,
  ].filter(Boolean).join(', ');
  const system = rowsTable('System', [
    ['Hostname', d.hostname],
    ['OS', os.pretty || join(os.name, os.version)],
    ['Kernel', join(k.release, k.version ? `(${k.version})` : '')],
    ['Architecture', d.arch],
    ['Boot time', d.boot_time ? fmtTime(d.boot_time) : null],
    ['Machine ID', d.machine_id ? h('code', null, d.machine_id) : null],
    ['CPU', join(cpu.model, cpu.vendor && !String(cpu.model || '').includes(cpu.vendor) ? `(${cpu.vendor})` : '')],
    ['CPU count', cpuCount],
    ['Memory', bytes(mem.total_bytes)],
    ['Swap', bytes(mem.swap_bytes)],
    ['Virtualization', virt.role && virt.role !== 'none' ? join(virt.role, virt.type ? `(${virt.type})` : '') : virt.role === 'none' ? 'bare metal' : null],
    ['Container', ct.inside != null ? (ct.inside ? 'runs inside a container' : 'not in a container') : null],
    ['Container runtimes', Array.isArray(ct.runtimes) ? ct.runtimes.join(', ') : null],
    ['Cloud', cloud.provider ? join(cloud.provider, cloud.instance_type ? `· ${cloud.instance_type}` : '', cloud.instance_id ? `· ${cloud.instance_id}` : '') : null],
    ['Hardware', join(dmi.sys_vendor, dmi.product_name)],
    ['Product UUID', dmi.product_uuid],
    ['Asset tag', dmi.board_asset_tag],
  ]);
  const out = [];
  if (ts) out.push(h('p', { class: 'muted small' }, 'Reported ', h('time', { datetime: ts, title: ts }, fmtTime(ts))));
  if (system) out.push(h('div', { class: 'inv-block' }, h('h3', null, 'System'), system));
  const disks = listTable('Disks', d.disks, [
    ['Name', (x) => x.name],
    ['Model', (x) => x.model],
    ['Serial', (x) => x.serial],
    ['Size', (x) => bytes(x.size_bytes)],
    ['Type', (x) => (x.rotational == null ? null : x.rotational ? 'HDD' : 'SSD')],
  ]);
  const fss = listTable('Filesystems', d.filesystems, [
    ['Mount point', (x) => x.mountpoint],
    ['Device', (x) => x.device],
    ['Type', (x) => x.type],
    ['Size', (x) => bytes(x.size_bytes)],
  ]);
  const ifs = listTable('Interfaces', d.interfaces, [
    ['Name', (x) => x.name],
    ['MAC', (x) => x.mac],
    ['MTU', (x) => x.mtu],
    ['Speed', (x) => (x.speed_mbps ? `${x.speed_mbps} Mb/s` : null)],
    ['Addresses', (x) => (Array.isArray(x.addresses) ? x.addresses.join(', ') : x.addresses)],
  ]);
  for (const t of [disks, fss, ifs]) if (t) out.push(t);
  const rest = Object.fromEntries(Object.entries(d).filter(([key]) => !KNOWN.has(key)));
  if (Object.keys(rest).length) out.push(h('div', { class: 'inv-block' }, h('h3', null, 'Other'), kvTable(rest)));
  if (!out.length) out.push(h('p', { class: 'muted' }, 'The inventory is empty.'));
  return out;
}

// ---------------------------------------------------------------- inventory history and diff

async function drawHistory(ctx, box, dev) {
  box.append(h('div', { class: 'section-head' }, h('h2', { id: 'history-title' }, 'Inventory history')));
  const body = h('div', null, h('p', { class: 'loading' }, 'loading…'));
  box.append(body);
  let list;
  try {
    const r = await request('GET', `/api/v1/device/${dev.id}/inventory/history`);
    list = Array.isArray(r.data) ? r.data : r.data && Array.isArray(r.data.history) ? r.data.history : [];
  } catch (e) {
    if (!ctx.alive()) return;
    if (e.status === 404) list = [];
    else {
      body.replaceChildren(message('error', errorText(e)));
      return;
    }
  }
  if (!ctx.alive()) return;
  if (list.length < 2) {
    body.replaceChildren(
      h('p', { class: 'muted' }, list.length ? `One inventory, reported ${fmtTime(list[0].ts)}; nothing to compare yet.` : 'No inventory history yet.'),
    );
    return;
  }
  // Newest first.
  list = [...list].sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts) || (b.id || 0) - (a.id || 0));
  const opt = (sel) => list.map((e, i) => h('option', { value: e.ts, selected: i === sel }, `${fmtTime(e.ts)}${i === 0 ? ' (latest)' : ''}`));
  const from = h('select', { id: 'inv-from' }, opt(1));
  const to = h('select', { id: 'inv-to' }, opt(0));
  const out = h('div', { class: 'diff', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'btn' }, 'Show changes');
  const form = h(
    'form',
    { class: 'toolbar' },
    h('label', { for: 'inv-from' }, 'From'),
    from,
    h('label', { for: 'inv-to' }, 'To'),
    to,
    btn,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    out.replaceChildren(h('p', { class: 'loading' }, 'loading…'));
    try {
      const q = new URLSearchParams({ from: from.value, to: to.value });
      const r = await request('GET', `/api/v1/device/${dev.id}/inventory/diff?${q}`);
      if (!ctx.alive()) return;
      const changes = Array.isArray(r.data) ? r.data : r.data && Array.isArray(r.data.changes) ? r.data.changes : [];
      out.replaceChildren(diffTable(changes));
    } catch (e) {
      if (ctx.alive()) out.replaceChildren(message('error', errorText(e)));
    } finally {
      btn.disabled = false;
    }
  });
  body.replaceChildren(h('p', { class: 'muted small' }, `${list.length} recorded inventories. Pick two to see what changed.`), form, out);
}

function diffTable(changes) {
  if (!changes.length) return h('p', { class: 'muted' }, 'No differences.');
  return h(
    'table',
    { class: 'data compact', 'aria-label': 'Inventory changes' },
    h('thead', null, h('tr', null, ['What', 'Before', 'After'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      null,
      changes.map((c) =>
        h(
          'tr',
          null,
          h('td', null, h('code', null, String(c.path))),
          h('td', { class: 'before' }, c.before === undefined ? none() : plainValue(c.before)),
          h('td', { class: 'after' }, c.after === undefined ? none() : plainValue(c.after)),
        ),
      ),
    ),
  );
}
