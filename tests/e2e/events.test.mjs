#!/usr/bin/env node
// Browser test of the events UI against a running `dashdot demo`.
//
//   DASHDOT_URL=http://127.0.0.1:9100 DASHDOT_ADMIN_PASSWORD=... [DASHDOT_SCREENSHOT=/tmp/ui.png] \
//     node tests/e2e/events.test.mjs
//
// Logs in as admin; creates (API) a device and a webhook sensor with a shared secret; posts
// events to the sensor's intake from Node (generic JSON for the device, one for a host no device
// knows, an Alertmanager group, one with a wrong secret). Then, in the browser: the events page
// lists them newest first with severity badges, the device or "unknown <source>", firing and the
// fingerprint; a row expands to its full text and fields, shown as text (hostile markup in them
// stays inert); search (word, phrase, prefix) narrows the list and a bad search shows the
// server's message by the search box; the minimum severity filter; a live event slides in at the
// top; "Load older" pages through 100+ events; the severity chart counts them; the device page's
// Events card lists the device's events, links to the filtered events page and gets a live one;
// the sensor page shows the state and counters and "How to send" with the intake URL and the
// secret masked until revealed; the unknown sender is adopted as a device (its events move, it
// leaves the list). Finally a viewer sees events but no Adopt, no secret, and the adopt API
// refuses them. Fails on console / page errors and unexpected HTTP errors. Prints "ok - name" /
// "not ok - name: reason" and "N passed, N failed"; exits 0 when all passed, 1 otherwise, 2 when
// misconfigured.
import http from 'node:http';
import https from 'node:https';
import { CHROMIUM, CHROMIUM_ARGS, harness, loadChromium, sleep } from './harness.mjs';

const HARD_TIMEOUT_MS = 200_000;
const STEP_TIMEOUT_MS = 20_000;
const RUN = Date.now().toString(36);
const DEVICE = `e2e-ev-web-${RUN}`;
const STRANGER = `e2e-nas-${RUN}`; // a host name no device has
const STRANGER2 = `e2e-nas2-${RUN}`;
const SENSOR = `e2e-hook-${RUN}`;
const SECRET = `s3cret-${RUN}-Zq9`;
const VIEWER = `e2e-ev-viewer-${RUN}`;
const VIEWER_PW = `viewer-pw-${RUN}-x`;
const FP = `fp${RUN}abcdef0123456789`;
const T1 = `deploy ${RUN} alpha`;
const T2 = `backup ${RUN} finished`;
const T3 = `disk ${RUN} failing`;
const T4 = `HighLatency ${RUN}`;
const T5 = `live ${RUN} arrival`;
const T6 = `card ${RUN} live`;
const HOSTILE_TEXT = `first line\n<script>window.__xss = 1</script>\n<img src=x onerror="window.__xss = 2">\n<b>bold?</b>`;
const HOSTILE_KEY = '<img src=y onerror="window.__xss = 3">';
const BULK = 105;

const base = process.env.DASHDOT_URL;
const password = process.env.DASHDOT_ADMIN_PASSWORD;
if (!base || !password) {
  console.error('events.test: set DASHDOT_URL (the server under test) and DASHDOT_ADMIN_PASSWORD (the password of user admin)');
  process.exit(2);
}

const chromium = loadChromium('events.test');
const T = harness('events-test', HARD_TIMEOUT_MS);
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

let badSearchSent = 0;
// HTTP error answers this flow provokes on purpose; anything else >= 400 is a problem.
function expectedError(method, path, status) {
  if (status === 401 && (path === '/api/v1/auth/login' || path === '/api/v1/auth/me')) return true;
  if (status === 404 && method === 'GET' && /^\/api\/v1\/device\/\d+\/inventory(\/history)?$/.test(path)) return true; // no inventory yet
  if (status === 400 && method === 'GET' && path === '/api/v1/events' && badSearchSent > 0) return true; // the bad search
  return false;
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

// The address events are posted from. The server matches events to devices by the sender's
// address before the host they name, and other tests of the same run give devices endpoints on
// 127.0.0.1: post from another loopback address (Linux routes all of 127/8 to lo) so those
// endpoints do not claim these events. DASHDOT_EVENTS_FROM overrides ("" = the default).
const FROM = process.env.DASHDOT_EVENTS_FROM ?? (/^127\./.test(new URL(base).hostname) ? `127.${(parseInt(RUN.slice(-4), 36) % 200) + 20}.0.9` : '');

// Posts to the sensor's intake from Node, as a third party would.
function intake(sensorId, body, secret = SECRET) {
  const u = new URL(`/api/v1/sensor/${sensorId}/webhook`, base);
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      {
        method: 'POST',
        localAddress: FROM || undefined,
        headers: { 'Content-Type': 'application/json', 'Content-Length': data.length, Authorization: `Bearer ${secret}` },
        timeout: 10_000,
      },
      (res) => {
        const parts = [];
        res.on('data', (c) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('intake: no answer in 10 s')));
    req.on('error', reject);
    req.end(data);
  });
}

