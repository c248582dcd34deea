// Probes in the Settings area: a probe's live state (GET /api/v1/probe/<id>/status, polled every
// schedule interval), its schedules, a "Test" panel (POST /api/v1/probe/<id>/test from a chosen
// agent, the verdict and samples shown inline) and its latency chart (probechart.js). The same
// probe card is used on the device page (per endpoint) and on the probe's own page; state badges
// also appear in the probe list.
import { serverClock } from './api.js';
import { request } from './auth.js';
import {
  canRead,
  canWriteHere,
  displayOf,
  drawDetailHead,
  errorText,
  fieldList,
  fmtTime,
  message,
  modelTitle,
  none,
  objectHash,
} from './catalog.js';
import { h, setText } from './dom.js';
import { fmtSeconds, ProbeChart } from './probechart.js';

const MIN_POLL_MS = 2000;
const MAX_POLL_MS = 60000;
// Labels every probe sample carries (docs/probes.md); the test table shows only the others.
const COMMON_LABELS = new Set(['instance', 'job', 'probe', 'probe_id', 'target', 'device', 'endpoint', 'vantage']);

// ---------------------------------------------------------------- shared per page draw

// Agents (the vantage points) are loaded once per page draw and shared by every probe card.
const agentLists = new WeakMap();
export function agentsFor(ctx, schema) {
  let p = agentLists.get(ctx);
  if (!p) {
    const m = schema.byName.get('agent');
    p =
      m && canRead(m)
        ? request('GET', `/api/v1/agent?limit=1000&sort=${encodeURIComponent(m.display || 'name')}`).then(
            (r) => (Array.isArray(r.data) ? r.data : []),
            () => [],
          )
        : Promise.resolve([]);
    agentLists.set(ctx, p);
  }
  return p;
}

function agentLabel(schema, a) {
  return displayOf(schema.byName.get('agent'), a);
}

// An agent in the Test picker; one not heard from for 2 minutes says so (a test would time out).
function agentOption(schema, a) {
  const seen = a.last_seen ? Date.parse(a.last_seen) : NaN;
  const age = (serverClock.now() * 1000 - seen) / 1000;
  const name = agentLabel(schema, a);
  return Number.isFinite(age) && age > 120 ? `${name} (last seen ${fmtAgo(age)})` : name;
}

// ---------------------------------------------------------------- small pieces

const STATE_CLASS = {
  up: 'up',
  down: 'down',
  partial: 'partial',
  misconfigured: 'partial',
  stale: 'unknown',
  'no data': 'unknown',
};

const STATE_HELP = {
  up: 'every vantage point succeeded in its last run',
  down: 'every vantage point failed in its last run',
  partial: 'some vantage points failed in their last run',
  misconfigured: 'the probe cannot run as configured',
  stale: 'no recent result (nothing for two intervals)',
  'no data': 'no result yet',
};

// A colored badge with the state's name as its text (up, down, partial, stale, no data, ...).
export function stateBadge(state) {
  const s = state || 'no data';
  return h('span', { class: `state-badge state-${STATE_CLASS[s] || 'unknown'}`, 'data-state': s, title: STATE_HELP[s] || s }, s);
}

