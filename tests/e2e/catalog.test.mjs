#!/usr/bin/env node
// Browser test of the Settings area (catalog UI) against a running server.
//
//   DASHDOT_URL=http://127.0.0.1:9100 DASHDOT_ADMIN_PASSWORD=... [DASHDOT_SCREENSHOT=/tmp/ui.png] \
//     node tests/e2e/catalog.test.mjs
//
// Opens the page in the system Chromium (never downloads a browser), goes to Settings, logs in
// (a wrong password first: the error must show), creates a device through the form, adds an
// endpoint from the device page, adds an HTTP probe on it (a bad URL first: the server's 422
// message must show under the URL field), checks the device page lists both, deletes the device
// through the confirmation dialog (probe and endpoint first when the server refuses with 409),
// checks it is gone, and logs out. Fails on console errors, page errors and on unexpected HTTP
// error answers (any 5xx, 400 or 403 — a 403 would be a missing CSRF header). Prints
// "ok - name" / "not ok - name: reason" lines and a closing "N passed, N failed" line; exits 0
// when all passed, 1 otherwise, 2 when misconfigured.
import { CHROMIUM, CHROMIUM_ARGS, harness, loadChromium, sleep } from './harness.mjs';

const HARD_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 30_000;
const DEVICE = 'e2e-web-1';

const base = process.env.DASHDOT_URL;
const password = process.env.DASHDOT_ADMIN_PASSWORD;
if (!base || !password) {
  console.error('catalog.test: set DASHDOT_URL (the server under test) and DASHDOT_ADMIN_PASSWORD (the password of user admin)');
  process.exit(2);
}

const chromium = loadChromium('catalog.test');

const T = harness('catalog-test', HARD_TIMEOUT_MS);
const { ok, notOk, check } = T;
// Runs one step; a thrown error (usually a locator timeout) fails it with the reason.
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
// A step whose failure makes the rest pointless.
async function must(name, fn) {
  if (!(await step(name, fn))) throw new Stop(name);
}
class Stop extends Error {}


// HTTP error answers the flow provokes on purpose; anything else >= 400 is a problem.
function expectedError(method, path, status) {
  if (status === 401 && (path === '/api/v1/auth/login' || path === '/api/v1/auth/me')) return true;
  if (status === 422 && method === 'POST') return true; // the bad probe URL
  if (status === 409 && method === 'DELETE') return true; // device still referenced
  if (status === 404 && method === 'GET' && /^\/api\/v1\/device\/\d+\/inventory(\/history)?$/.test(path)) return true; // no inventory yet
  return false;
}

