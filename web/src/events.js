// Events (what sensors received: syslog, webhooks, traps): the events page (#/events — filters, a
// stacked severity-rate chart from dashdot_events_total, the list newest first with paging by
// cursor and a live tail over SSE, and the "Unknown senders" tab with Adopt) and the Events card
// of the device page. Events are hostile input: every string they carry goes into the page as
// text (h() makes text nodes), never as markup.
//   GET /api/v1/events?from=&to=&device=&sensor=&severity=&kind=&q=&limit=&cursor=
//   GET /api/v1/events/live?device=&sensor=&severity=&kind=    (SSE, "event" messages)
//   GET /api/v1/events/unknown      POST /api/v1/events/adopt
import uPlot from 'uplot';
import './settings.css';
import './events.css';
import { parseValue, queryRange, selector, serverClock } from './api.js';
import { loadMe, request, session } from './auth.js';
import { canRead, canWriteHere, errorText, fmtTime, getSchema, kvTable, message, none, objectHash } from './catalog.js';
import { h, setText } from './dom.js';

export const SEVERITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];
export const SEV_COLOR = {
  emergency: '#b8104a',
  alert: '#e0226e',
  critical: '#f2495c',
  error: '#ff7a45',
  warning: '#fade2a',
  notice: '#b877d9',
  info: '#5794f2',
  debug: '#8e99ad',
};
const KINDS = ['syslog', 'alert', 'notification', 'generic', 'trap', 'change'];
const RANGES = { '1h': 3600, '24h': 86400, '7d': 7 * 86400 };
const PAGE = 100;
const KEEP = 1000; // rows kept on the events page (live rows push the oldest out)
const CARD_KEEP = 20; // rows on the device page's card
const RECONNECT_DELAY = 5000; // ms before reopening a stream the browser gave up on
const CHART_EVERY = 30000;
const STALE_STREAM_MS = 45000; // no message nor keep-alive for this long: say so

// ---------------------------------------------------------------- small pieces

export function severityBadge(sev) {
  const s = SEVERITIES.includes(sev) ? sev : 'info';
  return h('span', { class: `sev-badge sev-${s}`, 'data-severity': s, title: `severity: ${sev || 'info'}` }, sev || 'info');
}

function statusChip(status) {
  if (status !== 'firing' && status !== 'resolved') return null;
  return h('span', { class: `alert-status ${status}`, 'data-status': status }, status);
}

function isoOf(ms) {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

// "2025-12-07 14:03:11.042" (local time, with milliseconds: syslog bursts share a second).
export function fmtEventTime(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n)) return '';
  return `${fmtTime(n)}.${String(((n % 1000) + 1000) % 1000).padStart(3, '0')}`;
}

function timeEl(ms, cls) {
  return h('time', { class: cls, datetime: isoOf(ms), title: isoOf(ms) }, fmtEventTime(ms));
}

function senderText(e) {
  if (e.device && e.device.name != null) return String(e.device.name);
  const who = e.source || e.host || '';
  return who ? `unknown ${who}` : 'unknown';
}

