// Shared parts of the browser tests: the system Chromium through playwright-core (never a
// downloaded browser), "ok - name" / "not ok - name: reason" lines with a closing
// "N passed, N failed", a throw-away browser profile and a hard timeout that reports and exits.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.DASHDOT_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// playwright-core from web/node_modules; exits 2 (misconfigured) when it is missing.
export function loadChromium(name) {
  try {
    const require = createRequire(new URL('../../web/package.json', import.meta.url));
    return require('playwright-core').chromium;
  } catch (e) {
    console.error(`${name}: cannot load playwright-core from web/node_modules (run scripts/web.sh or npm ci in web/): ${e.message}`);
    process.exit(2);
  }
}

// One test run: counters, the profile directory, the browser context (set t.context once
// launched) and the hard timeout. t.done() prints the summary and exits with its status.
export function harness(name, hardTimeoutMs) {
  const t = {
    passed: 0,
    failed: 0,
    context: null,
    profile: mkdtempSync(join(tmpdir(), `dashdot-${name}-`)),
    ok(n) {
      t.passed++;
      console.log(`ok - ${n}`);
    },
    notOk(n, reason) {
      t.failed++;
      // eslint-disable-next-line no-control-regex
      const text = String(reason).replace(/\x1b\[[0-9;]*m/g, '').replace(/\s+/g, ' ').trim();
      console.log(`not ok - ${n}: ${text}`);
    },
    check(n, cond, reason) {
      if (cond) t.ok(n);
      else t.notOk(n, reason);
      return cond;
    },
    finish(code) {
      try {
        rmSync(t.profile, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
      process.exit(code);
    },
    // Closes the browser (at most 3 s), prints the summary and exits.
    async done(code) {
      clearTimeout(t.hard);
      const c = t.context;
      t.context = null;
      if (c) await Promise.race([c.close().catch(() => {}), sleep(10_000)]);
      console.log(`${t.passed} passed, ${t.failed} failed`);
      t.finish(code);
    },
  };
  // Report, then exit; playwright kills the browser it launched when the process exits.
  t.hard = setTimeout(() => {
    t.notOk('finished in time', `hard timeout of ${hardTimeoutMs / 1000} s`);
    console.log(`${t.passed} passed, ${t.failed} failed`);
    const c = t.context;
    t.context = null;
    Promise.race([c ? c.close().catch(() => {}) : null, sleep(3000)]).finally(() => t.finish(1));
  }, hardTimeoutMs);
  return t;
}
