// Attacks on the pages (red team): each test is one attack, passing once its fix is in.
//
// Run: scripts/web-build.sh && node --test --test-concurrency=1 web/tests/redteam.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { PNG } from 'pngjs';
import { startRegistry, hc, hcJson, now, BIN } from './env.mjs';

const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let env, browser;

async function open(context, path, url = env.url) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${path}] page error: ${e.message}`));
  await page.goto(url + path);
  await page.waitForFunction(() => window.pageReady === true || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
  return page;
}

async function check(page, code) {
  await page.evaluate(() => { window.lastVerdict = null; });
  await page.fill('#code-text', code);
  await page.click('#paste button');
  await page.waitForFunction(() => window.lastVerdict, null, { timeout: 30_000 });
  const v = await page.evaluate(() => window.lastVerdict);
  await page.click('#next');
  return v;
}

before(async () => {
  env = await startRegistry();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});

after(async () => {
  await browser?.close();
  env?.stop();
});

test('importing an old heads file does not roll back heads the witnesses vouched for', async () => {
  const { d } = env;
  const h = hcJson(['holder', 'new', '--document', 'R1', '-o', d('h.json')]);
  const leaf = env.enrol(h.commitment, h.device_key);
  env.event(leaf, 'negative_test', now() - 86_400);
  env.publish();
  // Public, registry-signed heads up to her GREEN epoch, and her witness of then.
  writeFileSync(d('old-heads.json'), hc(['registry', 'head', d('reg.db'), '--all', '--json']));
  hc(['registry', 'witness', d('reg.db'), '--leaf', String(leaf), '-o', d('old-witness.json')]);
  // She tests positive; the registry publishes (and the witness cosigns) the RED epoch.
  env.event(leaf, 'positive_test', now() - 3600);
  env.publish();

  // Eleven minutes later (past head_grace), she proves over her old witness: a GREEN code.
  const t = now() + 11 * 60;
  const code = hcJson(['prove', '--bundle', env.bundle, '--holder', d('h.json'), '--witness', d('old-witness.json'), '--registry-key', env.registryKey, '--now', String(t)]);
  assert.equal(code.colour, 'green');

  // The command-line gate with the same trust (registry + witness quorum + cache) refuses it.
  let cli;
  try {
    execFileSync(BIN, ['verify', code.code, '--bundle', env.bundle, '--registry-key', env.registryKey, '--registry', env.url, '--witness-key', env.witnessKey, '--heads-cache', d('gate-cache.json'), '--slot', '--now', String(t), '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.fail('the CLI accepted the code');
  } catch (e) {
    cli = JSON.parse(e.stdout);
  }
  assert.equal(cli.reason, 'superseded-head');

  const ctx = await browser.newContext(PHONE);
  await ctx.clock.setFixedTime(new Date(t * 1000));
  const page = await open(ctx, '/gate.html');
  await page.click('summary:has-text("No camera")');
  await page.click('summary:has-text("Registry data")');
  assert.equal((await check(page, code.code)).reason, 'superseded-head');

  // The guard (offline, or told to) imports a heads file: public, registry-signed, but old.
  await page.setInputFiles('#heads-file', d('old-heads.json'));
  // Wait for the import itself to be taken or refused (the status line says where data came from).
  await page.waitForFunction(() => /imported from a file/.test(document.querySelector('#heads').textContent) || !document.querySelector('#error').hidden);
  const heads = await page.textContent('#heads');
  const v = await check(page, code.code);
  console.log(`after importing old heads: "${heads}" → ${JSON.stringify(v)}`);
  assert.notEqual(v.valid, true, `the page shows ${v.colour} for a code the CLI refuses (superseded-head)`);
  await ctx.close();
});

/** A PNG tiled with QR finder patterns: it makes the QR detector try every grouping of them. */
function finderPatterns(side = 1024, cell = 3) {
  const FINDER = ['1111111', '1000001', '1011101', '1011101', '1011101', '1000001', '1111111', '0000000'];
  const data = Buffer.alloc(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) data[y * side + x] = FINDER[Math.floor(y / cell) % 8][Math.floor(x / cell) % 8] === '1' ? 0 : 255;
  }
  return PNG.sync.write({ width: side, height: side, data }, { colorType: 0, inputColorType: 0 });
}

test('a picture of finder patterns does not freeze the checkpoint page', async () => {
  writeFileSync(env.d('finders.png'), finderPatterns());
  const ctx = await browser.newContext(PHONE);
  const page = await open(ctx, '/gate.html');
  await page.click('summary:has-text("No camera")');
  await page.setInputFiles('#picture', env.d('finders.png'));
  // While the picture is read, the page must still answer (the guard can scan the next code).
  const started = Date.now();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 200)));
  const blocked = Date.now() - started;
  await page.waitForSelector('#error:not([hidden])', { timeout: 120_000 });
  const error = await page.textContent('#error');
  console.log(`page blocked ${blocked} ms; after ${Date.now() - started} ms: "${error}"`);
  assert.ok(blocked < 2000, `the page's thread was blocked for ${blocked} ms`);
  assert.ok(Date.now() - started < 15_000, 'the reader was not given up at a deadline');
  await ctx.close();
});

test('a captive portal answering 200 HTML does not replace the kept configuration and bundle', async () => {
  // The pages served from an origin the test controls: the registry's, then a portal's.
  let portal = false;
  const proxy = http.createServer((req, res) => {
    if (portal) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html><body>Log in to the station Wi-Fi</body></html>');
    }
    const up = http.request(env.url + req.url, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${proxy.address().port}`;
  try {
    const ctx = await browser.newContext(PHONE);
    const page = await open(ctx, '/gate.html', origin);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });

    // At the station: the Wi-Fi's portal answers every request.
    portal = true;
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
    const behindPortal = (await page.evaluate(() => window.pageReady === true)) ? 'ready' : await page.textContent('#error');
    // Then no network at all: the copies kept at the first visit must still work.
    await ctx.setOffline(true);
    await page.reload();
    await page.waitForFunction(() => window.pageReady === true || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
    const offline = (await page.evaluate(() => window.pageReady === true)) ? 'ready' : await page.textContent('#error');
    console.log(`behind the portal: ${behindPortal}; offline afterwards: ${offline}`);
    assert.equal(offline, 'ready', 'the portal\'s page replaced the kept configuration or bundle');
    assert.equal(behindPortal, 'ready', 'behind a portal the page does not fall back to its kept copies');
    await ctx.close();
  } finally {
    proxy.close();
  }
});