export function fmtAgo(sec) {
  if (sec == null || !Number.isFinite(sec)) return '';
  const s = Math.max(0, sec);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// "30s" / 30000 -> "30 s", for schedule summaries.
function fmtInterval(v) {
  if (typeof v === 'number') return fmtSeconds(v / 1000);
  return v == null || v === '' ? '?' : String(v);
}

function fmtValue(metric, v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  if (/_timestamp_seconds$|^probe_ssl_earliest_cert_expiry$/.test(metric) && v > 1e8) return `${fmtTime(v * 1000)}`;
  if (/_seconds$/.test(metric)) return fmtSeconds(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(6)).toString();
}

function labelChips(labels) {
  const rest = Object.entries(labels || {}).filter(([k]) => !COMMON_LABELS.has(k) && k !== '__name__');
  if (!rest.length) return none();
  return h(
    'span',
    { class: 'chips' },
    rest.map(([k, v]) => h('span', { class: 'chip label-chip' }, h('span', { class: 'muted' }, `${k}=`), String(v))),
  );
}

// ---------------------------------------------------------------- test panel

// The "Test" form: an agent picker (default: `defaultAgent`, else the first agent; "this server"
// last) and a button; the result (verdict, duration, message, samples) shows below it.
export function testPanel(ctx, schema, probe, agents, defaultAgent) {
  const id = `test-agent-${probe.id}`;
  const sel = h(
    'select',
    { id, name: 'agent' },
    agents.map((a) => h('option', { value: String(a.id), selected: String(a.id) === String(defaultAgent) }, agentOption(schema, a))),
    h('option', { value: '', selected: !agents.length }, 'this server'),
  );
  const btn = h('button', { type: 'submit', class: 'btn' }, 'Test');
  const out = h('div', { class: 'test-result', 'aria-live': 'polite', 'data-test-result': probe.id });
  const form = h(
    'form',
    { class: 'probe-test', 'aria-label': `Test ${displayOf(schema.byName.get('probe'), probe)}` },
    h('div', { class: 'test-row' }, h('label', { for: id }, 'Test from'), sel, btn),
    out,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const agentId = sel.value === '' ? null : Number(sel.value);
    const from = sel.value === '' ? 'this server' : sel.options[sel.selectedIndex].textContent;
    btn.disabled = true;
    out.dataset.state = 'running';
    out.replaceChildren(h('p', { class: 'loading' }, h('span', { class: 'spinner inline' }), ` testing from ${from}…`));
    const t0 = performance.now();
    try {
      const r = await request('POST', `/api/v1/probe/${probe.id}/test`, { agent: agentId });
      if (!ctx.alive()) return;
      out.dataset.state = r.data && r.data.success ? 'succeeded' : 'failed';
      out.replaceChildren(...testResult(r.data || {}, from));
    } catch (e) {
      if (!ctx.alive()) return;
      out.dataset.state = 'error';
      const waited = Math.round((performance.now() - t0) / 1000);
      let text;
      if (e.status === 504) text = `No answer from ${from} after ${waited} s: ${e.message}`;
      else if (e.status === 422) text = `The probe cannot run: ${e.message}`;
      else if (e.status === 503) text = e.message;
      else text = errorText(e);
      out.replaceChildren(message('error', text));
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function testResult(d, from) {
  const ok = !!d.success;
  const dur = fmtSeconds(Number(d.duration_seconds));
  let verdict;
  if (ok) verdict = `succeeded in ${dur}`;
  else if (d.timed_out) verdict = `timed out after ${dur}`;
  else verdict = `failed in ${dur}`;
  const head = h(
    'p',
    { class: `test-verdict ${ok ? 'ok' : 'fail'}` },
    h('span', { class: 'mark', 'aria-hidden': 'true' }, ok ? '✓ ' : '✗ '),
    h('strong', null, verdict),
    ` from ${from}`,
    d.message ? h('span', { class: 'test-message' }, `: ${d.message}`) : null,
  );
  const samples = Array.isArray(d.samples) ? d.samples : [];
  if (!samples.length) return [head, h('p', { class: 'muted small' }, 'No samples.')];
  const table = h(
    'table',
    { class: 'data compact samples', 'aria-label': 'Samples of the test run' },
    h('thead', null, h('tr', null, ['Metric', 'Labels', 'Value'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      null,
      samples.map((s) =>
        h(
          'tr',
          { 'data-metric': s.metric },
          h('td', null, h('code', null, String(s.metric))),
          h('td', null, labelChips(s.labels)),
          h('td', { class: 'num', title: String(s.value) }, fmtValue(String(s.metric), s.value)),
        ),
      ),
    ),
  );
  return [head, h('div', { class: 'table-wrap samples-wrap' }, table)];
}

// ---------------------------------------------------------------- the probe card

// Loads what a card needs (agents, schedules of the probe) and returns the card's element; it
// polls the probe's state and chart while ctx is alive. opts.title: show the probe's name (device
// page); opts.back: hash that forms opened from the card come back to.
export async function probeCard(ctx, schema, probe, opts = {}) {
  const probeModel = schema.byName.get('probe');
  const schedModel = schema.byName.get('telemetry');
  const canTest = canWriteHere(probeModel);
  const canSchedule = schedModel && canWriteHere(schedModel);
  const [agents, schedules] = await Promise.all([
    agentsFor(ctx, schema),
    schedModel && canRead(schedModel)
      ? request('GET', `/api/v1/telemetry?probe=${probe.id}&limit=1000`).then(
          (r) => (Array.isArray(r.data) ? r.data : []),
          (e) => ({ error: errorText(e) }),
        )
      : Promise.resolve([]),
  ]);
  const scheds = Array.isArray(schedules) ? schedules : [];
  const agentById = new Map(agents.map((a) => [String(a.id), a]));
  const name = displayOf(probeModel, probe);
  const back = opts.back || location.hash;
  const scheduleHref = `#/settings/telemetry/new?probe=${probe.id}&next=${encodeURIComponent(back)}`;

  // Head: state, name, type, actions.
  const badgeBox = h('span', { class: 'badge-box' }, stateBadge(null));
  const head = h(
    'div',
    { class: 'probe-head' },
    badgeBox,
    opts.title ? h('a', { class: 'probe-name', href: objectHash('probe', probe.id) }, name) : null,
    h('span', { class: 'meta-item' }, probe.type || '?'),
    probe.enabled === false ? h('span', { class: 'meta-item off' }, 'disabled') : null,
    h('div', { class: 'spacer' }),
    canSchedule
      ? h('a', { class: 'btn small', href: scheduleHref, 'aria-label': `Schedule ${name}` }, 'Schedule…')
      : null,
  );

  // Per vantage point: ✓/✗, latency, age; filled by each poll.
  const vantagesEl = h('ul', { class: 'vantages', 'aria-label': `Last results of ${name}` });
  const errorEl = h('p', { class: 'probe-error', hidden: true });

  // Schedules (with the agents' names).
  const schedEl = h('div', { class: 'schedules' });
  const schedLine = (s) => {
    const ids = Array.isArray(s.agents) ? s.agents : [];
    const who = ids.length
      ? ids.map((id) => {
          const a = agentById.get(String(id));
          return a ? agentLabel(schema, a) : `agent #${id}`;
        })
      : ['the server'];
    return h(
      'li',
      { class: s.enabled === false ? 'off' : null, 'data-schedule': s.id },
      h('a', { href: objectHash('telemetry', s.id) }, `every ${fmtInterval(s.interval)}`),
      ` from ${who.join(', ')}`,
      h('span', { class: 'muted' }, ` · timeout ${fmtInterval(s.timeout)}`),
      s.enabled === false ? h('span', { class: 'muted' }, ' · disabled') : null,
    );
  };
  if (schedules && schedules.error) schedEl.append(message('error', `Schedules: ${schedules.error}`));
  else if (scheds.length)
    schedEl.append(h('span', { class: 'muted' }, scheds.length === 1 ? 'Schedule: ' : 'Schedules: '), h('ul', { class: 'sched-list' }, scheds.map(schedLine)));
  else
    schedEl.append(
      h('span', { class: 'muted' }, canTest ? 'Not scheduled: it runs only when tested. ' : 'Not scheduled.'),
      ...(canSchedule ? [h('a', { href: scheduleHref }, 'Schedule it…')] : []),
    );

  // Test panel: default agent = the first of the probe's schedules, else the first agent.
  const firstSched = scheds.find((s) => s.enabled !== false && Array.isArray(s.agents) && s.agents.length) ||
    scheds.find((s) => Array.isArray(s.agents) && s.agents.length);
  const defaultAgent = firstSched ? firstSched.agents[0] : agents.length ? agents[0].id : null;
  const test = canTest ? testPanel(ctx, schema, probe, agents, defaultAgent) : null;

  // The chart, once the probe is scheduled (or has results).
  const chart = new ProbeChart(probe.id, `Latency of ${name} over the last hour`);
  const chartBox = h('div', { class: 'chart-box' });

  const el = h(
    'div',
    { class: 'probe-card', 'data-probe': probe.id, 'data-id': probe.id },
    head,
    vantagesEl,
    errorEl,
    schedEl,
    test,
    chartBox,
  );

  // ---- polling
  let intervalMs = 30000;
  let fetchedAt = 0;
  let last = null;
  let nextAt = 0;
  let wasConnected = false;
  const ageEls = [];

  const drawStatus = (st) => {
    badgeBox.replaceChildren(stateBadge(st.state));
    el.dataset.state = st.state || '';
    errorEl.hidden = !st.error;
    setText(errorEl, st.error ? String(st.error) : '');
    ageEls.length = 0;
    const vs = Array.isArray(st.vantages) ? st.vantages : [];
    if (!vs.length) {
      vantagesEl.replaceChildren(scheds.length ? h('li', { class: 'muted small none-yet' }, 'no results yet') : '');
      vantagesEl.hidden = !scheds.length;
      return;
    }
    vantagesEl.hidden = false;
    vantagesEl.replaceChildren(
      ...vs.map((v) => {
        const ok = !!v.success;
        const age = h('span', { class: 'age' });
        ageEls.push({ el: age, base: Number(v.age_seconds) });
        return h(
          'li',
          { class: `vantage ${ok ? 'ok' : 'fail'}${v.stale ? ' stale' : ''}`, 'data-vantage': v.vantage },
          h('span', { class: 'mark', role: 'img', 'aria-label': ok ? 'succeeded' : 'failed' }, ok ? '✓' : '✗'),
          h('span', { class: 'vantage-name' }, v.vantage || 'server'),
          h('span', { class: 'latency' }, fmtSeconds(Number(v.duration_seconds))),
          age,
          v.stale ? h('span', { class: 'stale-tag' }, 'stale') : null,
        );
      }),
    );
    tickAges();
  };

  const tickAges = () => {
    const extra = (Date.now() - fetchedAt) / 1000;
    for (const a of ageEls) setText(a.el, Number.isFinite(a.base) ? fmtAgo(a.base + extra) : '');
  };

  const refresh = async () => {
    try {
      const r = await request('GET', `/api/v1/probe/${probe.id}/status`);
      if (!ctx.alive()) return;
      last = r.data || {};
      fetchedAt = Date.now();
      if (Number(last.interval_ms) > 0) intervalMs = Number(last.interval_ms);
      drawStatus(last);
    } catch (e) {
      if (!ctx.alive()) return;
      errorEl.hidden = false;
      setText(errorEl, `State: ${errorText(e)}`);
    }
    const charted = scheds.length || (last && Array.isArray(last.vantages) && last.vantages.length);
    if (charted) {
      if (!chartBox.firstChild) chartBox.append(chart.el);
      chart.setInterval(intervalMs);
      try {
        await chart.refresh();
        if (chartBox.childNodes.length > 1) chartBox.replaceChildren(chart.el);
      } catch (e) {
        if (ctx.alive()) chartBox.replaceChildren(chart.el, message('error', `Chart: ${errorText(e)}`));
      }
    }
  };

  // Once a second: ages tick; every poll period (the schedule interval): state and chart.
  const loop = async () => {
    if (!ctx.alive() || (wasConnected && !el.isConnected)) {
      chart.destroy();
      return;
    }
    if (el.isConnected) wasConnected = true;
    if (!document.hidden && Date.now() >= nextAt) {
      await refresh();
      nextAt = Date.now() + Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, intervalMs)) - 100;
    }
    tickAges();
    setTimeout(loop, 1000);
  };
  // Start once the caller has put the card in the page (the chart needs a width).
  requestAnimationFrame(() => loop());
  return el;
}

// ---------------------------------------------------------------- probe page

// #/settings/probe/<id>: the probe's fields, then its card (state, schedules, Test, chart).
export async function renderProbePage(ctx, page, schema, m, id, saved) {
  const r = await request('GET', `/api/v1/probe/${id}`);
  if (!ctx.alive()) return;
  const probe = r.data;
  drawDetailHead(page, schema, m, probe);
  if (saved) {
    page.append(
      message(
        'info',
        `${modelTitle(m)} ${saved === 'created' ? 'created' : 'saved'}. `,
        canWriteHere(m) ? 'Test it below from an agent, or schedule it to run regularly.' : '',
      ),
    );
  }
  const cardBox = h('section', { class: 'card', 'aria-labelledby': 'probe-state-title' }, h('div', { class: 'section-head' }, h('h2', { id: 'probe-state-title' }, canWriteHere(m) ? 'State, schedules and test' : 'State and schedules')));
  page.append(cardBox, h('section', { class: 'card', 'aria-label': `${modelTitle(m)} fields` }, fieldList(schema, m, probe)));
  const loading = h('p', { class: 'loading' }, 'loading…');
  cardBox.append(loading);
  try {
    const card = await probeCard(ctx, schema, probe, { title: false, back: objectHash('probe', id) });
    if (!ctx.alive()) return;
    loading.replaceWith(card);
  } catch (e) {
    if (ctx.alive()) loading.replaceWith(message('error', errorText(e)));
  }
}

// ---------------------------------------------------------------- probe list

// State badges for the rows of the probe list (a few status requests at a time).
export async function fillStateCells(ctx, cells) {
  const queue = [...cells];
  const worker = async () => {
    while (queue.length && ctx.alive()) {
      const [id, td] = queue.shift();
      try {
        const r = await request('GET', `/api/v1/probe/${id}/status`);
        if (!ctx.alive()) return;
        td.replaceChildren(stateBadge(r.data && r.data.state));
      } catch (e) {
        if (ctx.alive()) td.replaceChildren(h('span', { class: 'muted small', title: errorText(e) }, '?'));
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}
