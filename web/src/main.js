// dashdot web UI: a live dashboard for one host at a time, plus the Settings area (hash routes
// under #/settings and #/login, loaded on first use from settings.js).
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { labelValues, liveURL, parseValue, queryRange, selector, serverClock } from './api.js';
import { loadMe, logout, maybeLoggedIn, onSessionChange, session } from './auth.js';
import { ChartPanel } from './chart.js';
import { h, setText } from './dom.js';
import { FilesystemPanel } from './filesystems.js';
import { fmtDuration } from './format.js';
import { bucketOf, ChartModel, STEP } from './model.js';
import { PANELS } from './panels.js';

const WINDOW = 15 * 60; // seconds of history kept and drawn
const FIRST_EVENT_WAIT = 2000; // ms to wait for a live sample before loading history anyway
const RECONNECT_DELAY = 5000; // ms before reopening a stream the browser gave up on
const HOSTINFO_EVERY = 60000;
const FS_EVERY = 30000;
const INSTANCES_EVERY = 60000;

// ---------------------------------------------------------------- layout

const els = {
  host: h('h1', { class: 'host-name' }),
  meta: h('div', { class: 'host-meta' }),
  uptime: h('span', { class: 'uptime' }),
  picker: h('select', { class: 'picker', 'aria-label': 'host', hidden: true }),
  dot: h('i', { class: 'dot connecting' }),
  statusText: h('span', { class: 'status-text' }, 'connecting'),
  bannerText: h('span', { class: 'banner-text' }),
  grid: h('main', { class: 'grid' }),
  notice: h('div', { class: 'notice', hidden: true }),
};
els.banner = h(
  'div',
  { class: 'banner', role: 'alert', hidden: true },
  h('span', { class: 'banner-icon' }, '!'),
  els.bannerText,
  h('button', { class: 'banner-close', type: 'button', title: 'dismiss', onclick: () => clearErrors() }, '×'),
);
els.status = h('div', { class: 'status', title: 'live stream' }, els.dot, els.statusText);
els.hostBox = h('div', { class: 'host' }, els.host, els.meta);
els.navDash = h('a', { class: 'nav-link', href: '#/' }, 'Dashboard');
els.navEvents = h('a', { class: 'nav-link', href: '#/events' }, 'Events');
els.navSettings = h('a', { class: 'nav-link', href: '#/settings' }, 'Settings');
els.navUser = h('span', { class: 'nav-user', hidden: true });
els.navLogout = h('button', { class: 'nav-logout', type: 'button', hidden: true, onclick: () => doLogout() }, 'Log out');
els.dashView = h(
  'div',
  { class: 'view-dash' },
  els.banner,
  els.notice,
  els.grid,
  h('footer', { class: 'foot' }, 'last 15 minutes · 1 s resolution · live'),
);
els.pageView = h('div', { class: 'view-page', hidden: true });

document.getElementById('app').replaceChildren(
  h(
    'header',
    { class: 'topbar' },
    h(
      'a',
      { class: 'brand', href: '#/' },
      h('img', { src: '/favicon.svg', alt: '', width: 18, height: 18 }),
      h('span', null, 'dashdot'),
    ),
    els.hostBox,
    h('div', { class: 'spacer' }),
    els.picker,
    els.status,
    h('nav', { class: 'nav', 'aria-label': 'main' }, els.navDash, els.navEvents, els.navSettings, els.navUser, els.navLogout),
  ),
  els.dashView,
  els.pageView,
);

// ---------------------------------------------------------------- errors

const errors = new Map();
function showError(key, msg) {
  errors.set(key, msg);
  renderErrors();
}
function clearError(key) {
  if (errors.delete(key)) renderErrors();
}
function clearErrors() {
  errors.clear();
  renderErrors();
}
function renderErrors() {
  const msgs = [...errors.values()];
  els.banner.hidden = msgs.length === 0;
  setText(els.bannerText, msgs.length ? msgs[msgs.length - 1] + (msgs.length > 1 ? ` (+${msgs.length - 1} more)` : '') : '');
}

// ---------------------------------------------------------------- models and panels