function fmtAge(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  const s = Math.max(0, ms / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
export { fmtAge };

function dl(rows) {
  const items = rows
    .filter(([, v]) => v != null && v !== '' && v !== false)
    .map(([k, v]) => h('div', { class: 'dl-row' }, h('dt', null, k), h('dd', null, v)));
  return h('dl', { class: 'dl ev-meta' }, items);
}

// The full record under an expanded row: text (pre-wrapped), details, fields.
function eventBody(e) {
  const text = e.text != null && e.text !== '' ? String(e.text) : String(e.title || '');
  const dev = e.device
    ? h('a', { href: objectHash('device', e.device.id) }, String(e.device.name))
    : h('span', { class: 'unknown-sender' }, 'unknown sender');
  const sensor = e.sensor ? h('a', { href: objectHash('sensor', e.sensor.id) }, String(e.sensor.name)) : null;
  const sev = h('span', null, severityBadge(e.severity), e.severity_code != null ? h('span', { class: 'muted' }, ` (${e.severity_code})`) : null);
  let f = e.fields;
  if (typeof f === 'string' && f !== '') {
    try {
      f = JSON.parse(f);
    } catch {
      f = { fields: f };
    }
  }
  const fields = f && typeof f === 'object' && !Array.isArray(f) && Object.keys(f).length ? f : null;
  return [
    h('pre', { class: 'ev-text' }, text),
    dl([
      ['Time', timeEl(e.time)],
      ['Received', e.recv_time != null ? timeEl(e.recv_time) : null],
      ['Severity', sev],
      ['Kind', e.kind],
      ['Alert', e.status ? statusChip(e.status) : null],
      ['Fingerprint', e.fingerprint ? h('code', { class: 'fingerprint' }, String(e.fingerprint)) : null],
      ['Device', dev],
      ['Source', e.source ? String(e.source) : null],
      ['Host', e.host ? String(e.host) : null],
      ['App', e.app ? String(e.app) : null],
      ['Facility', e.facility != null ? String(e.facility) : null],
      ['Sensor', sensor],
      ['Event id', e.id != null ? h('code', null, String(e.id)) : null],
    ]),
    fields ? h('div', { class: 'ev-fields' }, h('h3', null, 'Fields'), kvTable(fields)) : null,
  ];
}

// One event as a list item: a row (button) that expands to the full record. opts.noDevice: the
// device column is left out (device page).
export function eventItem(e, opts = {}) {
  const id = String(e.id);
  const bodyId = `ev-body-${opts.prefix || 'p'}-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const body = h('div', { class: 'ev-body', id: bodyId, hidden: true });
  const fp = e.fingerprint ? String(e.fingerprint) : '';
  const head = h(
    'button',
    { type: 'button', class: 'ev-head', 'aria-expanded': 'false', 'aria-controls': bodyId },
    timeEl(e.time, 'ev-time'),
    severityBadge(e.severity),
    opts.noDevice ? null : h('span', { class: e.device ? 'ev-dev' : 'ev-dev unknown', title: senderText(e) }, senderText(e)),
    h('span', { class: 'ev-app', title: e.app ? String(e.app) : null }, e.app ? String(e.app) : ''),
    h(
      'span',
      { class: 'ev-title' },
      statusChip(e.status),
      fp ? h('code', { class: 'ev-fp', title: `fingerprint ${fp}` }, fp.length > 12 ? fp.slice(0, 12) + '…' : fp) : null,
      h('span', { class: 'ev-title-text' }, String(e.title || (e.text ? String(e.text).split('\n')[0] : '') || '(no title)')),
    ),
  );
  const li = h(
    'li',
    {
      class: 'ev',
      'data-id': id,
      'data-severity': e.severity || 'info',
      'data-kind': e.kind || '',
      'data-status': e.status || null,
    },
    head,
    body,
  );
  let built = false;
  head.addEventListener('click', () => {
    const open = head.getAttribute('aria-expanded') !== 'true';
    if (open && !built) {
      body.append(...eventBody(e).filter(Boolean));
      built = true;
    }
    head.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
    li.classList.toggle('open', open);
  });
  return li;
}

// ---------------------------------------------------------------- live stream

// An EventSource on /api/v1/events/live that reopens when the browser gives up, and reports its
// state: onState('connecting' | 'live' | 'quiet' | 'reconnecting' | 'unsupported'), onEvent(E),
// onReopen() after a break (to fetch what was missed).
function liveStream(params, { onEvent, onState, onReopen }) {
  let es = null;
  let timer = 0;
  let closed = false;
  let broken = false;
  let lastMsg = Date.now();
  let stale = 0;
  let cur = '';
  const set = (st) => {
    cur = st;
    onState(st);
  };
  const open = () => {
    if (closed) return;
    if (typeof EventSource === 'undefined') {
      onState('unsupported');
      return;
    }
    es = new EventSource(`/api/v1/events/live${params.toString() ? '?' + params : ''}`);
    set(broken ? 'reconnecting' : 'connecting');
    es.onopen = () => {
      if (closed) return;
      lastMsg = Date.now();
      set('live');
      if (broken) {
        broken = false;
        onReopen();
      }
    };
    es.onerror = () => {
      if (closed) return;
      broken = true;
      set('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        clearTimeout(timer);
        timer = setTimeout(open, RECONNECT_DELAY);
      }
    };
    es.addEventListener('event', (m) => {
      if (closed) return;
      lastMsg = Date.now();
      if (cur === 'quiet') set('live');
      let e;
      try {
        e = JSON.parse(m.data);
      } catch {
        return;
      }
      if (e && typeof e === 'object' && e.id != null) onEvent(e);
    });
  };
  // Keep-alive comments do not reach JS; a stream silent for long is only flagged, not reopened.
  stale = setInterval(() => {
    if (!closed && cur === 'live' && es && es.readyState === EventSource.OPEN && Date.now() - lastMsg > STALE_STREAM_MS) set('quiet');
  }, 5000);
  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(stale);
      if (es) es.close();
      es = null;
    },
  };
}

const LIVE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  quiet: 'live (no new events)',
  reconnecting: 'reconnecting…',
  paused: 'paused',
  unsupported: 'live updates need EventSource',
  off: '',
};

function liveBadge() {
  const dot = h('i', { class: 'dot connecting' });
  const text = h('span', { class: 'live-text' });
  const el = h('span', { class: 'live-status', role: 'status', 'data-state': 'off' }, dot, text);
  return {
    el,
    set(state, note) {
      el.dataset.state = state;
      dot.className = `dot ${state === 'live' || state === 'quiet' ? 'live' : state === 'reconnecting' ? 'reconnecting' : state === 'paused' || state === 'off' ? 'paused' : 'connecting'}`;
      setText(text, note || LIVE_TEXT[state] || state);
    },
  };
}

// Closes fn's resources on the next route change (any hash change redraws the page).
function onLeave(fn) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    window.removeEventListener('hashchange', run);
    fn();
  };
  window.addEventListener('hashchange', run);
  return run;
}

// ---------------------------------------------------------------- event list (shared)

// A list of events newest first with dedupe by id and a cap; used by the page and the card.
class EventList {
  constructor(label, opts = {}) {
    this.opts = opts;
    this.keep = opts.keep || KEEP;
    this.ids = new Set();
    this.items = []; // [{e, li}] newest first
    this.trimmed = false;
    this.el = h('ul', { class: 'ev-list', 'aria-label': label, 'aria-live': 'off' });
  }

  clear() {
    this.ids.clear();
    this.items = [];
    this.trimmed = false;
    this.el.replaceChildren();
  }

  get size() {
    return this.items.length;
  }

  oldest() {
    return this.items.length ? this.items[this.items.length - 1].e : null;
  }

  // Appends older events at the bottom (paging).
  append(list) {
    const frag = document.createDocumentFragment();
    let n = 0;
    for (const e of list) {
      const id = String(e.id);
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      const li = eventItem(e, this.opts);
      this.items.push({ e, li });
      frag.append(li);
      n++;
    }
    this.el.append(frag);
    return n;
  }

  // Puts new events at the top (list: newest first); trims the oldest beyond the cap.
  prepend(list, animate) {
    const fresh = [];
    for (const e of list) {
      const id = String(e.id);
      if (this.ids.has(id)) continue;
      this.ids.add(id);
      fresh.push(e);
    }
    if (!fresh.length) return 0;
    const frag = document.createDocumentFragment();
    const added = fresh.map((e) => {
      const li = eventItem(e, this.opts);
      if (animate) li.classList.add('arrived');
      frag.append(li);
      return { e, li };
    });
    this.el.prepend(frag);
    this.items = added.concat(this.items);
    while (this.items.length > this.keep) {
      const gone = this.items.pop();
      this.ids.delete(String(gone.e.id));
      gone.li.remove();
      this.trimmed = true;
    }
    return added.length;
  }
}

// ---------------------------------------------------------------- severity-rate chart

const STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const AXIS = '#8b93a7';
const GRID = 'rgba(139, 147, 167, 0.12)';
const CHART_HEIGHT = 120;

function stepFor(span) {
  const raw = span / 90;
  return STEPS.find((s) => s >= raw) || STEPS[STEPS.length - 1];
}

const pad2 = (n) => String(n).padStart(2, '0');
function tickLabel(t, span) {
  const d = new Date(t * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return span > 2 * 86400 ? `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${hm}` : hm;
}

// Events per severity and time slot, stacked (worst at the bottom): the difference, slot by
// slot, of sum by (severity) (dashdot_events_total{...}). Not increase(): the counters are written
// every 10 s, not when events happen, so a burst whose "before" and "after" samples straddle a
// slot boundary has one sample in each window and increase() loses it (and it extrapolates:
// 105 events read as 157). The differences of the sums are exact, up to the 10 s flush delay;
// a drop (a restart reset the counters, a series went stale) counts as no events.
class SeverityChart {
  constructor() {
    this.u = null;
    this.key = '';
    this.data = null;
    this.plotEl = h('div', { class: 'plot' });
    this.emptyEl = h('div', { class: 'empty' }, 'No events counted in this range (counts arrive within about 10 s).');
    this.noteEl = h('span', { class: 'muted small chart-note' });
    this.legendEl = h('div', { class: 'legend ev-legend' });
    this.errEl = h('div', { class: 'chart-error', hidden: true });
    this.titleEl = h('span', null, 'Events per severity');
    this.el = h(
      'figure',
      { class: 'ev-chart', 'data-chart': 'event-rate', 'aria-label': 'Events per severity over the range' },
      h('figcaption', { class: 'ev-chart-title' }, this.titleEl, ' ', this.noteEl),
      h('div', { class: 'plot-wrap' }, this.plotEl, this.emptyEl),
      this.legendEl,
      this.errEl,
    );
  }

  // q: {start, end (unix s), labels: {device, sensor}, minSeverity, note}
  async refresh(q, signal) {
    const span = q.end - q.start;
    const step = stepFor(span);
    const start = Math.floor(q.start / step) * step + step;
    const end = Math.ceil(q.end / step) * step;
    const labels = {};
    if (q.device) labels.device = q.device;
    if (q.sensor) labels.sensor = q.sensor;
    if (q.minSeverity) {
      const i = SEVERITIES.indexOf(q.minSeverity);
      if (i >= 0) labels.severity = ['=~', SEVERITIES.slice(0, i + 1).join('|')];
    }
    const expr = `sum by (severity) (${selector('dashdot_events_total', labels)})`;
    let res;
    try {
      res = await queryRange(expr, start - step, end, step, signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.errEl.hidden = false;
      this.errEl.replaceChildren(message('error', `Chart: ${errorText(e)}`));
      return;
    }
    this.errEl.hidden = true;
    const n = Math.round((end - start) / step) + 1;
    const xs = Array.from({ length: n }, (_, i) => start + i * step);
    const per = new Map();
    for (const s of res) {
      const sev = SEVERITIES.includes(s.metric && s.metric.severity) ? s.metric.severity : 'info';
      if (!per.has(sev)) per.set(sev, new Array(n).fill(0));
      const ys = per.get(sev);
      // Totals at each slot end, index -1 being the end of the slot before the range.
      const tot = new Array(n + 1).fill(0);
      for (const [t, v] of s.values || []) {
        const i = Math.round((Number(t) - start) / step);
        const x = parseValue(v);
        if (i >= -1 && i < n && Number.isFinite(x)) tot[i + 1] = x;
      }
      for (let i = 0; i < n; i++) ys[i] += Math.max(0, tot[i + 1] - tot[i]);
    }
    const sevs = SEVERITIES.filter((s) => per.has(s));
    this.data = { xs, sevs, per, step, start, end, span };
    setText(this.titleEl, `Events per ${step >= 3600 ? `${step / 3600} h` : `${step / 60} min`}, by severity`);
    setText(this.noteEl, q.note || '');
    this.draw();
  }

  draw() {
    const d = this.data;
    if (!d) return;
    const total = d.sevs.reduce((a, s) => a + d.per.get(s).reduce((x, y) => x + y, 0), 0);
    this.el.dataset.total = String(Math.round(total));
    this.el.dataset.severities = d.sevs.join(',');
    this.el.classList.toggle('has-data', total > 0);
    if (!this.plotEl.isConnected) return;
    // Stack: cumulative sums, worst severity at the bottom; the tallest drawn first.
    const cum = [];
    let acc = new Array(d.xs.length).fill(0);
    for (const s of d.sevs) {
      acc = acc.map((v, i) => v + d.per.get(s)[i]);
      cum.push(acc);
    }
    const order = d.sevs.map((s, i) => i).reverse();
    const key = d.sevs.join(',') + '|' + d.step;
    const data = [d.xs, ...order.map((i) => cum[i].map((v) => (v > 0 ? v : null)))];
    if (!this.u || this.key !== key) this.mount(order, data);
    else {
      this.u.setData(data, false);
      this.u.setScale('x', { min: d.start - d.step, max: d.end });
    }
    this.key = key;
    this.drawLegend();
  }

  mount(order, data) {
    if (this.u) this.u.destroy();
    const d = this.data;
    const bars = uPlot.paths.bars({ size: [0.8, 40], align: -1 });
    const series = [{}];
    for (const i of order) {
      const s = d.sevs[i];
      series.push({ label: s, stroke: SEV_COLOR[s], fill: SEV_COLOR[s], width: 0, paths: bars, points: { show: false } });
    }
    this.u = new uPlot(
      {
        width: Math.max(100, this.plotEl.clientWidth),
        height: CHART_HEIGHT,
        padding: [6, 10, 0, 0],
        legend: { show: false },
        cursor: { drag: { x: false, y: false, setScale: false }, points: { show: false } },
        scales: {
          x: { time: true, range: () => [this.data.start - this.data.step, this.data.end] },
          y: { range: (u, lo, hi) => [0, Number.isFinite(hi) && hi > 0 ? Math.ceil(hi * 1.1) : 1] },
        },
        axes: [
          {
            stroke: AXIS,
            font: FONT,
            grid: { stroke: GRID, width: 1 },
            ticks: { stroke: GRID, width: 1, size: 4 },
            space: 80,
            size: 24,
            gap: 4,
            values: (u, splits) => splits.map((t) => tickLabel(t, this.data.span)),
          },
          {
            stroke: AXIS,
            font: FONT,
            grid: { stroke: GRID, width: 1 },
            ticks: { show: false },
            gap: 6,
            space: 24,
            size: 40,
            values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')),
          },
        ],
        series,
        hooks: { setCursor: [() => this.drawLegend()] },
      },
      data,
      this.plotEl,
    );
    if (!this.ro) {
      this.ro = new ResizeObserver(() => {
        if (!this.u) return;
        const w = Math.max(100, Math.floor(this.plotEl.clientWidth));
        if (w !== this.u.width) this.u.setSize({ width: w, height: CHART_HEIGHT });
      });
      this.ro.observe(this.plotEl);
    }
  }

  drawLegend() {
    const d = this.data;
    if (!d) return;
    const idx = this.u ? this.u.cursor.idx : null;
    const hovering = idx != null && idx < d.xs.length;
    const items = d.sevs.map((s) => {
      const ys = d.per.get(s);
      const v = hovering ? ys[idx] : ys.reduce((a, b) => a + b, 0);
      return h(
        'span',
        { class: 'legend-item', 'data-severity': s },
        h('i', { class: 'swatch', style: { background: SEV_COLOR[s] } }),
        h('span', { class: 'legend-label' }, s),
        h('span', { class: 'legend-value' }, String(Math.round(v))),
      );
    });
    const when = hovering
      ? `${tickLabel(d.xs[idx] - d.step, 3 * 86400)} – ${tickLabel(d.xs[idx], 0)}`
      : d.sevs.length
        ? 'in the range'
        : '';
    this.legendEl.replaceChildren(...items, h('span', { class: 'legend-time' }, when));
  }

  destroy() {
    if (this.ro) this.ro.disconnect();
    this.ro = null;
    if (this.u) this.u.destroy();
    this.u = null;
  }
}

// ---------------------------------------------------------------- the events page

let drawGen = 0;

// Entry point from main.js for #/events[?...].
export async function render(route, container) {
  const gen = ++drawGen;
  const ctx = { alive: () => gen === drawGen && page.isConnected };
  const page = h('div', { class: 'page events-page' });
  container.replaceChildren(page);
  document.title = 'Events · dashdot';
  if (!session.user) {
    page.append(h('p', { class: 'loading' }, 'loading…'));
    let ok;
    try {
      ok = await loadMe();
    } catch (e) {
      if (gen === drawGen) page.replaceChildren(message('error', `Cannot reach the server: ${errorText(e)}`));
      return;
    }
    if (gen !== drawGen) return;
    if (!ok) {
      location.hash = '#/login?next=' + encodeURIComponent(location.hash || '#/events');
      return;
    }
  }
  let schema;
  try {
    schema = await getSchema();
  } catch (e) {
    if (gen === drawGen) page.replaceChildren(message('error', errorText(e)));
    return;
  }
  if (gen !== drawGen) return;
  page.replaceChildren();
  eventsPage(ctx, page, schema, route.query || new URLSearchParams());
}

function eventsPage(ctx, page, schema, query) {
  const devModel = schema.byName.get('device');
  const sensorModel = schema.byName.get('sensor');
  const st = {
    tab: query.get('tab') === 'unknown' ? 'unknown' : 'events',
    range: ['1h', '24h', '7d', 'custom'].includes(query.get('range')) ? query.get('range') : '1h',
    from: query.get('from') || '',
    to: query.get('to') || '',
    device: query.get('device') || '',
    sensor: query.get('sensor') || '',
    severity: SEVERITIES.includes(query.get('severity')) ? query.get('severity') : '',
    kind: query.get('kind') || '',
    q: query.get('q') || '',
    live: query.get('live') !== '0',
  };
  if (st.range === 'custom' && !st.from) st.range = '1h';

  const syncURL = () => {
    const p = new URLSearchParams();
    if (st.tab !== 'events') p.set('tab', st.tab);
    if (st.range !== '1h') p.set('range', st.range);
    if (st.range === 'custom') {
      if (st.from) p.set('from', st.from);
      if (st.to) p.set('to', st.to);
    }
    for (const k of ['device', 'sensor', 'severity', 'kind', 'q']) if (st[k]) p.set(k, st[k]);
    if (!st.live) p.set('live', '0');
    const s = p.toString();
    history.replaceState(null, '', '#/events' + (s ? '?' + s : ''));
  };

  // ---- head and tabs
  const live = liveBadge();
  const liveBtn = h('button', { type: 'button', class: 'btn live-toggle', 'aria-pressed': String(st.live), title: 'Show new events as they arrive' }, 'Live');
  const unknownCount = h('span', { class: 'tab-count' });
  const tabEvents = h('button', { type: 'button', role: 'tab', id: 'tab-events', 'aria-controls': 'panel-events' }, 'Events');
  const tabUnknown = h('button', { type: 'button', role: 'tab', id: 'tab-unknown', 'aria-controls': 'panel-unknown' }, 'Unknown senders', unknownCount);
  const panelEvents = h('div', { role: 'tabpanel', id: 'panel-events', 'aria-labelledby': 'tab-events' });
  const panelUnknown = h('div', { role: 'tabpanel', id: 'panel-unknown', 'aria-labelledby': 'tab-unknown' });
  page.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Events'), h('div', { class: 'spacer' }), live.el, liveBtn),
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Events views' }, tabEvents, tabUnknown),
    panelEvents,
    panelUnknown,
  );

  // ---- filter bar
  const rangeSel = h(
    'select',
    { id: 'ev-range', 'aria-label': 'Time range' },
    h('option', { value: '1h' }, 'last hour'),
    h('option', { value: '24h' }, 'last 24 hours'),
    h('option', { value: '7d' }, 'last 7 days'),
    h('option', { value: 'custom' }, 'custom…'),
  );
  rangeSel.value = st.range;
  const toLocalInput = (v) => {
    const t = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
    if (!Number.isFinite(t)) return '';
    const d = new Date(t);
    return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  };
  const fromIn = h('input', { type: 'datetime-local', id: 'ev-from', 'aria-label': 'From', value: toLocalInput(st.from) });
  const toIn = h('input', { type: 'datetime-local', id: 'ev-to', 'aria-label': 'To (empty: now)', value: toLocalInput(st.to) });
  const customBox = h('span', { class: 'custom-range', hidden: st.range !== 'custom' }, fromIn, h('span', { class: 'muted' }, '–'), toIn);
  const deviceSel = h('select', { id: 'ev-device', 'aria-label': 'Device' }, h('option', { value: '' }, 'all devices'), h('option', { value: 'unknown' }, 'unknown senders'));
  const sensorSel = h('select', { id: 'ev-sensor', 'aria-label': 'Sensor' }, h('option', { value: '' }, 'all sensors'));
  const sevSel = h(
    'select',
    { id: 'ev-severity', 'aria-label': 'Minimum severity' },
    h('option', { value: '' }, 'any severity'),
    SEVERITIES.map((s, i) => h('option', { value: s }, i === 0 ? s : i === SEVERITIES.length - 1 ? `${s} (all)` : `${s} or worse`)),
  );
  sevSel.value = st.severity;
  const kindSel = h('select', { id: 'ev-kind', 'aria-label': 'Kind' }, h('option', { value: '' }, 'any kind'), KINDS.map((k) => h('option', { value: k }, k)));
  if (st.kind && !KINDS.includes(st.kind)) kindSel.append(h('option', { value: st.kind }, st.kind));
  kindSel.value = st.kind;
  const search = h('input', {
    type: 'search',
    id: 'ev-q',
    'aria-label': 'Search events',
    'aria-describedby': 'ev-q-help ev-q-error',
    placeholder: 'search: words, "a phrase", prefix*',
    value: st.q,
    spellcheck: 'false',
  });
  const searchBtn = h('button', { type: 'submit', class: 'btn' }, 'Search');
  const searchErr = h('div', { class: 'msg error search-error', id: 'ev-q-error', role: 'alert', hidden: true });
  const searchHelp = h('span', { class: 'sr-only', id: 'ev-q-help' }, 'All words must occur; quotes search a phrase; a star searches a prefix.');
  const filters = h(
    'form',
    { class: 'ev-filters toolbar', role: 'search', 'aria-label': 'Filter events' },
    rangeSel,
    customBox,
    deviceSel,
    sensorSel,
    sevSel,
    kindSel,
    h('span', { class: 'search-box' }, search, searchBtn, searchHelp),
  );
  const chart = new SeverityChart();
  const listStatus = h('div', { class: 'list-status ev-count', role: 'status' });
  const list = new EventList('Events, newest first', { prefix: 'page' });
  const emptyEl = h('p', { class: 'muted ev-empty', hidden: true });
  const moreBtn = h('button', { type: 'button', class: 'btn ev-more', hidden: true }, 'Load older');
  const endEl = h('span', { class: 'muted small ev-end', hidden: true });
  const listErr = h('div');
  panelEvents.append(
    filters,
    searchErr,
    chart.el,
    h('div', { class: 'ev-list-head' }, listStatus),
    listErr,
    list.el,
    emptyEl,
    h('div', { class: 'ev-pager' }, moreBtn, endEl),
  );

  // Device and sensor pickers (names also feed the chart's labels).
  const devNames = new Map();
  const sensorNames = new Map();
  const addSelected = (sel, v, label) => {
    if (v && ![...sel.options].some((o) => o.value === v)) sel.append(h('option', { value: v }, label));
    sel.value = v;
  };
  addSelected(deviceSel, st.device, /^\d+$/.test(st.device) ? `device #${st.device}` : st.device);
  addSelected(sensorSel, st.sensor, `sensor #${st.sensor}`);
  const pickers = Promise.all([
    devModel && canRead(devModel)
      ? request('GET', '/api/v1/device?limit=1000&sort=name').then((r) => r.data || [], () => [])
      : Promise.resolve([]),
    sensorModel && canRead(sensorModel)
      ? request('GET', '/api/v1/sensor?limit=1000&sort=name').then((r) => r.data || [], () => [])
      : Promise.resolve([]),
  ]).then(([devs, sensors]) => {
    if (!ctx.alive()) return;
    for (const d of devs) devNames.set(String(d.id), String(d.name != null ? d.name : `#${d.id}`));
    for (const s of sensors) sensorNames.set(String(s.id), String(s.name != null ? s.name : `#${s.id}`));
    const keep = (sel, first) => [...sel.options].slice(0, first);
    deviceSel.replaceChildren(...keep(deviceSel, 2), ...devs.map((d) => h('option', { value: String(d.id) }, devNames.get(String(d.id)))));
    sensorSel.replaceChildren(...keep(sensorSel, 1), ...sensors.map((s) => h('option', { value: String(s.id) }, `${sensorNames.get(String(s.id))} (${s.type})`)));
    // ?device=<name> (the API takes names too): the picker shows the device by id.
    if (st.device && !/^\d+$/.test(st.device) && st.device !== 'unknown') {
      const d = devs.find((x) => String(x.name) === st.device);
      if (d) {
        st.device = String(d.id);
        syncURL();
      }
    }
    addSelected(deviceSel, st.device, /^\d+$/.test(st.device) ? `device #${st.device}` : st.device);
    addSelected(sensorSel, st.sensor, `sensor #${st.sensor}`);
  });

  // ---- API parameters
  const rangeBounds = () => {
    const now = serverClock.now();
    if (st.range !== 'custom') return { start: now - RANGES[st.range], end: now, open: true };
    const f = Number(st.from);
    const t = st.to ? Number(st.to) : now;
    return { start: f, end: Math.max(f + 60, t), open: !st.to };
  };
  const filterParams = (withText) => {
    const p = new URLSearchParams();
    if (st.device) p.append('device', st.device);
    if (st.sensor) p.set('sensor', st.sensor);
    if (st.severity) p.set('severity', st.severity);
    if (st.kind) p.set('kind', st.kind);
    if (withText && st.q) p.set('q', st.q);
    return p;
  };
  const liveAllowed = () => (st.range !== 'custom' || !st.to) && !st.q;

  // ---- list loading
  let base = null; // the parameters of the loaded list (from/to fixed at load time)
  let cursor = null;
  let loading = false;
  let buffer = [];
  let seq = 0;
  let abort = null;

  const showCount = () => {
    const n = list.size;
    setText(listStatus, n ? `${n} event${n === 1 ? '' : 's'} shown, newest first${n >= KEEP ? ` (the newest ${KEEP} are kept)` : ''}` : '');
    emptyEl.hidden = n > 0 || loading;
    setText(emptyEl, st.q ? 'No event matches the search in this range.' : 'No events in this range.');
  };
  const showMore = () => {
    const more = cursor != null || list.trimmed;
    moreBtn.hidden = !more || list.size === 0;
    endEl.hidden = more || list.size === 0;
    setText(endEl, 'No older events in this range.');
  };

  async function loadList() {
    const my = ++seq;
    if (abort) abort.abort();
    abort = new AbortController();
    loading = true;
    buffer = [];
    const { start, end, open } = rangeBounds();
    base = filterParams(true);
    base.set('from', String(Math.floor(start)));
    if (!open) base.set('to', String(Math.ceil(end)));
    list.clear();
    cursor = null;
    searchErr.hidden = true;
    listErr.replaceChildren();
    setText(listStatus, 'loading…');
    emptyEl.hidden = true;
    showMore();
    const p = new URLSearchParams(base);
    p.set('limit', String(PAGE));
    let r;
    try {
      r = await request('GET', `/api/v1/events?${p}`, undefined, { signal: abort.signal });
    } catch (e) {
      if (e.name === 'AbortError' || my !== seq || !ctx.alive()) return;
      loading = false;
      setText(listStatus, '');
      if (e.status === 400) {
        searchErr.hidden = false;
        setText(searchErr, e.message);
        search.setAttribute('aria-invalid', 'true');
      } else if (e.status === 401) {
        location.hash = '#/login?next=' + encodeURIComponent(location.hash);
      } else listErr.replaceChildren(message('error', `Could not load events: ${errorText(e)}`));
      return;
    }
    if (my !== seq || !ctx.alive()) return;
    search.removeAttribute('aria-invalid');
    loading = false;
    const d = r.data || {};
    list.append(Array.isArray(d.events) ? d.events : []);
    cursor = d.next || null;
    // Live events that came while loading: those not in the page go on top.
    if (buffer.length) list.prepend(buffer.slice().reverse(), false);
    buffer = [];
    showCount();
    showMore();
  }

  moreBtn.addEventListener('click', async () => {
    if (!base) return;
    const p = new URLSearchParams(base);
    p.set('limit', String(PAGE));
    if (list.trimmed || cursor == null) {
      // Rows were pushed out by live ones: continue below the oldest kept row by time.
      const old = list.oldest();
      if (!old) return;
      p.set('to', String(Number(old.time) / 1000));
    } else p.set('cursor', cursor);
    const my = seq;
    moreBtn.disabled = true;
    setText(moreBtn, 'loading…');
    try {
      const r = await request('GET', `/api/v1/events?${p}`);
      if (my !== seq || !ctx.alive()) return;
      const d = r.data || {};
      list.append(Array.isArray(d.events) ? d.events : []);
      cursor = d.next || null;
      list.trimmed = false;
      listErr.replaceChildren();
    } catch (e) {
      if (my === seq && ctx.alive()) listErr.replaceChildren(message('error', `Could not load older events: ${errorText(e)}`));
    } finally {
      moreBtn.disabled = false;
      setText(moreBtn, 'Load older');
      showCount();
      showMore();
    }
  });

  // ---- chart
  let chartAbort = null;
  const refreshChart = () => {
    if (!ctx.alive()) return;
    if (chartAbort) chartAbort.abort();
    chartAbort = new AbortController();
    const { start, end } = rangeBounds();
    const notes = [];
    if (st.kind) notes.push('kind');
    if (st.q) notes.push('search');
    const device = st.device === 'unknown' ? 'unknown' : st.device ? devNames.get(st.device) : '';
    const sensor = st.sensor ? sensorNames.get(st.sensor) : '';
    if (st.device && !device) notes.push('device');
    if (st.sensor && !sensor) notes.push('sensor');
    chart.refresh(
      {
        start,
        end,
        device,
        sensor,
        minSeverity: st.severity,
        note: notes.length ? `· counts ignore the ${notes.join(' and ')} filter${notes.length > 1 ? 's' : ''}` : '',
      },
      chartAbort.signal,
    );
  };

  // ---- live
  let stream = null;
  const addLive = (e) => {
    if (!ctx.alive()) return;
    if (loading) {
      buffer.push(e);
      return;
    }
    list.prepend([e], true);
    showCount();
    showMore();
  };
  const stopLive = () => {
    if (stream) stream.close();
    stream = null;
  };
  const startLive = () => {
    stopLive();
    if (!st.live) {
      live.set('paused');
      return;
    }
    if (!liveAllowed()) {
      live.set('off', st.q ? 'live is off while searching' : 'live is off for a past range');
      return;
    }
    stream = liveStream(filterParams(false), {
      onEvent: addLive,
      onState: (s) => ctx.alive() && live.set(s),
      onReopen: catchUp,
    });
  };
  // After a break in the stream: the newest page, merged (what the stream missed goes on top).
  async function catchUp() {
    if (!base || loading) return;
    const my = seq;
    const p = new URLSearchParams(base);
    p.set('limit', String(PAGE));
    try {
      const r = await request('GET', `/api/v1/events?${p}`);
      if (my !== seq || !ctx.alive()) return;
      const evs = (r.data && r.data.events) || [];
      list.prepend(evs, true);
      showCount();
    } catch {
      /* the next reconnect tries again */
    }
  }

  liveBtn.addEventListener('click', () => {
    st.live = !st.live;
    liveBtn.setAttribute('aria-pressed', String(st.live));
    syncURL();
    if (st.live) {
      // Resume: what came while paused is fetched again with the list.
      startLive();
      loadList();
    } else startLive();
  });

  // ---- filter changes
  const applyFilters = () => {
    syncURL();
    startLive(); // open first: events during the load are buffered, none are lost
    loadList();
    refreshChart();
  };
  rangeSel.addEventListener('change', () => {
    st.range = rangeSel.value;
    customBox.hidden = st.range !== 'custom';
    if (st.range === 'custom') {
      if (!fromIn.value) {
        const d = new Date(Date.now() - 3600 * 1000);
        fromIn.value = toLocalInput(String(d.getTime() / 1000));
      }
      readCustom();
      fromIn.focus();
    }
    applyFilters();
  });
  const readCustom = () => {
    const f = Date.parse(fromIn.value);
    const t = toIn.value ? Date.parse(toIn.value) : NaN;
    st.from = Number.isFinite(f) ? String(Math.floor(f / 1000)) : String(Math.floor(serverClock.now() - 3600));
    st.to = Number.isFinite(t) ? String(Math.floor(t / 1000)) : '';
  };
  for (const inp of [fromIn, toIn]) {
    inp.addEventListener('change', () => {
      readCustom();
      applyFilters();
    });
  }
  deviceSel.addEventListener('change', () => {
    st.device = deviceSel.value;
    applyFilters();
  });
  sensorSel.addEventListener('change', () => {
    st.sensor = sensorSel.value;
    applyFilters();
  });
  sevSel.addEventListener('change', () => {
    st.severity = sevSel.value;
    applyFilters();
  });
  kindSel.addEventListener('change', () => {
    st.kind = kindSel.value;
    applyFilters();
  });
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    st.q = search.value.trim();
    applyFilters();
  });
  search.addEventListener('input', () => {
    // Cleared (the × of a search box, or erased): show everything again at once.
    if (search.value === '' && st.q) {
      st.q = '';
      applyFilters();
    }
  });

  // ---- tabs
  const unknownView = unknownSenders(ctx, panelUnknown, schema, unknownCount);
  const showTab = (tab) => {
    st.tab = tab;
    for (const [t, btn, panel] of [
      ['events', tabEvents, panelEvents],
      ['unknown', tabUnknown, panelUnknown],
    ]) {
      btn.setAttribute('aria-selected', String(t === tab));
      btn.tabIndex = t === tab ? 0 : -1;
      panel.hidden = t !== tab;
    }
    syncURL();
    if (tab === 'unknown') unknownView.load();
    else chart.draw();
  };
  tabEvents.addEventListener('click', () => showTab('events'));
  tabUnknown.addEventListener('click', () => showTab('unknown'));
  for (const b of [tabEvents, tabUnknown]) {
    b.addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight') return;
      const other = b === tabEvents ? tabUnknown : tabEvents;
      other.focus();
      other.click();
    });
  }

  // ---- start, and stop on leaving
  showTab(st.tab);
  startLive();
  loadList();
  pickers.then(refreshChart);
  const chartTimer = setInterval(() => {
    if (!ctx.alive()) return;
    if (!document.hidden && rangeBounds().open) refreshChart();
  }, CHART_EVERY);
  unknownView.count();
  onLeave(() => {
    stopLive();
    clearInterval(chartTimer);
    if (abort) abort.abort();
    if (chartAbort) chartAbort.abort();
    chart.destroy();
  });
}

