#!/usr/bin/env node
// Browser test of the dashdot web UI against a running server.
//
//   DASHDOT_URL=http://127.0.0.1:9100 [DASHDOT_SCREENSHOT=/tmp/ui.png] node tests/e2e/ui.test.mjs
//
// Opens the page in the system Chromium (never downloads a browser), waits until the cpu and
// load charts have drawn at least 2 points, checks that live updates keep arriving, that the
// other charts exist, and that the page logged no errors. Prints "ok - name" / "not ok - name:
// reason" lines and a closing "N passed, N failed" line; exits 0 when all passed, 1 otherwise,
// 2 when misconfigured.
import { CHROMIUM, CHROMIUM_ARGS, harness, loadChromium, sleep } from './harness.mjs';

const HARD_TIMEOUT_MS = 90_000;
const READY_TIMEOUT_MS = 30_000;

const base = process.env.DASHDOT_URL;
if (!base) {
  console.error('ui.test: set DASHDOT_URL to the server under test, e.g. DASHDOT_URL=http://127.0.0.1:9100');
  process.exit(2);
}

const chromium = loadChromium('ui.test');

const T = harness('ui-test', HARD_TIMEOUT_MS);
const { ok, notOk, check } = T;


async function points(page, chart) {
  return page.evaluate((c) => {
    const el = document.querySelector(`[data-chart="${c}"]`);
    if (!el) return { exists: false, points: -1, last: -1 };
    return { exists: true, points: Number(el.dataset.points ?? -1), last: Number(el.dataset.last ?? -1) };
  }, chart);
}

async function main() {
  const problems = []; // console errors and page errors
  const context = (T.context = await chromium.launchPersistentContext(T.profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 1000 },
    deviceScaleFactor: 1,
    timeout: 30_000,
  }));
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    // The live stream is cut when the page closes; anything else failing is a problem.
    const f = req.failure();
    if (!req.url().includes('/api/v1/live')) problems.push(`request failed: ${req.url()} ${f ? f.errorText : ''}`);
  });

  const url = new URL('/', base).toString();
  const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 20_000 });
  check('page loads', resp && resp.ok(), `HTTP ${resp ? resp.status() : 'no response'} for ${url}`);
  check('page has a title', /dashdot/i.test(await page.title()), `title is "${await page.title()}"`);

  // All five charts are on the page.
  for (const c of ['cpu', 'memory', 'load', 'disk', 'network']) {
    const n = await page.locator(`[data-chart="${c}"]`).count();
    check(`chart ${c} present`, n === 1, `found ${n} elements with data-chart="${c}"`);
  }

  // Wait for the cpu and load charts to draw data.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let cpu;
  let load;
  for (;;) {
    cpu = await points(page, 'cpu');
    load = await points(page, 'load');
    if (cpu.points >= 2 && load.points >= 2) break;
    if (Date.now() > deadline) break;
    await sleep(250);
  }
  const ready =
    check('cpu chart draws data', cpu.points >= 2, `data-points=${cpu.points} after ${READY_TIMEOUT_MS / 1000} s`) &
    check('load chart draws data', load.points >= 2, `data-points=${load.points} after ${READY_TIMEOUT_MS / 1000} s`);

  if (ready) {
    await sleep(3000);
    const cpu2 = await points(page, 'cpu');
    const load2 = await points(page, 'load');
    // Once the 15-minute window is full the point count stays put; then the last drawn
    // timestamp (data-last) still advances.
    check(
      'cpu chart gets live updates',
      cpu2.points > cpu.points || cpu2.last > cpu.last,
      `points ${cpu.points} -> ${cpu2.points}, last ${cpu.last} -> ${cpu2.last} in 3 s`,
    );
    check(
      'load chart gets live updates',
      load2.points > load.points || load2.last > load.last,
      `points ${load.points} -> ${load2.points}, last ${load.last} -> ${load2.last} in 3 s`,
    );
    const status = await page.locator('.status .dot').getAttribute('class');
    check('connection status is live', /\blive\b/.test(status || ''), `status dot class "${status}"`);
    const host = (await page.locator('.host-name').textContent()) || '';
    check('header names the host', host.trim() !== '' && host.trim() !== 'dashdot', `header shows "${host}"`);
  }

  const banner = page.locator('.banner');
  if (await banner.isVisible()) notOk('no error banner', await banner.textContent());
  else ok('no error banner');

  if (process.env.DASHDOT_SCREENSHOT) {
    try {
      await page.screenshot({ path: process.env.DASHDOT_SCREENSHOT, fullPage: true });
      ok(`screenshot saved to ${process.env.DASHDOT_SCREENSHOT}`);
    } catch (e) {
      notOk('screenshot', e.message);
    }
  }

  check('no console or page errors', problems.length === 0, problems.slice(0, 5).join(' | '));
}

let code = 1;
try {
  await main();
  code = T.failed === 0 ? 0 : 1;
} catch (e) {
  notOk('test ran', e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : e);
  code = 1;
}
await T.done(code);
