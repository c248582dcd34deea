#!/usr/bin/env node
// Browser test of probes in the Settings area against a running `dashdot demo` (a server with
// its local agent).
//
//   DASHDOT_URL=http://127.0.0.1:9100 DASHDOT_ADMIN_PASSWORD=... [DASHDOT_SCREENSHOT=/tmp/ui.png] \
//     node tests/e2e/probes.test.mjs
//
// Logs in as admin, creates a device, an endpoint (127.0.0.1 and the port of the server under
// test) and a TCP probe on it through the forms; on the probe's page presses "Test" with the
// demo's agent chosen and expects "succeeded" and the samples; follows "Schedule…" to a schedule
// form pre-filled with the probe, picks that agent, 2 s interval, 1 s timeout; then on the device
// page waits for the probe's state to turn "up" with the agent as vantage point and for its
// latency chart to have points. With DASHDOT_SECOND_AGENT (the instance name of a second agent
// of the same server, as run.sh starts one) the schedule names both agents and both must show as
// vantage points, in the state and in the chart, and a Test from the device page uses the
// second one. Finally a viewer (created through the API) sees the state but no
// Test button and no "Schedule…" link. Fails on console / page errors and on unexpected HTTP
// error answers. Prints "ok - name" / "not ok - name: reason" lines and "N passed, N failed";
// exits 0 when all passed, 1 otherwise, 2 when misconfigured.
import { CHROMIUM, CHROMIUM_ARGS, harness, loadChromium, sleep } from './harness.mjs';

const HARD_TIMEOUT_MS = 150_000;
const STEP_TIMEOUT_MS = 30_000;
const RUN = Date.now().toString(36);
const DEVICE = `e2e-probe-dev-${RUN}`;
const PROBE = `e2e-tcp-${RUN}`;
const VIEWER = `e2e-viewer-${RUN}`;
const VIEWER_PW = `viewer-pw-${RUN}-x`;

const base = process.env.DASHDOT_URL;
const password = process.env.DASHDOT_ADMIN_PASSWORD;
if (!base || !password) {
  console.error('probes.test: set DASHDOT_URL (the server under test) and DASHDOT_ADMIN_PASSWORD (the password of user admin)');
  process.exit(2);
}
const SECOND = process.env.DASHDOT_SECOND_AGENT || '';
const serverPort = new URL(base).port || (new URL(base).protocol === 'https:' ? '443' : '80');

const chromium = loadChromium('probes.test');
const T = harness('probes-test', HARD_TIMEOUT_MS);
const { ok, notOk, check } = T;

async function step(name, fn) {
  try {
    const r = await fn();
    if (r === false) return false;
    ok(name);
    return true;
  } catch (e) {
    notOk(name, e && e.message ? e.message.split('\n').slice(0, 8).join(' ') : e);
    return false;
  }
}
class Stop extends Error {}
async function must(name, fn) {
  if (!(await step(name, fn))) throw new Stop(name);
}

// HTTP error answers this flow provokes on purpose; anything else >= 400 is a problem.
function expectedError(method, path, status) {
  if (status === 401 && (path === '/api/v1/auth/login' || path === '/api/v1/auth/me')) return true;
  if (status === 404 && method === 'GET' && /^\/api\/v1\/device\/\d+\/inventory(\/history)?$/.test(path)) return true; // no inventory yet
  return false;
}

async function waitHash(page, re, what) {
  await page.waitForFunction((src) => new RegExp(src).test(location.hash), re.source, { timeout: STEP_TIMEOUT_MS }).catch(() => {
    throw new Error(`expected ${what} (hash ${re}), at ${page.url()}`);
  });
  return page.evaluate((src) => location.hash.match(new RegExp(src)), re.source);
}

// The form's messages, for a failure reason.
async function formSays(page) {
  const errs = await page.locator('.field-error:not(:empty), .form-messages .msg').allTextContents().catch(() => []);
  return errs.join(' | ') || 'nothing';
}