// ---------------------------------------------------------------- unknown senders

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function unknownSenders(ctx, panel, schema, countEl) {
  const devModel = schema.byName.get('device');
  const epModel = schema.byName.get('endpoint');
  const canAdopt = !!devModel && canWriteHere(devModel);
  const status = h('div', { class: 'list-status', role: 'status' });
  const notes = h('div', { 'aria-live': 'polite' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'data unknown-senders', 'aria-label': 'Unknown senders' },
    h(
      'thead',
      null,
      h('tr', null, ['Source', 'Host', 'Sensor', 'Events', 'First', 'Last', canAdopt ? '' : null].filter((t) => t != null).map((t) => h('th', { scope: 'col' }, t))),
    ),
    body,
  );
  panel.append(
    h(
      'p',
      { class: 'muted help' },
      'Senders whose events matched no device (by address, host name or agent). ',
      canAdopt ? 'Adopt one to create its device: its stored events move to it, and new ones match it.' : 'An editor can adopt them as devices.',
    ),
    h('div', { class: 'toolbar' }, h('div', { class: 'spacer' }), status),
    notes,
    h('div', { class: 'table-wrap' }, table),
  );
  const cols = canAdopt ? 7 : 6;
  let rows = [];

  const setCount = (n) => setText(countEl, n ? ` (${n})` : '');

  async function fetchList() {
    const r = await request('GET', '/api/v1/events/unknown');
    const d = r.data;
    const list = Array.isArray(d) ? d : d && Array.isArray(d.senders) ? d.senders : [];
    return list.sort((a, b) => Number(b.last || 0) - Number(a.last || 0));
  }

  function draw() {
    body.replaceChildren(
      ...rows.map((s) => {
        const key = `${s.source || ''}\u0000${s.host || ''}\u0000${s.sensor ? s.sensor.id : ''}`;
        const tr = h(
          'tr',
          { 'data-source': s.source || '', 'data-host': s.host || '' },
          h('td', null, s.source ? h('code', null, String(s.source)) : none()),
          h('td', null, s.host ? String(s.host) : none()),
          h('td', null, s.sensor ? h('a', { href: objectHash('sensor', s.sensor.id) }, String(s.sensor.name)) : none()),
          h('td', { class: 'num' }, String(s.count != null ? s.count : '')),
          h('td', null, s.first != null ? timeEl(s.first) : none()),
          h('td', null, s.last != null ? timeEl(s.last) : none()),
          canAdopt
            ? h(
                'td',
                null,
                h(
                  'button',
                  { type: 'button', class: 'btn small', 'aria-label': `Adopt ${s.host || s.source}`, onclick: () => openForm(tr, s, key) },
                  'Adopt',
                ),
              )
            : null,
        );
        return tr;
      }),
    );
    if (!rows.length) body.append(h('tr', { class: 'empty-row' }, h('td', { colspan: cols }, 'No unknown senders: every event matched a device.')));
    setText(status, `${rows.length} unknown sender${rows.length === 1 ? '' : 's'}`);
    setCount(rows.length);
  }

  function openForm(tr, s, key) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains('adopt-row')) {
      next.remove();
      return;
    }
    for (const r of body.querySelectorAll('.adopt-row')) r.remove();
    const slug = key.replace(/[^A-Za-z0-9]/g, '_').slice(0, 60);
    const nameId = `adopt-name-${slug}`;
    const kindId = `adopt-kind-${slug}`;
    const epId = `adopt-ep-${slug}`;
    const kindField = devModel.fields.find((f) => f.name === 'kind');
    const hasAddress = devModel.fields.some((f) => f.name === 'address');
    const hasHostname = devModel.fields.some((f) => f.name === 'hostname');
    const name = h('input', { id: nameId, required: true, value: String(s.host || s.source || ''), spellcheck: 'false' });
    const kind = kindField
      ? h(
          'select',
          { id: kindId },
          (kindField.values || []).map((v) => h('option', { value: v, selected: v === (kindField.default || 'server') }, v)),
        )
      : null;
    if (kind && ![...kind.options].some((o) => o.selected)) kind.value = (kindField.values || [])[0] || '';
    // An endpoint with the sender's address makes every later event from that address match the
    // device: right for a host sending its own syslog, wrong for a relay (an Alertmanager, a CI
    // runner) posting about many hosts. Ticked only when the sender gave no host name.
    const withEp = !hasAddress && s.source && epModel && canWriteHere(epModel);
    const ep = withEp ? h('input', { type: 'checkbox', id: epId, checked: !s.host }) : null;
    const err = h('div', { class: 'adopt-error' });
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create device and adopt');
    const cancel = h('button', { type: 'button', class: 'btn', onclick: () => row.remove() }, 'Cancel');
    const form = h(
      'form',
      { class: 'adopt-form', 'aria-label': `Adopt ${s.host || s.source}` },
      h('div', { class: 'field' }, h('label', { for: nameId }, 'Device name'), name),
      kind ? h('div', { class: 'field' }, h('label', { for: kindId }, 'Type'), kind) : null,
      ep
        ? h('div', { class: 'field field-check' }, ep, h('label', { for: epId }, `Add endpoint ${s.source}: every event from this address then belongs to the device`))
        : null,
      err,
      h('div', { class: 'actions' }, submit, cancel),
    );
    const row = h('tr', { class: 'adopt-row' }, h('td', { colspan: cols }, form));
    tr.after(row);
    name.focus();
    name.select();
    let created = null; // the device, once made (a retry only adopts)
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.replaceChildren();
      const nm = name.value.trim();
      if (!nm) {
        err.replaceChildren(message('error', 'Enter a name for the device.'));
        name.focus();
        return;
      }
      submit.disabled = true;
      try {
        if (!created) {
          const dev = { name: nm };
          if (kind && kind.value) dev.kind = kind.value;
          if (hasHostname && s.host && HOSTNAME_RE.test(String(s.host))) dev.hostname = String(s.host);
          if (hasAddress && s.source) dev.address = String(s.source);
          const r = await request('POST', '/api/v1/device', dev);
          created = r.data;
          name.disabled = true;
          if (kind) kind.disabled = true;
          if (ep && ep.checked) {
            try {
              await request('POST', '/api/v1/endpoint', { device: created.id, address: String(s.source), protocol: 'other', name: 'events sender' });
            } catch (e) {
              notes.append(message('error', `Device ${created.name} created, but its endpoint ${s.source} was not: ${errorText(e)}. New events from ${s.source} may stay unknown.`));
            }
          }
          if (ep) ep.disabled = true;
        }
        const body2 = { device: created.id };
        if (s.source != null) body2.source = String(s.source);
        if (s.host != null) body2.host = String(s.host);
        const a = await request('POST', '/api/v1/events/adopt', body2);
        if (!ctx.alive()) return;
        const moved = a.data && a.data.moved != null ? Number(a.data.moved) : null;
        notes.append(
          message(
            'info',
            `Adopted ${s.host || s.source} as `,
            h('a', { href: objectHash('device', created.id) }, String(created.name != null ? created.name : nm)),
            moved != null ? `: ${moved} event${moved === 1 ? '' : 's'} moved.` : '.',
          ),
        );
        rows = rows.filter((x) => x !== s);
        row.remove();
        draw();
      } catch (e) {
        if (!ctx.alive()) return;
        let text = errorText(e);
        if (e.status === 422 && e.errors && typeof e.errors === 'object') text = `${e.message}: ${Object.entries(e.errors).map(([k, v]) => `${k}: ${v}`).join('; ')}`;
        if (created) text = `Device ${created.name} was created, but adopting its events failed: ${text}. Press the button again to retry.`;
        err.replaceChildren(message('error', text));
      } finally {
        submit.disabled = false;
      }
    });
  }

  let loaded = false;
  return {
    async load() {
      if (!loaded) setText(status, 'loading…');
      try {
        rows = await fetchList();
      } catch (e) {
        if (!ctx.alive()) return;
        setText(status, '');
        body.replaceChildren(h('tr', { class: 'empty-row' }, h('td', { colspan: cols }, message('error', `Could not list unknown senders: ${errorText(e)}`))));
        return;
      }
      if (!ctx.alive()) return;
      loaded = true;
      draw();
    },
    async count() {
      try {
        const list = await fetchList();
        if (ctx.alive() && !loaded) setCount(list.length);
      } catch {
        /* the tab shows no count */
      }
    },
  };
}