async function waitHash(page, re, what) {
  await page.waitForFunction((src) => new RegExp(src).test(location.hash), re.source, { timeout: STEP_TIMEOUT_MS }).catch(() => {
    throw new Error(`expected ${what} (hash ${re}), at ${page.url()}`);
  });
  return page.evaluate((src) => location.hash.match(new RegExp(src)), re.source);
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
    // Chromium logs every HTTP error answer as "Failed to load resource"; those are judged
    // precisely by the response listener below.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(msg.text())) return;
    problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    const f = req.failure();
    if (req.url().includes('/api/v1/live') || req.url().includes('/api/v1/events/live')) return; // live streams, cut on navigation
    if (f && /ERR_ABORTED/.test(f.errorText) && req.url().includes('/api/v1/query_range')) return; // dashboard left
    problems.push(`request failed: ${req.method()} ${req.url()} ${f ? f.errorText : ''}`);
  });
  page.on('response', (res) => {
    const status = res.status();
    if (status < 400) return;
    const req = res.request();
    const path = new URL(res.url()).pathname;
    if (!expectedError(req.method(), path, status)) httpErrors.push(`${req.method()} ${path} -> ${status}`);
  });

  const url = new URL('/', base).toString();
  const resp = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 20_000 });
  check('page loads', resp && resp.ok(), `HTTP ${resp ? resp.status() : 'no response'} for ${url}`);

  // ---- login
  await must('top bar has a Settings link', () => page.getByRole('link', { name: 'Settings', exact: true }).waitFor());
  await page.getByRole('link', { name: 'Settings', exact: true }).click();
  await must('Settings asks to log in', async () => {
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Username', { exact: true }).waitFor();
    await page.getByLabel('Password', { exact: true }).waitFor();
  });
  await page.getByLabel('Username', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(password + '-wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await step('wrong password shows an error', async () => {
    const alert = page.locator('#login-error');
    await alert.waitFor({ state: 'visible' });
    const t = (await alert.textContent()) || '';
    if (!/wrong username or password/i.test(t)) throw new Error(`error reads "${t}"`);
  });
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await must('login succeeds', async () => {
    try {
      await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
    } catch (e) {
      const msg = await page.locator('#login-error').textContent().catch(() => '');
      throw new Error(`${e.message.split('\n')[0]}; login form says: ${msg || 'nothing'}`);
    }
  });
  await step('top bar shows the user and Log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    const who = ((await page.locator('.nav-user').textContent()) || '').trim();
    if (!who) throw new Error('no user name in the top bar');
  });

  // ---- create the device
  await page.getByRole('link', { name: /^Devices\b/ }).click();
  await must('device list opens', () => page.getByRole('heading', { name: 'Devices', exact: true }).waitFor());
  await page.getByRole('link', { name: /^New device/i }).click();
  await must('device form opens', () => page.getByLabel(/^name$/i).waitFor());
  await page.getByLabel(/^name$/i).fill(DEVICE);
  await page.getByLabel(/^kind$/i).selectOption('server');
  await page.getByRole('button', { name: 'Create' }).click();
  let deviceId;
  await must('device created, device page shown', async () => {
    const m = await waitHash(page, /^#\/settings\/device\/(\d+)$/, 'the device page');
    deviceId = Number(m[1]);
    await page.getByRole('heading', { name: DEVICE, exact: true }).waitFor();
  });
  await step('device page shows inventory section', () => page.getByRole('heading', { name: 'Inventory', exact: true }).waitFor());

  // ---- endpoint from the device page
  await page.getByRole('link', { name: /^Add endpoint/i }).click();
  await must('endpoint form opens with the device preselected', async () => {
    await page.getByLabel(/^address$/i).waitFor();
    const dev = await page.getByLabel(/^device$/i).inputValue();
    if (dev !== String(deviceId)) throw new Error(`device select holds "${dev}", want ${deviceId}`);
  });
  await page.getByLabel(/^address$/i).fill('127.0.0.1');
  await page.getByLabel(/^port$/i).fill('8080');
  await page.getByLabel(/^protocol$/i).selectOption('tcp');
  await page.getByRole('button', { name: 'Create' }).click();
  let endpointId;
  await must('endpoint created', async () => {
    const m = await waitHash(page, /^#\/settings\/endpoint\/(\d+)$/, 'the endpoint detail');
    endpointId = Number(m[1]);
  });
  // Back to the device through the reference link on the endpoint's page.
  await must('endpoint page links to its device', async () => {
    await page.getByRole('link', { name: DEVICE, exact: true }).click();
    await waitHash(page, new RegExp(`^#/settings/device/${deviceId}$`), 'the device page');
  });

  // ---- probe with a bad URL, then a good one
  await must('device page offers "Add probe" for the endpoint', async () => {
    await page.locator(`.endpoint[data-id="${endpointId}"]`).getByRole('link', { name: /^Add probe/i }).click();
    await page.getByLabel(/^type$/i).waitFor();
    const ep = await page.getByLabel(/^endpoint$/i).inputValue();
    if (ep !== String(endpointId)) throw new Error(`endpoint select holds "${ep}", want ${endpointId}`);
  });
  const nameField = page.getByLabel(/^name$/i);
  if (await nameField.count()) await nameField.fill('e2e-http');
  await page.getByLabel(/^type$/i).selectOption('http');
  const urlField = page.getByLabel(/^url$/i);
  await must('HTTP settings appear for type http', () => urlField.waitFor());
  await urlField.fill('not a url');
  await page.getByRole('button', { name: 'Create' }).click();
  await step('bad URL: the server message shows under the URL field', async () => {
    const box = page.locator('.field[data-field="settings.url"]');
    const err = box.locator('.field-error');
    await err.waitFor({ state: 'visible' });
    const t = ((await err.textContent()) || '').trim();
    if (!t) throw new Error('empty error');
    if ((await urlField.getAttribute('aria-invalid')) !== 'true') throw new Error('URL input not marked aria-invalid');
    if ((await urlField.inputValue()) !== 'not a url') throw new Error('the typed URL was not kept');
    if (!/^#\/settings\/probe\/new/.test(await page.evaluate(() => location.hash))) throw new Error('left the form');
  });
  await urlField.fill('http://127.0.0.1:8080/');
  await page.getByRole('button', { name: 'Create' }).click();
  let probeId;
  await must('probe saved with a good URL', async () => {
    try {
      const m = await waitHash(page, /^#\/settings\/probe\/(\d+)$/, 'the probe detail');
      probeId = Number(m[1]);
    } catch (e) {
      const errs = await page.locator('.field-error:not(:empty), .form-messages .msg').allTextContents();
      throw new Error(`${e.message}; form says: ${errs.join(' | ') || 'nothing'}`);
    }
  });

  // ---- device page lists both
  await page.goto(new URL(`/#/settings/device/${deviceId}`, base).toString());
  await step('device page lists the endpoint and the probe', async () => {
    const ep = page.locator(`.endpoint[data-id="${endpointId}"]`);
    await ep.waitFor();
    const t = (await ep.textContent()) || '';
    if (!t.includes('127.0.0.1')) throw new Error(`endpoint block reads "${t.slice(0, 120)}"`);
    await ep.locator(`a[href="#/settings/probe/${probeId}"]`).waitFor();
  });

  // ---- device list shows it (search box)
  await page.goto(new URL('/#/settings/device', base).toString());
  await step('device list finds the device by search', async () => {
    await page.getByLabel('Search').fill(DEVICE);
    await page.locator('table.data tbody').getByRole('link', { name: DEVICE, exact: true }).waitFor();
  });

  // ---- delete (probe and endpoint first if the server refuses)
  async function deleteVia(model, id, name) {
    await page.goto(new URL(`/#/settings/${model}/${id}`, base).toString());
    const head = page.locator(`.page-head[data-object="${model}/${id}"]`);
    await head.waitFor();
    await head.getByRole('button', { name: 'Delete', exact: true }).click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    const text = (await dlg.textContent()) || '';
    if (name && !text.includes(name)) throw new Error(`dialog does not name "${name}": "${text.slice(0, 100)}"`);
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    // Either the dialog closes (deleted) or it shows why not.
    const refused = dlg.getByRole('alert');
    const outcome = await Promise.race([
      dlg.waitFor({ state: 'detached' }).then(() => 'deleted'),
      refused.waitFor({ state: 'visible' }).then(() => 'refused'),
    ]);
    if (outcome === 'refused') {
      const why = (await refused.textContent()) || '';
      await dlg.getByRole('button', { name: 'Cancel' }).click();
      // The modal must be gone before the next page's buttons can be clicked.
      await dlg.waitFor({ state: 'detached' });
      return why;
    }
    return null;
  }
  await step('delete the device (confirmation dialog)', async () => {
    const why = await deleteVia('device', deviceId, DEVICE);
    if (why) {
      ok(`server refused with 409 first (${why.trim()}); deleting probe and endpoint`);
      if (await deleteVia('probe', probeId)) throw new Error('probe delete refused');
      if (await deleteVia('endpoint', endpointId)) throw new Error('endpoint delete refused');
      const again = await deleteVia('device', deviceId, DEVICE);
      if (again) throw new Error(`device delete refused again: ${again}`);
    }
    await waitHash(page, /^#\/settings\/device(\?.*)?$/, 'the device list');
  });
  await step('device is gone from the list', async () => {
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await page.waitForFunction(() => {
      const s = document.querySelector('.list-status');
      return s && !/loading/.test(s.textContent);
    });
    const links = await page.locator('table.data tbody').getByRole('link', { name: DEVICE, exact: true }).count();
    if (links) throw new Error(`${DEVICE} still listed`);
    const r = await page.request.get(new URL(`/api/v1/device?name=${DEVICE}`, base).toString());
    const body = await r.json();
    if (!r.ok() || (body.data || []).length) throw new Error(`API still lists it (HTTP ${r.status()}, ${JSON.stringify(body.data).slice(0, 80)})`);
  });

  if (process.env.DASHDOT_SCREENSHOT) {
    const shot = process.env.DASHDOT_SCREENSHOT.replace(/(\.png)?$/, '-settings.png');
    try {
      await page.goto(new URL('/#/settings', base).toString());
      await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
      await page.screenshot({ path: shot, fullPage: true });
      ok(`screenshot saved to ${shot}`);
    } catch (e) {
      notOk('screenshot', e.message);
    }
  }

  // ---- log out
  await step('log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    if (await page.getByRole('button', { name: 'Log out' }).isVisible()) throw new Error('Log out still shown');
    const r = await page.request.get(new URL('/api/v1/auth/me', base).toString());
    if (r.status() !== 401) throw new Error(`/auth/me answers ${r.status()} after logout`);
  });

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