const models = {};
const panels = [];
const routes = new Map(); // metric name -> [{model, input}]
for (const def of PANELS) {
  const model = new ChartModel(def, WINDOW);
  models[def.id] = model;
  const panel = new ChartPanel(def, model);
  panels.push(panel);
  els.grid.append(panel.el);
  for (const input of def.inputs) {
    if (!routes.has(input.name)) routes.set(input.name, []);
    routes.get(input.name).push({ model, input });
  }
}
const fsPanel = new FilesystemPanel();
els.grid.append(fsPanel.el);
for (const p of panels) p.mount();

function excluded(input, metric) {
  if (!input.exclude) return false;
  for (const [k, v] of Object.entries(input.exclude)) if (metric[k] === v) return true;
  return false;
}

// The selectors behind the charts, for one instance.
function chartSelectors(instance) {
  const out = new Map(); // selector -> input
  for (const def of PANELS) {
    for (const input of def.inputs) {
      const labels = { instance };
      if (input.exclude) for (const [k, v] of Object.entries(input.exclude)) labels[k] = ['!=', v];
      out.set(selector(input.name, labels), input);
    }
  }
  return out;
}

function toSamples(values) {
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = [Number(values[i][0]), parseValue(values[i][1])];
  return out;
}

function ingestSeries(list) {
  for (const s of list) {
    const metric = s.metric || {};
    if (metric.instance !== state.instance) continue;
    const rs = routes.get(metric.__name__);
    if (!rs || !Array.isArray(s.values)) continue;
    const samples = toSamples(s.values);
    for (const { model, input } of rs) if (!excluded(input, metric)) model.ingest(metric, input, samples);
  }
  scheduleFlush();
}

// Redraws charts whose data changed: at most once per second, and only while the page is shown.
let flushPending = false;
let lastFlush = 0;
function scheduleFlush() {
  if (flushPending) return;
  flushPending = true;
  const wait = Math.max(0, lastFlush + 1000 - performance.now());
  setTimeout(() => requestAnimationFrame(flush), wait);
}
function flush() {
  flushPending = false;
  lastFlush = performance.now();
  for (const p of panels) if (p.model.dirty) p.update(models);
}

// ---------------------------------------------------------------- state

const state = {
  instances: [],
  instance: null,
  gen: 0, // bumped on host switch: late answers for the old host are dropped
  es: null,
  reconnectTimer: 0,
  streamBroken: false, // the stream failed since the last load: re-load history on reopen
  loading: false, // history load pending: live samples are buffered meanwhile
  loadStarted: false,
  loadTimer: 0,
  loadAbort: null,
  retryTimer: 0,
  buffer: [],
  lastEventAt: 0,
  conn: 'connecting',
  host: null, // {nodename, release, machine, uptimeAt, at}
  timers: [],
};

function setConn(conn) {
  state.conn = conn;
  renderStatus();
}

function renderStatus() {
  let cls = state.conn;
  let text = { connecting: 'connecting', live: 'live', reconnecting: 'reconnecting', disconnected: 'disconnected' }[cls];
  if (cls === 'live' && state.lastEventAt && Date.now() - state.lastEventAt > 20000) {
    cls = 'reconnecting';
    text = 'no new samples';
  }
  els.dot.className = 'dot ' + cls;
  setText(els.statusText, text);
}

// ---------------------------------------------------------------- history + live stream

// Loads the history window. It waits (briefly) for the first live sample and ends the range just
// before it, so the range and the stream meet without overlap or a hole.
function requestLoad() {
  clearTimeout(state.loadTimer);
  clearTimeout(state.retryTimer);
  if (state.loadAbort) state.loadAbort.abort();
  state.loading = true;
  state.loadStarted = false;
  state.buffer = [];
  state.loadTimer = setTimeout(() => runLoad(null), FIRST_EVENT_WAIT);
}