// ---------------------------------------------------------------- device page card

// The device page's Events card: the device's last 20 events, live, with a link to the events
// page filtered by the device. ctx: the settings page's {alive()}.
export async function deviceEventsCard(ctx, box, dev) {
  const live = liveBadge();
  const href = `#/events?device=${encodeURIComponent(dev.id)}`;
  box.append(
    h(
      'div',
      { class: 'section-head' },
      h('h2', { id: 'events-title' }, 'Events'),
      live.el,
      h('div', { class: 'spacer' }),
      h('a', { class: 'btn small', href, 'aria-label': `All events of ${dev.name}` }, 'All events →'),
    ),
  );
  const list = new EventList(`Last events of ${dev.name}`, { noDevice: true, keep: CARD_KEEP, prefix: 'dev' });
  const note = h('div', null, h('p', { class: 'loading' }, 'loading…'));
  box.append(note, list.el);
  const params = new URLSearchParams({ device: String(dev.id) });
  let loading = true;
  let buffer = [];
  const alive = () => ctx.alive() && (box.isConnected || loading);
  const empty = () => {
    if (!list.size) note.replaceChildren(h('p', { class: 'muted', 'data-empty': 'events' }, 'No events from this device yet.'));
    else note.replaceChildren();
  };
  const stream = liveStream(params, {
    onEvent: (e) => {
      if (!alive()) return;
      if (loading) buffer.push(e);
      else {
        list.prepend([e], true);
        empty();
      }
    },
    onState: (s) => live.set(s),
    onReopen: () => load(),
  });
  const stop = onLeave(() => stream.close());
  async function load() {
    const p = new URLSearchParams(params);
    p.set('limit', String(CARD_KEEP));
    try {
      const r = await request('GET', `/api/v1/events?${p}`);
      if (!ctx.alive()) return stop();
      const evs = (r.data && r.data.events) || [];
      if (loading) list.append(evs);
      else list.prepend(evs, true);
      loading = false;
      if (buffer.length) list.prepend(buffer.slice().reverse(), false);
      buffer = [];
      empty();
    } catch (e) {
      loading = false;
      if (!ctx.alive()) return stop();
      note.replaceChildren(message('error', `Events: ${errorText(e)}`));
    }
  }
  await load();
}