const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();

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
    if (u.includes('/api/v1/live') || u.includes('/api/v1/events/live')) return; // streams, cut on navigation
    // Polls cut short by leaving a page.
    if (f && /ERR_ABORTED/.test(f.errorText) && /\/api\/v1\/(query_range|events|sensor\/\d+\/status|probe|agent|telemetry|endpoint|device)/.test(u)) return;
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
  const row = (title) => page.locator('li.ev', { hasText: title });

  const resp = await page.goto(new URL('/', base).toString(), { waitUntil: 'domcontentloaded', timeout: 20_000 });
  check('page loads', resp && resp.ok(), `HTTP ${resp ? resp.status() : 'no response'}`);
  await must('admin logs in', () => login(page, 'admin', password));

  // ---- device, sensor (API), events (intake from Node)
  let deviceId;
  await must('a device is created (API)', async () => {
    const r = await api('POST', '/api/v1/device', { name: DEVICE, kind: 'server' });
    if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/v1/device -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    deviceId = r.body.data.id;
  });
  let sensorId;
  await must('a webhook sensor with a secret is created (API)', async () => {
    const r = await api('POST', '/api/v1/sensor', {
      name: SENSOR,
      type: 'webhook',
      enabled: true,
      settings: { path: `e2e_${RUN}`, secret: SECRET },
    });
    if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/v1/sensor -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    sensorId = r.body.data.id;
  });

  await must('events are accepted by the intake (generic JSON and Alertmanager)', async () => {
    const posts = [
      { title: T1, text: HOSTILE_TEXT, severity: 'warning', device: DEVICE, tags: ['deploy'], fields: { version: '1.2.3', [HOSTILE_KEY]: '<i>v</i>' } },
      { title: T2, text: 'all volumes copied', severity: 'info', device: DEVICE },
      { title: T3, text: 'SMART: reallocated sectors', severity: 'error', device: STRANGER },
      {
        version: '4',
        status: 'firing',
        receiver: 'dashdot',
        groupKey: `{}:{alertname="HighLatency"}`,
        groupLabels: { alertname: 'HighLatency' },
        commonLabels: { alertname: 'HighLatency', severity: 'critical' },
        commonAnnotations: {},
        externalURL: 'http://alertmanager.example:9093',
        truncatedAlerts: 0,
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'HighLatency', severity: 'critical', instance: DEVICE },
            annotations: { summary: T4, description: `p99 above 2 s on ${DEVICE}` },
            startsAt: new Date().toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            generatorURL: 'http://prometheus.example:9090/graph',
            fingerprint: FP,
          },
        ],
      },
    ];
    for (const b of posts) {
      const r = await intake(sensorId, b);
      if (r.status < 200 || r.status > 299) throw new Error(`intake -> ${r.status} ${r.text.slice(0, 200)}`);
      await sleep(20); // distinct times, so "newest first" is well defined
    }
  });
  await step('the intake refuses a wrong secret', async () => {
    const r = await intake(sensorId, { title: `forged ${RUN}` }, 'wrong-secret');
    if (r.status !== 401 && r.status !== 403) throw new Error(`HTTP ${r.status}`);
  });

  // ---- the events page
  await page.goto(new URL(`/#/events?sensor=${sensorId}`, base).toString());
  await must('events page lists the events, newest first', async () => {
    await page.getByRole('heading', { name: 'Events', exact: true }).waitFor();
    for (const t of [T1, T2, T3]) await row(t).waitFor();
    const titles = await page.locator('li.ev .ev-title-text').allTextContents();
    const at = (t) => titles.findIndex((x) => x.includes(t));
    if (!(at(T3) < at(T2) && at(T2) < at(T1))) throw new Error(`order: ${titles.slice(0, 6).join(' | ')}`);
  });
  await step('severity badges are colored by severity', async () => {
    const b = row(T3).locator('.sev-badge');
    if ((await b.getAttribute('data-severity')) !== 'error') throw new Error(`badge reads ${await b.textContent()}`);
    const bg = await b.evaluate((el) => getComputedStyle(el).backgroundColor);
    const bg2 = await row(T2).locator('.sev-badge').evaluate((el) => getComputedStyle(el).backgroundColor);
    if (bg === bg2) throw new Error(`error and info badges share the color ${bg}`);
  });
  await step('rows name the device, or "unknown <source>" for the stranger', async () => {
    const d = norm(await row(T1).locator('.ev-dev').textContent());
    if (d !== DEVICE) throw new Error(`device cell of a known device reads "${d}"`);
    const u = norm(await row(T3).locator('.ev-dev').textContent());
    if (!/^unknown\b/.test(u)) throw new Error(`device cell of the stranger reads "${u}"`);
  });
  await step('the Alertmanager alert shows "firing" and its fingerprint', async () => {
    const r = row(T4);
    await r.waitFor();
    await r.locator('.alert-status[data-status="firing"]').waitFor();
    await r.locator('.ev-head').click();
    await r.locator('.ev-body .fingerprint', { hasText: FP }).waitFor();
    await r.locator('.ev-head').click();
  });
  await must('a row expands to the full text and fields, as text', async () => {
    const r = row(T1);
    await r.locator('.ev-head').click();
    const pre = r.locator('pre.ev-text');
    await pre.waitFor();
    const text = await pre.textContent();
    if (text !== HOSTILE_TEXT) throw new Error(`text reads ${JSON.stringify(text)}`);
    if ((await r.getAttribute('class')).split(' ').indexOf('open') < 0) throw new Error('row not marked open');
    if ((await r.locator('.ev-head').getAttribute('aria-expanded')) !== 'true') throw new Error('aria-expanded is not true');
    const fields = r.locator('.ev-fields table.kv');
    await fields.locator('th', { hasText: 'version' }).waitFor();
    const hostileTh = fields.locator('th', { hasText: HOSTILE_KEY });
    if ((await hostileTh.count()) !== 1) throw new Error('the hostile field name is not shown as text');
  });
  await step('hostile markup in events stays inert', async () => {
    const r = row(T1);
    const n = await r.locator('.ev-body script, .ev-body img, .ev-body b, .ev-body i').count();
    const xss = await page.evaluate(() => window.__xss);
    if (n || xss !== undefined) throw new Error(`${n} elements made from event text; window.__xss = ${xss}`);
  });

  const searchFor = async (q) => {
    await page.getByLabel('Search events', { exact: true }).fill(q);
    await page.getByLabel('Search events', { exact: true }).press('Enter');
  };
  const waitTitles = async (want, not) => {
    await page
      .waitForFunction(
        ([w, n]) => {
          const ts = [...document.querySelectorAll('li.ev .ev-title-text')].map((e) => e.textContent);
          return w.every((x) => ts.some((t) => t.includes(x))) && n.every((x) => !ts.some((t) => t.includes(x)));
        },
        [want, not],
        { timeout: STEP_TIMEOUT_MS },
      )
      .catch(async () => {
        const ts = await page.locator('li.ev .ev-title-text').allTextContents();
        throw new Error(`want ${JSON.stringify(want)} without ${JSON.stringify(not)}; list: ${JSON.stringify(ts.slice(0, 8))}`);
      });
  };
  await step('search by a word', async () => {
    await searchFor('alpha');
    await waitTitles([T1], [T2, T3]);
    if (!page.url().includes('q=alpha')) throw new Error(`the URL does not keep the search: ${page.url()}`);
  });
  await step('search by a phrase', async () => {
    await searchFor(`"backup ${RUN}"`);
    await waitTitles([T2], [T1, T3]);
  });
  await step('search by a prefix', async () => {
    await searchFor('failin*');
    await waitTitles([T3], [T1, T2]);
  });
  await step("a bad search shows the server's message by the search box", async () => {
    badSearchSent++;
    await searchFor('"unterminated');
    const err = page.locator('#ev-q-error');
    await err.waitFor({ state: 'visible' });
    const t = norm(await err.textContent());
    if (!t) throw new Error('empty message');
  });
  await step('clearing the search shows everything again', async () => {
    await page.getByLabel('Search events', { exact: true }).fill('');
    await waitTitles([T1, T2, T3], []);
    if (await page.locator('#ev-q-error').isVisible()) throw new Error('the search error is still shown');
  });
  await step('minimum severity "error" hides warning and info', async () => {
    await page.getByLabel('Minimum severity', { exact: true }).selectOption('error');
    await waitTitles([T3], [T1, T2]);
    await page.getByLabel('Minimum severity', { exact: true }).selectOption('');
    await waitTitles([T1, T2, T3], []);
  });

  // ---- live
  await step('a new event arrives live at the top', async () => {
    await page.locator('.live-status[data-state="live"], .live-status[data-state="quiet"]').waitFor();
    const r = await intake(sensorId, { title: T5, text: 'tail -f', severity: 'notice', device: DEVICE });
    if (r.status > 299) throw new Error(`intake -> ${r.status}`);
    await row(T5).waitFor({ timeout: 10_000 });
    const first = norm(await page.locator('li.ev .ev-title-text').first().textContent());
    if (!first.includes(T5)) throw new Error(`the top row reads "${first}"`);
  });
  await step('Live toggles to "paused"', async () => {
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    await page.locator('.live-status[data-state="paused"]').waitFor();
    if (!/paused/.test(await page.locator('.live-status').textContent())) throw new Error('no "paused" text');
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    await page.locator('.live-status[data-state="live"], .live-status[data-state="quiet"]').waitFor();
  });

  // ---- paging
  await must(`${BULK} more events are accepted`, async () => {
    for (let i = 0; i < BULK; i++) {
      const r = await intake(sensorId, { title: `bulk ${RUN} #${i}`, severity: 'debug', device: DEVICE });
      if (r.status > 299) throw new Error(`intake #${i} -> ${r.status}`);
    }
  });
  await step('"Load older" pages with the cursor to the end', async () => {
    await page.goto(new URL(`/#/events?sensor=${sensorId}&live=0`, base).toString());
    await row(`bulk ${RUN} #${BULK - 1}`).waitFor();
    const first = await page.locator('li.ev').count();
    if (first !== 100) throw new Error(`the first page has ${first} rows, want 100`);
    await page.getByRole('button', { name: 'Load older' }).click();
    await row(T1).waitFor();
    const all = await page.locator('li.ev').count();
    const want = 4 + 1 + BULK;
    if (all !== want) throw new Error(`${all} rows after paging, want ${want}`);
    await page.locator('.ev-end', { hasText: 'No older events' }).waitFor();
    const ids = await page.locator('li.ev').evaluateAll((els) => els.map((e) => e.dataset.id));
    if (new Set(ids).size !== ids.length) throw new Error('a row is listed twice');
  });
  await step('the severity chart counts the events', async () => {
    // Counters reach the metric store every 10 s; the page asks again every 30 s: reload meanwhile.
    const until = Date.now() + 40_000;
    for (;;) {
      await page.goto(new URL(`/#/events?sensor=${sensorId}&live=0`, base).toString());
      const fig = page.locator('[data-chart="event-rate"]');
      await fig.waitFor();
      await page.waitForFunction(() => document.querySelector('[data-chart="event-rate"]').dataset.total != null, null, { timeout: 10_000 }).catch(() => {});
      const total = Number(await fig.getAttribute('data-total'));
      if (total >= 50) {
        if (!(await fig.locator('canvas').count())) throw new Error('no canvas drawn');
        const sevs = (await fig.getAttribute('data-severities')) || '';
        if (!sevs.includes('debug')) throw new Error(`severities ${sevs}`);
        return;
      }
      if (Date.now() > until) throw new Error(`data-total=${total}`);
      await sleep(5000);
    }
  });

  // ---- device page card
  await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
  const card = page.locator('section.device-events');
  await step("device page: an Events card with the device's events", async () => {
    await card.waitFor();
    await card.locator('li.ev', { hasText: `bulk ${RUN} #${BULK - 1}` }).waitFor();
    const n = await card.locator('li.ev').count();
    if (n !== 20) throw new Error(`${n} rows, want the last 20`);
    if (await card.locator('li.ev', { hasText: T3 }).count()) throw new Error("the stranger's event is on the device's card");
    const href = await card.getByRole('link', { name: `All events of ${DEVICE}` }).getAttribute('href');
    if (href !== `#/events?device=${deviceId}`) throw new Error(`link goes to ${href}`);
  });
  await step('device page: a new event of the device arrives live', async () => {
    await card.locator('.live-status[data-state="live"], .live-status[data-state="quiet"]').waitFor();
    const r = await intake(sensorId, { title: T6, severity: 'warning', device: DEVICE });
    if (r.status > 299) throw new Error(`intake -> ${r.status}`);
    await card.locator('li.ev', { hasText: T6 }).waitFor({ timeout: 10_000 });
    const n = await card.locator('li.ev').count();
    if (n !== 20) throw new Error(`${n} rows, want 20 kept`);
  });
  await step('the card links to the events page filtered by the device', async () => {
    await card.getByRole('link', { name: `All events of ${DEVICE}` }).click();
    await row(T6).waitFor();
    const v = await page.getByLabel('Device', { exact: true }).inputValue();
    if (v !== String(deviceId)) throw new Error(`device picker holds "${v}"`);
    if (await row(T3).count()) throw new Error("the stranger's event is listed");
  });

  // ---- sensor page
  await page.goto(new URL(`/#/settings/sensor/${sensorId}`, base).toString());
  await step('sensor page: state and counters', async () => {
    const st = page.locator('section.sensor-status');
    // A webhook is an HTTP intake ("intake"; "listening" for listeners).
    await st.locator('.state-badge[data-state="intake"], .state-badge[data-state="listening"]').waitFor();
    const recv = norm(await st.locator('[data-field="received"] dd').textContent());
    if (!(Number(recv) >= 4 + 1 + BULK)) throw new Error(`received reads "${recv}"`);
    const rej = norm(await st.locator('[data-field="rejected"] dd').textContent());
    if (!(Number(rej) >= 1)) throw new Error(`rejected reads "${rej}" after a wrong secret`);
    await st.locator('[data-last="seen"]').waitFor();
  });
  await step('sensor page: intake URL and the secret masked until revealed', async () => {
    const how = page.locator('section.sensor-howto');
    const url = norm(await how.locator('[data-copy="Intake URL"] .copy-value').textContent());
    const want = new URL(`/api/v1/sensor/${sensorId}/webhook`, base).toString();
    if (url !== want) throw new Error(`intake URL reads "${url}", want ${want}`);
    const body = await page.locator('.page').textContent();
    if (body.includes(SECRET)) throw new Error('the secret is shown before Reveal');
    for (const s of ['Alertmanager', 'Icinga 2', 'Generic JSON']) await how.locator(`[data-snippet^="${s}"]`).waitFor();
    await how.getByRole('button', { name: 'Reveal secret' }).click();
    const shown = norm(await how.locator('[data-copy="Secret"] .copy-value').textContent());
    if (shown !== SECRET) throw new Error(`revealed secret reads "${shown}"`);
    const yaml = await how.locator('[data-snippet^="Alertmanager"] pre').textContent();
    if (!yaml.includes(`credentials: '${SECRET}'`) || !yaml.includes(want)) throw new Error(`Alertmanager snippet: ${yaml}`);
  });

  // ---- unknown senders: adopt
  await page.goto(new URL('/#/events?tab=unknown', base).toString());
  const stranger = page.locator(`tr[data-host="${STRANGER}"]`);
  await step('the stranger is listed under "Unknown senders"', async () => {
    await page.getByRole('tab', { name: /Unknown senders/ }).waitFor();
    if ((await page.getByRole('tab', { name: /Unknown senders/ }).getAttribute('aria-selected')) !== 'true') throw new Error('tab not selected');
    await stranger.waitFor();
    const n = norm(await stranger.locator('td.num').textContent());
    if (n !== '1') throw new Error(`count reads "${n}"`);
  });
  let adoptedId = null;
  await step('Adopt creates the device and moves its events', async () => {
    await stranger.getByRole('button', { name: `Adopt ${STRANGER}` }).click();
    const name = page.getByLabel('Device name', { exact: true });
    const v = await name.inputValue();
    if (v !== STRANGER) throw new Error(`name prefilled with "${v}"`);
    await page.getByLabel('Type', { exact: true }).selectOption('storage');
    await page.getByRole('button', { name: 'Create device and adopt' }).click();
    const note = page.locator('.msg', { hasText: `Adopted ${STRANGER}` });
    await note.waitFor();
    if (!/1 event moved/.test(await note.textContent())) throw new Error(`note reads "${norm(await note.textContent())}"`);
    await stranger.waitFor({ state: 'detached' });
    const r = await api('GET', `/api/v1/device?name=${encodeURIComponent(STRANGER)}`);
    const d = ((r.body && r.body.data) || []).find((x) => x.name === STRANGER);
    if (!d) throw new Error('no device made');
    if (d.kind !== 'storage') throw new Error(`kind ${d.kind}`);
    adoptedId = d.id;
  });
  await step("the adopted sender's event now names its device", async () => {
    await page.goto(new URL(`/#/events?sensor=${sensorId}&q=${encodeURIComponent('failin*')}`, base).toString());
    await row(T3).waitFor();
    const d = norm(await row(T3).locator('.ev-dev').textContent());
    if (d !== STRANGER) throw new Error(`device cell reads "${d}" (device #${adoptedId})`);
  });

  if (process.env.DASHDOT_SCREENSHOT) {
    const shot = process.env.DASHDOT_SCREENSHOT.replace(/(\.png)?$/, '-events.png');
    try {
      await page.goto(new URL(`/#/events?sensor=${sensorId}&severity=notice`, base).toString());
      await row(T1).waitFor();
      await row(T4).locator('.ev-head').click();
      await page.screenshot({ path: shot, fullPage: false });
      ok(`screenshot saved to ${shot}`);
    } catch (e) {
      notOk('screenshot', e.message);
    }
  }

  // ---- a viewer: reads, cannot adopt, sees no secret
  await must('another unknown sender posts, a viewer account is created (API)', async () => {
    const e = await intake(sensorId, { title: `hello ${RUN} from nas2`, severity: 'info', device: STRANGER2 });
    if (e.status > 299) throw new Error(`intake -> ${e.status}`);
    const r = await api('POST', '/api/v1/user', { name: VIEWER, role: 'viewer', password: VIEWER_PW });
    if (r.status !== 201 && r.status !== 200) throw new Error(`POST /api/v1/user -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  });
  await must('admin logs out', () => logout(page));
  await must('viewer logs in', () => login(page, VIEWER, VIEWER_PW));
  await step('viewer: events are listed', async () => {
    await page.goto(new URL(`/#/events?sensor=${sensorId}`, base).toString());
    await row(T6).waitFor();
  });
  await step('viewer: unknown senders listed without Adopt', async () => {
    await page.getByRole('tab', { name: /Unknown senders/ }).click();
    await page.locator(`tr[data-host="${STRANGER2}"]`).waitFor();
    if (await page.getByRole('button', { name: /^Adopt/ }).count()) throw new Error('an Adopt button is shown to a viewer');
  });
  await step('viewer: the adopt API refuses', async () => {
    const r = await api('POST', '/api/v1/events/adopt', { device: deviceId, source: '127.0.0.1', host: STRANGER2 });
    if (r.status !== 403) throw new Error(`POST /api/v1/events/adopt -> ${r.status}`);
  });
  await step('viewer: sensor page without the secret', async () => {
    await page.goto(new URL(`/#/settings/sensor/${sensorId}`, base).toString());
    await page.locator('section.sensor-status .state-badge[data-state="intake"], section.sensor-status .state-badge[data-state="listening"]').waitFor();
    await page.locator('section.sensor-howto [data-copy="Intake URL"]').waitFor();
    if (await page.getByRole('button', { name: /^Reveal/ }).count()) throw new Error('a Reveal button is shown to a viewer');
    const body = await page.locator('.page').textContent();
    if (body.includes(SECRET)) throw new Error('the secret is in the page');
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