async function runLoad(firstLiveBucket) {
  clearTimeout(state.loadTimer);
  state.loadStarted = true;
  const gen = state.gen;
  const ctl = new AbortController();
  state.loadAbort = ctl;
  const end = firstLiveBucket != null ? firstLiveBucket - STEP : Math.floor(serverClock.now()) - STEP;
  const start = end - WINDOW + STEP;
  const sels = chartSelectors(state.instance);
  let results;
  try {
    results = await Promise.all(
      [...sels].map(([sel, input]) => queryRange(sel, start, end, STEP, ctl.signal).then((r) => ({ input, r }))),
    );
  } catch (e) {
    if (e.name === 'AbortError' || gen !== state.gen) return;
    showError('history', `Could not load the last 15 minutes: ${e.message}`);
    results = null;
  }
  if (gen !== state.gen || ctl.signal.aborted) return;
  state.loadAbort = null;
  if (results) {
    clearError('history');
    for (const m of Object.values(models)) m.reset();
    for (const { input, r } of results) {
      for (const s of r) {
        const metric = s.metric || {};
        const rs = routes.get(metric.__name__) || [];
        // A selector answers for one input; route by name for safety anyway.
        for (const route of rs) {
          if (route.input === input && !excluded(input, metric)) route.model.ingest(metric, input, toSamples(s.values || []));
        }
      }
    }
  } else {
    state.retryTimer = setTimeout(() => gen === state.gen && requestLoad(), 10000);
  }
  state.loading = false;
  const buffered = state.buffer;
  state.buffer = [];
  for (const list of buffered) ingestSeries(list);
  lastFlush = 0;
  scheduleFlush();
}

function openStream() {
  closeStream();
  if (typeof EventSource === 'undefined') {
    showError('live', 'This browser has no EventSource: live updates are off.');
    return;
  }
  const gen = state.gen;
  const url = liveURL(chartSelectors(state.instance).keys());
  const es = new EventSource(url);
  state.es = es;
  es.onopen = () => {
    if (gen !== state.gen) return;
    clearError('live');
    setConn('live');
    // After a reconnect, re-load the window to fill the gap.
    if (state.streamBroken) {
      state.streamBroken = false;
      requestLoad();
    }
  };
  es.onerror = () => {
    if (gen !== state.gen) return;
    state.streamBroken = true;
    if (es.readyState === EventSource.CLOSED) {
      setConn('disconnected');
      showError('live', 'Live stream closed by the server; retrying…');
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(() => gen === state.gen && openStream(), RECONNECT_DELAY);
    } else {
      setConn('reconnecting');
    }
  };
  es.addEventListener('samples', (ev) => {
    if (gen !== state.gen) return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    const list = msg && Array.isArray(msg.series) ? msg.series : [];
    state.lastEventAt = Date.now();
    if (state.conn !== 'live') setConn('live');
    if (state.loading) {
      state.buffer.push(list);
      if (!state.loadStarted) {
        let first = Infinity;
        for (const s of list) for (const v of s.values || []) first = Math.min(first, bucketOf(Number(v[0])));
        if (Number.isFinite(first)) runLoad(first);
      }
      return;
    }
    ingestSeries(list);
  });
}

function closeStream() {
  clearTimeout(state.reconnectTimer);
  if (state.es) {
    state.es.close();
    state.es = null;
  }
}

// ---------------------------------------------------------------- host info and filesystems

function lastValue(r) {
  const v = r && r.values && r.values.length ? r.values[r.values.length - 1] : null;
  return v ? { t: Number(v[0]), v: parseValue(v[1]) } : null;
}

async function loadHostInfo() {
  const gen = state.gen;
  const inst = state.instance;
  const end = Math.floor(serverClock.now());
  const q = (name) => queryRange(selector(name, { instance: inst }), end - 300, end, 30).catch(() => []);
  const [uname, boot, time] = await Promise.all([q('node_uname_info'), q('node_boot_time_seconds'), q('node_time_seconds')]);
  if (gen !== state.gen) return;
  const info = { nodename: inst, release: '', machine: '', sysname: '', uptimeAt: null, at: 0 };
  if (uname.length) {
    const m = uname[0].metric;
    info.nodename = m.nodename || inst;
    info.release = m.release || '';
    info.machine = m.machine || '';
    info.sysname = m.sysname || '';
  }
  const b = lastValue(boot[0]);
  const t = lastValue(time[0]);
  if (b && Number.isFinite(b.v)) {
    if (t && Number.isFinite(t.v)) {
      info.uptimeAt = t.v - b.v;
      info.at = t.t;
    } else {
      info.uptimeAt = end - b.v;
      info.at = end;
    }
  }
  state.host = info;
  renderHost();
}