async function login(page, user, pw) {
  await page.goto(new URL('/#/login', base).toString());
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(pw);
  await page.getByRole('button', { name: 'Log in' }).click();
  try {
    await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
  } catch (e) {
    const msg = await page.locator('#login-error').textContent().catch(() => '');
    throw new Error(`${e.message.split('\n')[0]}; login form says: ${msg || 'nothing'}`);
  }
}

async function logout(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
}

async function main() {
  const problems = [];
  const httpErrors = [];
  const context = (T.context = await chromium.launchPersistentContext(T.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    timeout: 30_000,
  }));
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of \d+/.test(msg.text())) return; // judged below
    problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    const f = req.failure();
    const u = req.url();
    if (u.includes('/api/v1/live') || u.includes('/api/v1/events/live')) return; // live streams, cut on navigation
    // Polls (state, chart, dashboard history) cut short by leaving the page.
    if (f && /ERR_ABORTED/.test(f.errorText) && /\/api\/v1\/(query_range|probe\/\d+\/status|telemetry|agent|probe\?|endpoint\?)/.test(u)) return;
    problems.push(`request failed: ${req.method()} ${u} ${f ? f.errorText : ''}`);
  });
  page.on('response', (res) => {
    const status = res.status();
    if (status < 400) return;
    const req = res.request();
    const path = new URL(res.url()).pathname;
    if (!expectedError(req.method(), path, status)) httpErrors.push(`${req.method()} ${path} -> ${status}`);
  });
  const api = async (method, path, body) => {
    const me = await page.request.get(new URL('/api/v1/auth/me', base).toString());
    const csrf = me.ok() ? (await me.json()).data.csrf : null;
    const r = await page.request.fetch(new URL(path, base).toString(), {
      method,
      headers: { 'Content-Type': 'application/json', ...(csrf ? { 'X-CSRF-Token': csrf } : {}) },
      data: body === undefined ? undefined : JSON.stringify(body),
    });
    let j = null;
    try {
      j = await r.json();
    } catch {
      /* not JSON */
    }
    return { status: r.status(), body: j };
  };

  const resp = await page.goto(new URL('/', base).toString(), { waitUntil: 'domcontentloaded', timeout: 20_000 });
  check('page loads', resp && resp.ok(), `HTTP ${resp ? resp.status() : 'no response'}`);
  await must('admin logs in', () => login(page, 'admin', password));

  // The demo's local agent: the vantage point of this test (and the second agent, if any).
  let agent;
  let agent2 = null;
  await must(SECOND ? `the demo's agent and ${SECOND} are enrolled` : "the demo's agent is enrolled", async () => {
    const until = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const r = await api('GET', '/api/v1/agent?limit=100&sort=id');
      const list = (r.body && r.body.data) || [];
      agent = list.find((a) => a.name !== SECOND);
      agent2 = SECOND ? list.find((a) => a.name === SECOND) : null;
      if (agent && (!SECOND || agent2)) return;
      if (Date.now() > until) throw new Error(`GET /api/v1/agent lists ${JSON.stringify(list.map((a) => a.name))} (HTTP ${r.status})`);
      await sleep(500);
    }
  });
  const vantages = agent2 ? [agent.name, agent2.name] : [agent.name];

  // ---- device, endpoint, probe through the forms
  await page.goto(new URL('/#/settings/device/new', base).toString());
  await must('device form opens', () => page.getByLabel(/^name$/i).waitFor());
  await page.getByLabel(/^name$/i).fill(DEVICE);
  await page.getByLabel(/^kind$/i).selectOption('server');
  await page.getByRole('button', { name: 'Create' }).click();
  let deviceId;
  await must('device created', async () => {
    const m = await waitHash(page, /^#\/settings\/device\/(\d+)$/, 'the device page');
    deviceId = Number(m[1]);
    await page.getByRole('heading', { name: DEVICE, exact: true }).waitFor();
  });

  await page.getByRole('link', { name: /^Add endpoint/i }).click();
  await must('endpoint form opens', () => page.getByLabel(/^address$/i).waitFor());
  await page.getByLabel(/^address$/i).fill('127.0.0.1');
  await page.getByLabel(/^port$/i).fill(serverPort);
  await page.getByLabel(/^protocol$/i).selectOption('tcp');
  await page.getByRole('button', { name: 'Create' }).click();
  let endpointId;
  await must(`endpoint 127.0.0.1:${serverPort} created`, async () => {
    try {
      const m = await waitHash(page, /^#\/settings\/endpoint\/(\d+)$/, 'the endpoint detail');
      endpointId = Number(m[1]);
    } catch (e) {
      throw new Error(`${e.message}; form says: ${await formSays(page)}`);
    }
  });

  await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
  await must('"Add probe" on the endpoint opens the probe form', async () => {
    await page.locator(`.endpoint[data-id="${endpointId}"]`).getByRole('link', { name: /^Add probe/i }).click();
    await page.getByLabel(/^type$/i).waitFor();
  });
  await page.getByLabel(/^name$/i).fill(PROBE);
  await page.getByLabel(/^type$/i).selectOption('tcp');
  await step('TCP settings render (checkbox, select)', async () => {
    await page.getByLabel('TLS', { exact: true }).waitFor();
    if (await page.getByLabel('TLS', { exact: true }).isChecked()) throw new Error('TLS is on by default');
    if (!(await page.getByLabel('Verify TLS certificate', { exact: true }).isChecked())) throw new Error('Verify TLS is off by default');
    const ipv = await page.getByLabel('IP version', { exact: true }).inputValue();
    if (ipv !== 'auto') throw new Error(`IP version reads "${ipv}"`);
  });
  await page.getByRole('button', { name: 'Create' }).click();
  let probeId;
  await must('probe created, its page shown', async () => {
    try {
      const m = await waitHash(page, /^#\/settings\/probe\/(\d+)$/, 'the probe page');
      probeId = Number(m[1]);
    } catch (e) {
      throw new Error(`${e.message}; form says: ${await formSays(page)}`);
    }
    await page.getByRole('heading', { name: PROBE, exact: true }).waitFor();
  });

  // ---- Test from the demo's agent
  await must('probe page offers Test with an agent picker', async () => {
    await page.getByLabel('Test from', { exact: true }).waitFor();
    await page.getByLabel('Test from', { exact: true }).selectOption({ label: agent.name });
  });
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await step(`Test from ${agent.name}: "succeeded" with the samples`, async () => {
    const out = page.locator(`[data-test-result="${probeId}"]`);
    await page.waitForFunction(
      (id) => {
        const el = document.querySelector(`[data-test-result="${id}"]`);
        return el && ['succeeded', 'failed', 'error'].includes(el.dataset.state);
      },
      probeId,
      { timeout: STEP_TIMEOUT_MS },
    );
    const text = ((await out.textContent()) || '').replace(/\s+/g, ' ');
    if (!/succeeded/.test(text)) throw new Error(`result reads "${text.slice(0, 200)}"`);
    const row = out.locator('tr[data-metric="probe_success"] td.num');
    const v = ((await row.textContent()) || '').trim();
    if (v !== '1') throw new Error(`probe_success reads "${v}"`);
    await out.locator('tr[data-metric="probe_tcp_connect_duration_seconds"]').waitFor();
  });

  // ---- Schedule… (pre-filled with the probe), back to the probe page
  await page.getByRole('link', { name: `Schedule ${PROBE}` }).click();
  await must('schedule form opens with the probe pre-selected', async () => {
    await page.getByLabel(/^interval$/i).waitFor();
    const p = await page.getByLabel(/^probe$/i).inputValue();
    if (p !== String(probeId)) throw new Error(`probe select holds "${p}", want ${probeId}`);
  });
  for (const v of vantages) await page.getByLabel(v, { exact: true }).check();
  await page.getByLabel(/^interval$/i).fill('2s');
  await page.getByLabel(/^timeout$/i).fill('1s');
  await page.getByRole('button', { name: 'Create' }).click();
  await must('schedule saved, back on the probe page', async () => {
    try {
      await waitHash(page, new RegExp(`^#/settings/probe/${probeId}$`), 'the probe page');
    } catch (e) {
      throw new Error(`${e.message}; form says: ${await formSays(page)}`);
    }
    const t = (await page.locator(`.probe-card[data-probe="${probeId}"] .sched-list`).textContent()) || '';
    for (const v of vantages) if (!t.includes(v)) throw new Error(`schedule line "${t}" lacks ${v}`);
  });

  // ---- device page: state up, vantage point, chart
  await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
  const card = page.locator(`.probe-card[data-probe="${probeId}"]`);
  await must('device page shows the probe card', () => card.waitFor());
  await step(`schedule listed with "every 2s" from ${vantages.join(', ')}`, async () => {
    const t = ((await card.locator('.schedules').textContent()) || '').replace(/\s+/g, ' ');
    if (!t.includes('every 2s') || !t.includes(`from ${vantages.join(', ')}`)) throw new Error(`schedules read "${t}"`);
  });
  await step(`probe state turns "up" with ${vantages.length} vantage point(s)`, async () => {
    await page
      .waitForFunction(([id, n]) => {
        const el = document.querySelector(`.probe-card[data-probe="${id}"] .state-badge`);
        const vs = document.querySelectorAll(`.probe-card[data-probe="${id}"] li.vantage.ok`);
        return el && el.dataset.state === 'up' && vs.length >= n;
      }, [probeId, vantages.length], { timeout: STEP_TIMEOUT_MS })
      .catch(async () => {
        const s = await card.locator('.state-badge').textContent().catch(() => '?');
        const r = await api('GET', `/api/v1/probe/${probeId}/status`);
        throw new Error(`badge reads "${s}"; status API: ${JSON.stringify(r.body).slice(0, 300)}`);
      });
  });
  for (const name of vantages) {
    await step(`vantage point ${name} shown with ✓, latency and age`, async () => {
      const v = card.locator(`li.vantage[data-vantage="${name}"]`);
      await v.waitFor();
      const cls = (await v.getAttribute('class')) || '';
      if (!/\bok\b/.test(cls)) throw new Error(`vantage is "${cls}"`);
      await v.getByRole('img', { name: 'succeeded' }).waitFor();
      const t = ((await v.textContent()) || '').replace(/\s+/g, ' ');
      if (!/(µs|ms| s)\b/.test(t) || !/ago/.test(t)) throw new Error(`vantage reads "${t}"`);
    });
  }
  await step('latency chart has points, a line per vantage point', async () => {
    const chart = card.locator('[data-chart="probe-latency"]');
    await chart.waitFor();
    await page
      .waitForFunction(([id, names]) => {
        const el = document.querySelector(`.probe-card[data-probe="${id}"] [data-chart="probe-latency"]`);
        if (!el || Number(el.dataset.points) < 2 * names.length) return false;
        const vs = (el.dataset.vantages || '').split(',');
        return names.every((n) => vs.includes(n));
      }, [probeId, vantages], { timeout: STEP_TIMEOUT_MS })
      .catch(async () => {
        throw new Error(`data-points=${await chart.getAttribute('data-points')}, vantages=${await chart.getAttribute('data-vantages')}, want ${vantages}`);
      });
    const legend = ((await chart.locator('.probe-legend').textContent()) || '').replace(/\s+/g, ' ');
    for (const v of vantages) if (!legend.includes(v)) throw new Error(`legend "${legend}" lacks ${v}`);
    if (!(await chart.locator('canvas').count())) throw new Error('no canvas drawn');
  });
  await step('device page offers Test and Schedule… to an admin', async () => {
    await card.getByRole('button', { name: 'Test', exact: true }).waitFor();
    await card.getByRole('link', { name: `Schedule ${PROBE}` }).waitFor();
  });
  if (agent2) {
    await step(`Test from ${agent2.name} on the device page: "succeeded"`, async () => {
      const picker = card.getByLabel('Test from', { exact: true });
      const def = await picker.evaluate((s) => s.options[s.selectedIndex].textContent);
      if (def !== agent.name) throw new Error(`picker defaults to "${def}", want the schedule's first agent ${agent.name}`);
      await picker.selectOption({ label: agent2.name });
      await card.getByRole('button', { name: 'Test', exact: true }).click();
      const out = card.locator(`[data-test-result="${probeId}"]`);
      await page.waitForFunction(
        (id) => {
          const el = document.querySelector(`.probe-card [data-test-result="${id}"]`);
          return el && ['succeeded', 'failed', 'error'].includes(el.dataset.state);
        },
        probeId,
        { timeout: STEP_TIMEOUT_MS },
      );
      const text = ((await out.textContent()) || '').replace(/\s+/g, ' ');
      if (!/succeeded/.test(text) || !text.includes(`from ${agent2.name}`)) throw new Error(`result reads "${text.slice(0, 200)}"`);
    });
  }
  await step('probe list shows the state badge', async () => {
    await page.goto(new URL(`/#/settings/probe?q=${encodeURIComponent(PROBE)}`, base).toString());
    await page.locator(`tr[data-id="${probeId}"] .state-badge[data-state="up"]`).waitFor();
  });

  if (process.env.DASHDOT_SCREENSHOT) {
    const shot = process.env.DASHDOT_SCREENSHOT.replace(/(\.png)?$/, '-probes.png');
    try {
      await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
      await page.waitForFunction((id) => {
        const el = document.querySelector(`.probe-card[data-probe="${id}"] [data-chart="probe-latency"]`);
        return el && Number(el.dataset.points) >= 2;
      }, probeId);
      await page.screenshot({ path: shot, fullPage: true });
      ok(`screenshot saved to ${shot}`);
    } catch (e) {
      notOk('screenshot', e.message);
    }
  }

  // ---- a viewer sees the state, but cannot test or schedule
  await must('a viewer account is created (API)', async () => {
    const r = await api('POST', '/api/v1/user', { name: VIEWER, role: 'viewer', password: VIEWER_PW });
    if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/v1/user -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  });
  await must('admin logs out', () => logout(page));
  await must('viewer logs in', () => login(page, VIEWER, VIEWER_PW));
  await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
  await step('viewer: state "up" shown, no Test, no Schedule…', async () => {
    await card.waitFor();
    await card.locator('.state-badge[data-state="up"]').waitFor();
    for (const v of vantages) await card.locator(`li.vantage[data-vantage="${v}"]`).waitFor();
    await card.locator('[data-chart="probe-latency"]').waitFor();
    if (await card.getByRole('button', { name: 'Test', exact: true }).count()) throw new Error('a Test button is shown to a viewer');
    if (await card.getByRole('link', { name: /^Schedule/ }).count()) throw new Error('a Schedule link is shown to a viewer');
    if (await page.getByRole('link', { name: /^Add probe/i }).count()) throw new Error('"Add probe" is shown to a viewer');
  });
  await step('viewer: probe page without Test', async () => {
    await page.goto(new URL(`/#/settings/probe/${probeId}`, base).toString());
    await page.locator(`.probe-card[data-probe="${probeId}"] .state-badge`).waitFor();
    if (await page.getByRole('button', { name: 'Test', exact: true }).count()) throw new Error('a Test button is shown to a viewer');
  });
  await step('viewer logs out', () => logout(page));

  check('no unexpected HTTP errors', httpErrors.length === 0, httpErrors.slice(0, 6).join(' | '));
  check('no console or page errors', problems.length === 0, problems.slice(0, 5).join(' | '));
}

let code = 1;
try {
  await main();
  code = T.failed === 0 ? 0 : 1;
} catch (e) {
  if (!(e instanceof Stop)) notOk('test ran', e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e);
  code = 1;
}
await T.done(code);
