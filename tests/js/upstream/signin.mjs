#!/usr/bin/env node
// Signs in at the upstream authorization server (oidc-provider's dev interactions) in a real browser:
// Debian's Chromium via playwright-core, fresh profile each run.
//
//   node signin.mjs <authorization-url> [--login NAME] [--callback URL-PREFIX] [--name NAME] [--capture]
//
// Opens the URL, fills the login form (any login, any password), clicks "Sign-in", then "Continue" on
// the consent page (as many times as the AS asks), and waits until the browser lands on the callback:
// --callback, else the URL's redirect_uri (e.g. Gatehouse's http://127.0.0.1:<gw>/oauth/callback).
// Screenshots go to $GATEHOUSE_ARTIFACTS/upstream-signin-NAME-*.png. Prints
//   {"step":"signin","ok":true,"final_status":N,"params":{...without code...},"has_code":bool}
//   FINAL <url>                    (the callback URL with code, state, iss: the code is single-use)
//   TEXT <the callback page's text, first 500 characters, on one line>
// With --capture the FINAL URL is the Location of the authorization server's redirect to the callback,
// read from the 3xx response itself: for a private-use scheme (dev.gatehouse:/oauth/callback?…,
// RFC 8252 §7.1) the headless browser has no handler and aborts that navigation, and the test hands
// the URL to the app the way the desktop's scheme handler would (final_status is the redirect's).
// Never prints tokens (the browser never sees any). Exit codes: 0 done, 2 usage, 1 failure.
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const positional = [];
const opts = { login: 'alice', callback: null, name: 'signin', capture: false };
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--login') opts.login = argv[++i];
  else if (argv[i] === '--callback') opts.callback = argv[++i];
  else if (argv[i] === '--name') opts.name = argv[++i];
  else if (argv[i] === '--capture') opts.capture = true;
  else positional.push(argv[i]);
}
const [target] = positional;
if (!target || positional.length !== 1) {
  process.stderr.write('usage: signin.mjs <authorization-url> [--login NAME] [--callback URL-PREFIX] [--name NAME]\n');
  process.exit(2);
}
const callback = (opts.callback ?? new URL(target).searchParams.get('redirect_uri') ?? '').split('?')[0];
if (!callback) {
  process.stderr.write('signin.mjs: no --callback and no redirect_uri in the URL\n');
  process.exit(2);
}
const timeout = Number(process.env.SIGNIN_TIMEOUT_MS ?? 30000);
const artifacts = process.env.GATEHOUSE_ARTIFACTS;
let shots = 0;
const screenshot = async (page, what) => {
  if (!artifacts) return;
  mkdirSync(artifacts, { recursive: true });
  shots += 1;
  await page
    .screenshot({ path: join(artifacts, `upstream-signin-${opts.name}-${shots}-${what}.png`), fullPage: true })
    .catch(() => {});
};

const profile = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: false, // the new headless mode is asked for explicitly below
  args: [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1000, height: 1000 },
  timeout,
});
let code = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  let finalStatus = null;
  let captured = null;
  page.on('response', (r) => {
    if (r.url().startsWith(callback) && r.request().isNavigationRequest()) finalStatus = r.status();
  });
  if (opts.capture) {
    page.on('response', (r) => {
      const location = r.headers().location ?? '';
      if (!captured && r.status() >= 300 && r.status() < 400 && location.startsWith(callback)) {
        captured = location;
        finalStatus = r.status();
      }
    });
  }
  const onCallback = () => captured !== null || page.url().startsWith(callback);
  const first = await page.goto(target, { waitUntil: 'load' });
  if (!onCallback() && (first?.status() ?? 200) >= 400) {
    const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 1000);
    throw new Error(`the authorization URL answered HTTP ${first.status()}: ${text}`);
  }
  for (let round = 0; round < 4 && !onCallback(); round++) {
    const login = page.locator('input[name="login"]');
    const submit = page.locator('button[type="submit"]');
    await submit.first().waitFor({ state: 'visible' }).catch(() => {});
    if (onCallback()) break;
    // With --capture the last navigation (to the private-use scheme) is aborted by the browser.
    const navigated = page.waitForNavigation({ waitUntil: 'load' }).catch((error) => {
      if (captured === null) throw error;
    });
    if (await login.count()) {
      await login.fill(opts.login);
      await page.locator('input[name="password"]').fill('any-password');
      await screenshot(page, 'login');
      await page.getByRole('button', { name: 'Sign-in' }).click();
    } else if (await page.getByRole('button', { name: 'Continue' }).count()) {
      await screenshot(page, 'consent');
      await page.getByRole('button', { name: 'Continue' }).click();
    } else {
      const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 1000);
      throw new Error(`neither a login nor a consent form on ${page.url()}: ${text}`);
    }
    await navigated;
  }
  if (!onCallback()) await page.waitForURL((u) => u.href.startsWith(callback), { waitUntil: 'load' });
  if (captured === null) await page.waitForLoadState('load').catch(() => {});
  await screenshot(page, 'callback');
  const finalUrl = captured ?? page.url();
  const { code: authCode, ...params } = Object.fromEntries(new URL(finalUrl).searchParams);
  const text = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 500);
  process.stdout.write(
    `${JSON.stringify({ step: 'signin', ok: true, final_status: finalStatus, has_code: Boolean(authCode), params })}\n`,
  );
  process.stdout.write(`FINAL ${finalUrl}\n`);
  process.stdout.write(`TEXT ${text}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ step: 'signin', ok: false, error: String(error?.message ?? error) })}\n`);
  process.stderr.write(`signin.mjs: ${error?.stack ?? error}\n`);
  code = 1;
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