function renderHost() {
  const info = state.host;
  const name = info ? info.nodename : state.instance || '';
  setText(els.host, name);
  document.title = state.instance ? `${name} · dashdot` : 'dashdot';
  const parts = [];
  if (info && info.nodename !== state.instance && state.instance) parts.push(state.instance);
  if (info && (info.sysname || info.release)) parts.push([info.sysname, info.release].filter(Boolean).join(' '));
  if (info && info.machine) parts.push(info.machine);
  const meta = parts.map((p) => h('span', null, p));
  if (info && info.uptimeAt != null) meta.push(h('span', null, 'up ', els.uptime));
  els.meta.replaceChildren(...meta);
  tickUptime();
}

function tickUptime() {
  const info = state.host;
  if (!info || info.uptimeAt == null) return;
  setText(els.uptime, fmtDuration(info.uptimeAt + Math.max(0, serverClock.now() - info.at)));
}

async function loadFilesystems() {
  const gen = state.gen;
  const inst = state.instance;
  const end = Math.floor(serverClock.now());
  try {
    const [size, avail] = await Promise.all(
      ['node_filesystem_size_bytes', 'node_filesystem_avail_bytes'].map((n) =>
        queryRange(selector(n, { instance: inst }), end - 120, end, 30),
      ),
    );
    if (gen !== state.gen) return;
    clearError('fs');
    fsPanel.update(size, avail);
  } catch (e) {
    if (gen === state.gen) showError('fs', `Could not load filesystems: ${e.message}`);
  }
}

// ---------------------------------------------------------------- instances and host switching

function hashInstance() {
  return new URLSearchParams(location.hash.slice(1)).get('instance');
}

function renderPicker() {
  const sel = els.picker;
  sel.hidden = state.instances.length < 2;
  const cur = [...sel.options].map((o) => o.value).join('\n');
  if (cur !== state.instances.join('\n')) {
    sel.replaceChildren(...state.instances.map((i) => h('option', { value: i }, i)));
  }
  if (state.instance) sel.value = state.instance;
}

els.picker.addEventListener('change', () => {
  const p = new URLSearchParams(location.hash.slice(1));
  p.set('instance', els.picker.value);
  location.hash = p.toString();
});
window.addEventListener('hashchange', () => {
  if (!dashActive) return;
  const want = hashInstance();
  if (want && want !== state.instance && state.instances.includes(want)) switchTo(want);
});

function switchTo(instance) {
  state.gen++;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  clearTimeout(state.loadTimer);
  clearTimeout(state.retryTimer);
  if (state.loadAbort) state.loadAbort.abort();
  closeStream();
  state.instance = instance;
  state.host = null;
  state.lastEventAt = 0;
  state.streamBroken = false;
  for (const m of Object.values(models)) m.reset();
  for (const p of panels) p.clear();
  fsPanel.clear();
  errors.delete('history');
  errors.delete('live');
  errors.delete('fs');
  renderErrors();
  renderPicker();
  renderHost();
  setConn('connecting');
  requestLoad();
  openStream();
  loadHostInfo();
  loadFilesystems();
  state.timers.push(setInterval(loadHostInfo, HOSTINFO_EVERY), setInterval(loadFilesystems, FS_EVERY));
}

