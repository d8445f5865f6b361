#!/usr/bin/env node
// Clicks through Gatehouse's consent page in a real browser (Debian's Chromium via playwright-core).
//
//   node approve.mjs <authorize-url> [approve|deny] [--name NAME]
//       opens the URL, saves $GATEHOUSE_ARTIFACTS/consent-NAME.png, clicks the button whose accessible
//       name is exactly "Approve" (or "Deny"), waits until the browser lands on the client's redirect URI
//       (taken from the URL's redirect_uri parameter) and prints
//       {"mode":"approve","final_url":...,"params":{...}} then `FINAL <url>`.
//   node approve.mjs <url> images [--count N]
//       loads a page of another origin with N <img> elements pointing at <url> (each with its own
//       `&img=i`), waits until every one has loaded or failed and prints {"mode":"images","loaded":N}.
//   node approve.mjs <url> frame [--name NAME]
//       loads a page that embeds <url> in an <iframe> and prints
//       {"mode":"frame","blocked":true|false,"buttons_in_frame":N,"console":[...]}.
//
// Exit codes: 0 done, 2 usage, 1 failure (no such button, no redirect, browser error).
// CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const positional = [];
let name = 'consent';
let count = 100;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--name') name = argv[++i];
  else if (argv[i] === '--count') count = Number(argv[++i]);
  else positional.push(argv[i]);
}
const [target, mode = 'approve'] = positional;
if (!target || !['approve', 'deny', 'frame', 'images'].includes(mode)) {
  process.stderr.write('usage: approve.mjs <url> [approve|deny|frame|images] [--name NAME] [--count N]\n');
  process.exit(2);
}
const timeout = Number(process.env.APPROVE_TIMEOUT_MS ?? 20000);
const artifacts = process.env.GATEHOUSE_ARTIFACTS;
const screenshot = async (page, suffix = '') => {
  if (!artifacts) return null;
  mkdirSync(artifacts, { recursive: true });
  const path = join(artifacts, `consent-${name}${suffix}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
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
  viewport: { width: 1000, height: 1200 },
  timeout,
});
let code = 0;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));

  if (mode === 'images') {
    const src = (i) => `${target}&img=${i}`.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    const imgs = Array.from({ length: count }, (_, i) => `<img src="${src(i)}" alt="">`).join('');
    await page.setContent(`<!doctype html><title>images</title>${imgs}`, { waitUntil: 'load' });
    const settled = await page.evaluate(() =>
      Promise.all([...document.images].map((img) => (img.complete ? 1 : new Promise((r) => {
        img.onload = () => r(1);
        img.onerror = () => r(1);
      })))).then((all) => all.length));
    process.stdout.write(`${JSON.stringify({ mode, loaded: settled })}\n`);
  } else if (mode === 'frame') {
    const html = `<!doctype html><title>framing test</title><iframe id="f" src="${target.replace(/"/g, '&quot;')}" width="900" height="900"></iframe>`;
    await page.setContent(html, { waitUntil: 'load' });
    // The iframe's load event fires for blocked frames too (they show an error page).
    const frame = page.frames().find((f) => f !== page.mainFrame());
    let buttons = 0;
    if (frame) {
      try {
        buttons = await frame.getByRole('button', { name: /^(Approve|Deny)$/ }).count();
      } catch {
        buttons = 0;
      }
    }
    const refused = consoleLines.filter((l) => /Refused to (display|frame)|frame-ancestors|X-Frame-Options/i.test(l));
    const shot = await screenshot(page, '-framed');
    process.stdout.write(
      `${JSON.stringify({ mode, blocked: buttons === 0, buttons_in_frame: buttons, frame_url: frame?.url() ?? null, refused, console: consoleLines, screenshot: shot })}\n`,
    );
  } else {
    const redirectUri = new URL(target).searchParams.get('redirect_uri');
    const response = await page.goto(target, { waitUntil: 'load' });
    const label = mode === 'approve' ? 'Approve' : 'Deny';
    const button = page.getByRole('button', { name: label, exact: true });
    // Gatehouse's /authorize answers a page that opens the consent review at once: wait for it.
    await button.first().waitFor({ state: 'visible' }).catch(() => {});
    const shot = await screenshot(page);
    if ((await button.count()) !== 1) {
      const text = (await page.locator('body').innerText().catch(() => '')).slice(0, 2000);
      throw new Error(`expected one "${label}" button on ${page.url()} (HTTP ${response?.status()}), page text: ${text}`);
    }
    const landed = redirectUri
      ? page.waitForURL((u) => u.href.startsWith(redirectUri.split('?')[0]), { waitUntil: 'commit' })
      : page.waitForNavigation({ waitUntil: 'commit' });
    await button.click();
    await landed;
    const finalUrl = page.url();
    const { code: authCode, ...params } = Object.fromEntries(new URL(finalUrl).searchParams);
    process.stdout.write(
      `${JSON.stringify({ mode, consent_status: response?.status() ?? null, final_url_has_code: Boolean(authCode), params, screenshot: shot })}\n`,
    );
    process.stdout.write(`FINAL ${finalUrl}\n`);
  }
} catch (error) {
  process.stderr.write(`approve.mjs: ${error?.stack ?? error}\n`);
  code = 1;
} finally {
  await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