let instancesTimer = 0;
async function refreshInstances() {
  clearTimeout(instancesTimer);
  let list;
  try {
    // Hosts are what agents report their own metrics as (job="dashdot"); probes and event
    // counters carry instance labels of devices that have no host charts.
    list = await labelValues('instance', undefined, '{job="dashdot"}');
    if (!dashActive) return;
    clearError('instances');
  } catch (e) {
    if (!dashActive) return;
    showError('instances', `Could not list hosts: ${e.message}`);
    setConn(state.instance ? state.conn : 'disconnected');
    instancesTimer = setTimeout(refreshInstances, 5000);
    return;
  }
  state.instances = [...new Set(list.map(String))].sort();
  if (!state.instances.length) {
    els.notice.hidden = false;
    setText(els.notice, 'No host has reported yet — waiting for the first samples…');
    instancesTimer = setTimeout(refreshInstances, 3000);
    return;
  }
  els.notice.hidden = true;
  renderPicker();
  if (!state.instance) {
    const want = hashInstance();
    if (want && !state.instances.includes(want)) showError('instances', `Host "${want}" has no data; showing ${state.instances[0]}.`);
    switchTo(want && state.instances.includes(want) ? want : state.instances[0]);
  }
  instancesTimer = setTimeout(refreshInstances, INSTANCES_EVERY);
}

setInterval(() => {
  tickUptime();
  if (state.conn === 'live') renderStatus();
}, 1000);

// A hidden tab gets no animation frames; draw what arrived meanwhile when it is shown again.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) scheduleFlush();
});

// ---------------------------------------------------------------- dashboard on/off

// The dashboard streams only while it is shown; Settings pages stop it and it restarts (history
// re-loaded) when the user comes back.
let dashActive = false;
function startDashboard() {
  if (dashActive) return;
  dashActive = true;
  if (state.instance) switchTo(state.instance);
  refreshInstances();
}
function stopDashboard() {
  if (!dashActive) return;
  dashActive = false;
  state.gen++;
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  clearTimeout(state.loadTimer);
  clearTimeout(state.retryTimer);
  clearTimeout(instancesTimer);
  if (state.loadAbort) state.loadAbort.abort();
  state.loadAbort = null;
  closeStream();
  setConn('connecting');
}

// ---------------------------------------------------------------- routes

// "#/settings/device/7?x=1" -> {page: true, parts: ['settings','device','7'], query}; anything
// else ("", "#/", "#instance=web-1") is the dashboard.
function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  if (!raw.startsWith('/')) return { page: false };
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  if (!parts.length) return { page: false };
  return { page: true, parts, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

let pagesModule = null;
let eventsModule = null; // #/events (events.js)
let routeSeq = 0;
async function route() {
  const r = parseHash();
  const seq = ++routeSeq;
  const dash = !r.page;
  els.dashView.hidden = !dash;
  els.pageView.hidden = dash;
  els.hostBox.hidden = !dash;
  els.status.hidden = !dash;
  els.picker.hidden = !dash || state.instances.length < 2;
  const events = !dash && r.parts[0] === 'events';
  const cur = dash ? els.navDash : events ? els.navEvents : els.navSettings;
  for (const a of [els.navDash, els.navEvents, els.navSettings]) {
    if (a === cur) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (dash) {
    document.title = 'dashdot';
    startDashboard();
    if (state.instance) renderHost();
    return;
  }
  stopDashboard();
  try {
    if (events && !eventsModule) eventsModule = import('./events.js');
    if (!events && !pagesModule) pagesModule = import('./settings.js');
    const m = await (events ? eventsModule : pagesModule);
    if (seq !== routeSeq) return;
    m.render(r, els.pageView);
  } catch (e) {
    if (events) eventsModule = null;
    else pagesModule = null;
    if (seq !== routeSeq) return;
    els.pageView.replaceChildren(h('div', { class: 'page' }, h('p', { class: 'msg error', role: 'alert' }, `Could not load this page: ${e.message}`)));
  }
}
window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- user in the top bar

function renderUser() {
  const u = session.user;
  els.navUser.hidden = !u;
  els.navLogout.hidden = !u;
  setText(els.navUser, u ? u.display_name || u.name || '' : '');
  if (u) els.navUser.title = `${u.name} (${session.role || u.role || ''})`;
}
onSessionChange(renderUser);

async function doLogout() {
  els.navLogout.disabled = true;
  try {
    await logout();
  } catch {
    /* the session is forgotten locally either way */
  } finally {
    els.navLogout.disabled = false;
  }
  if (location.hash === '#/login') route();
  else location.hash = '#/login';
}

route();
// Show who is logged in on the (open) dashboard too, but only ask when a session is likely.
if (!parseHash().page && maybeLoggedIn()) loadMe().catch(() => {});
