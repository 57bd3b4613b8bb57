// The two pages in a real Chromium (Debian's, headless, driven by playwright-core), against a
// real registry service and witness: the citizen creates her secret, is enrolled, proves; the
// checkpoint reads her code through a fake camera fed with the code's own image. Every screen
// is saved to target/web-screens/ at phone size (360×740) for a person to check.
//
// Run: scripts/web-build.sh && node --test web/tests/   (CI: scripts/web-test.sh)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, hc, hcJson, now, ROOT } from './env.mjs';
import { pngToY4m } from './y4m.mjs';

const SCREENS = join(ROOT, 'target/web-screens');
const PHONE = { viewport: { width: 360, height: 740 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

let env, browser;
const state = {}; // what one step hands the next

function launch(extra = []) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...extra] });
}

async function open(context, path) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${path}] page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.log(`[${path}] console: ${m.text()}`));
  await page.goto(env.url + path);
  await page.waitForFunction(() => window.pageReady === true || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(SCREENS, `${name}.png`) });
}

const errorText = (page) => page.locator('#error').textContent();
async function expectError(page, pattern) {
  await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
  const text = await errorText(page);
  assert.match(text, pattern);
  return text;
}

async function prove(page) {
  await page.evaluate(() => { window.lastCode = null; });
  await page.click('#get-code button.primary');
  await page.waitForFunction(() => window.lastCode || !document.querySelector('#error').hidden, null, { timeout: 120_000 });
  const code = await page.evaluate(() => window.lastCode && { ...window.lastCode, png: Array.from(window.lastCode.png) });
  if (!code) throw new Error(`proving failed: ${await errorText(page)}`);
  await page.waitForSelector('#code-screen:not([hidden])');
  return code;
}

/** The code's text form with its colour byte set to `colour` (0 green): a forged claim. */
function recolour(text, colour) {
  const bytes = Buffer.from(text.slice(5), 'base64url');
  const epochLen = [...bytes.subarray(9)].findIndex((b) => b < 0x80) + 1;
  const at = 9 + epochLen + 5;
  bytes[at] = (bytes[at] & ~0x03) | colour;
  return 'HCV1:' + bytes.toString('base64url');
}

before(async () => {
  mkdirSync(SCREENS, { recursive: true });
  env = await startRegistry();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  env?.stop();
});

test('the citizen makes her secret on the phone, is enrolled, and proves a GREEN code', async () => {
  const ctx = await browser.newContext(PHONE);
  state.citizen = ctx;
  // Everything the citizen's pages send, to check below that the secret is never in it.
  state.sent = [];
  ctx.on('request', (r) => state.sent.push(`${r.method()} ${r.url()} ${JSON.stringify(r.headers())} ${r.postData() ?? ''}`));
  const page = await open(ctx, '/');
  assert.equal(await page.isVisible('[data-screen=welcome]'), true);
  await shot(page, '01-citizen-welcome');
  await page.fill('#document', 'E12345678');
  await page.click('#create button');
  await page.waitForSelector('#commitment:not(:empty)');
  await shot(page, '02-citizen-register');
  const commitment = await page.textContent('#commitment');
  const deviceKey = await page.textContent('#device-key');
  state.leaf = env.enrol(commitment, deviceKey);
  env.event(state.leaf, 'negative_test', now() - 86_400);
  env.publish();
  await page.click('#enrolled');
  await shot(page, '03-citizen-home');

  await page.evaluate(() => { window.lastCode = null; });
  await page.click('#get-code button.primary');
  await page.waitForSelector('[data-screen=proving]:not([hidden])');
  await shot(page, '04-citizen-proving');
  await page.waitForFunction(() => window.lastCode, null, { timeout: 120_000 });
  const code = await page.evaluate(() => ({ ...window.lastCode, png: Array.from(window.lastCode.png) }));
  assert.equal(code.colour, 'green');
  assert.match(code.code, /^HCV1:/);
  assert.equal(await page.textContent('#code-colour'), 'GREEN');
  // When it was made, and until when a checkpoint takes it (the policy's max_code_age, 5 minutes).
  assert.match(await page.textContent('#code-time'), /^Made .*; checkpoints take it until .* \(5 minutes\)$/);
  assert.equal(await page.textContent('#code-offline'), '', 'made online: no offline note');
  assert.doesNotMatch(await page.textContent('#code-screen'), /\b1[0-9]{9}\b/, 'no bare unix seconds on screen');
  await shot(page, '05-citizen-code-green');
  // Two cores here: half of the proof ran in the second worker (web/src/split-prover.js).
  assert.equal(code.workers, 2);
  state.green = code;
  console.log(`wasm prove in the page: ${code.prove_ms} ms (whole tap-to-code ${code.total_ms} ms), wasm memory ${(code.memory_bytes / 2 ** 20).toFixed(1)} MiB`);
});

/** A new citizen, enrolled with a negative test, on the home screen of `ctx`. */
async function enrolledCitizen(ctx, document) {
  const page = await open(ctx, '/');
  await page.fill('#document', document);
  await page.click('#create button');
  await page.waitForSelector('#commitment:not(:empty)');
  const leaf = env.enrol(await page.textContent('#commitment'), await page.textContent('#device-key'));
  env.event(leaf, 'negative_test', now() - 86_400);
  env.publish();
  await page.click('#enrolled');
  return page;
}

// Prefixed to the proof helper's script: it flips one bit of the assignment it is sent, so it
// answers well-formed sums (curve points of the right group) for the wrong values.
const LYING_HELPER = `Object.defineProperty(self, 'onmessage', { configurable: true, set(f) {
  self.addEventListener('message', (ev) => { const d = ev.data; if (d && d.type === 'sums') d.z[8 + 3 * 32] ^= 1; f({ data: d }); });
} });
`;

test('a proof helper that answers wrong sums, or never starts, costs time but never the code', async () => {
  for (const [what, helper] of [
    ['lying', async (route) => {
      const r = await route.fetch();
      await route.fulfill({ response: r, body: LYING_HELPER + (await r.text()) });
    }],
    ['missing', (route) => route.fulfill({ status: 404, body: 'not found' })],
  ]) {
    // No service worker: every file of the page comes through the route.
    const ctx = await browser.newContext({ ...PHONE, serviceWorkers: 'block' });
    const helped = [];
    await ctx.route('**/proof-helper-*.js', (route) => { helped.push(route.request().url()); return helper(route); });
    const page = await enrolledCitizen(ctx, `E-HELPER-${what}`);
    const warnings = [];
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    page.on('worker', (w) => w.on('console', (m) => m.type() === 'warning' && warnings.push(m.text())));
    const code = await prove(page);
    assert.equal(helped.length > 0, true, `${what}: the helper was asked for`);
    assert.equal(code.colour, 'green', what);
    assert.equal(code.workers, 1, `${what}: the page proved alone`);
    assert.equal(await page.textContent('#code-colour'), 'GREEN');
    // The code is a real one: the checkpoint accepts it.
    const gate = await open(ctx, '/gate.html');
    await gate.click('summary:has-text("No camera")');
    await gate.fill('#code-text', code.code);
    await gate.evaluate(() => { window.lastVerdict = null; });
    await gate.click('#paste button');
    await gate.waitForFunction(() => window.lastVerdict, null, { timeout: 30_000 });
    assert.equal((await gate.evaluate(() => window.lastVerdict)).colour, 'green', what);
    console.log(`${what} helper: proved alone in ${code.prove_ms} ms; warnings: ${warnings.join(' | ') || 'none seen'}`);
    await ctx.close();
  }
});

test('a contact of a contact turns her code YELLOW, and the page says why in words', async () => {
  const page = state.citizen.pages()[0];
  await page.click('#code-done');
  // Another person tests positive; a tracer names her as a contact of that case's contact.
  const other = hcJson(['holder', 'new', '--document', 'Y20220601', '-o', env.d('index-holder.json')]);
  const indexLeaf = env.enrol(other.commitment, other.device_key);
  const indexCase = JSON.parse(env.event(indexLeaf, 'positive_test', now() - 3 * 86_400)).event;
  env.event(state.leaf, 'secondary_contact', now() - 86_400, { indexCase });
  env.publish();
  const code = await prove(page);
  assert.equal(code.colour, 'yellow');
  assert.equal(await page.textContent('#code-colour'), 'YELLOW');
  // Opened again after scrolling down to "Done" last time: the code's top is in sight.
  assert.equal(await page.evaluate(() => document.querySelector('#code-screen').scrollTop), 0);
  const why = await page.textContent('.why');
  assert.match(why, /Contact of a close contact within 7 days/);
  assert.match(why, /Secondary contact: .*1 day ago|Secondary contact: .*yesterday/);
  await shot(page, '05b-citizen-code-yellow');
  state.yellow = code;
});

test('a positive test turns her code RED, and the page says why in words', async () => {
  const page = state.citizen.pages()[0];
  await page.click('#code-done');
  env.event(state.leaf, 'positive_test', now() - 2 * 86_400);
  env.publish();
  const code = await prove(page);
  assert.equal(code.colour, 'red');
  const why = await page.textContent('.why');
  assert.match(why, /Positive test within 14 days, not cleared by a negative test/);
  assert.match(why, /Positive test: .*2 days ago/);
  await shot(page, '06-citizen-code-red');
  state.red = code;
  await page.click('#code-done');

  // Her secret is on the phone (IndexedDB) and in nothing the pages sent.
  const holder = JSON.parse(await page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('keyval-store');
    open.onsuccess = () => {
      const get = open.result.transaction('keyval').objectStore('keyval').get('holder');
      get.onsuccess = () => resolve(get.result);
      get.onerror = reject;
    };
    open.onerror = reject;
  })));
  const sk = holder.sk.replace(/^0x/, '');
  assert.equal(sk.length, 64);
  assert.ok(state.sent.length > 5, `requests seen: ${state.sent.length}`);
  for (const r of state.sent) assert.ok(!r.toLowerCase().includes(sk.toLowerCase()), `the secret was sent: ${r.slice(0, 80)}`);
});

test('the checkpoint reads the GREEN code through the camera and shows GREEN', async () => {
  const y4m = join(SCREENS, 'green-code.y4m');
  pngToY4m(Buffer.from(state.green.png), y4m);
  const camBrowser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`]);
  try {
    const ctx = await camBrowser.newContext({ ...PHONE, permissions: ['camera'] });
    const page = await open(ctx, '/gate.html');
    assert.match(await page.textContent('#heads'), /^Registry data fetched just now: update \d+ of .*\.$/);
    await shot(page, '07-gate-ready');
    await page.click('#camera-start');
    await page.waitForSelector('#result:not([hidden])', { timeout: 60_000 });
    assert.equal(await page.textContent('#verdict'), 'GREEN');
    assert.equal(await page.textContent('#reason'), 'Valid health code');
    await shot(page, '08-gate-green');

    // The same picture seven minutes later (past max_code_age, within head_grace): stale.
    const later = await camBrowser.newContext({ ...PHONE, permissions: ['camera'] });
    await later.clock.setFixedTime(new Date(Date.now() + 7 * 60_000));
    const stale = await open(later, '/gate.html');
    await stale.click('#camera-start');
    await stale.waitForSelector('#result:not([hidden])', { timeout: 60_000 });
    assert.equal(await stale.textContent('#verdict'), 'INVALID');
    assert.match(await stale.textContent('#reason'), /^STALE: this code was made too long ago/);
    assert.match(await stale.textContent('#action'), /make a new code now/);
    assert.match(await stale.textContent('#detail'), /^Technical detail: .*max_code_age/);
    await shot(stale, '09-gate-stale');
  } finally {
    await camBrowser.close();
  }
});

test('a tampered code shows INVALID with its reason; a queue is verified together', async () => {
  const ctx = await browser.newContext(PHONE);
  const page = await open(ctx, '/gate.html');
  await page.click('summary:has-text("No camera")');
  // A RED holder's code edited to claim GREEN: the proof no longer matches.
  await page.fill('#code-text', recolour(state.red.code, 0));
  await page.click('#paste button');
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.textContent('#verdict'), 'INVALID');
  assert.match(await page.textContent('#reason'), /^FORGED: /);
  assert.match(await page.textContent('#action'), /^Do not admit/);
  await shot(page, '10-gate-forged');
  await page.click('#next');

  // Her YELLOW code, as the guard sees it.
  await page.fill('#code-text', state.yellow.code);
  await page.click('#paste button');
  await page.waitForSelector('#result:not([hidden])');
  assert.equal(await page.textContent('#verdict'), 'YELLOW');
  assert.equal(await page.getAttribute('#result', 'data-colour'), 'yellow');
  await shot(page, '10b-gate-yellow');
  await page.click('#next');

  // A venue code the code does not answer.
  await page.fill('#venue', 'another-venue/gate-1');
  await page.fill('#code-text', state.red.code);
  await page.click('#paste button');
  await page.waitForSelector('#result:not([hidden])');
  assert.match(await page.textContent('#reason'), /^WRONG VENUE/);
  await shot(page, '11-gate-wrong-venue');
  await page.click('#next');
  await page.fill('#venue', '');

  await page.check('#queue-mode');
  for (const c of [state.green.code, recolour(state.red.code, 0), state.yellow.code, state.red.code]) {
    await page.fill('#code-text', c);
    await page.click('#paste button');
  }
  assert.equal(await page.textContent('#queue-count'), '4');
  await page.click('#queue-verify');
  const batch = await page.evaluate(() => window.lastBatch);
  assert.deepEqual(batch.map((v) => (v.valid ? v.colour : v.reason)), ['green', 'bad-proof', 'yellow', 'red']);
  // Each result names its place in the queue; the count of waiting codes is 0 again.
  assert.deepEqual(await page.locator('#queue-results li').allTextContents(), [
    'Code 1: GREEN',
    'Code 2: INVALID (FORGED: this code was altered or made up)',
    'Code 3: YELLOW',
    'Code 4: RED',
  ]);
  // Dark text on yellow (white on yellow cannot be read).
  assert.equal(await page.locator('#queue-results li').nth(2).evaluate((li) => getComputedStyle(li).color), 'rgb(17, 17, 17)');
  assert.equal(await page.textContent('#queue-count'), '0');
  assert.equal(await page.textContent('#queue-checked'), '4 codes checked, in the order scanned: 1 INVALID.');
  await shot(page, '12-gate-queue');
  await ctx.close();
});

test('a code bound to her document on request passes the identity check, and not for another document', async () => {
  const ctx = await browser.newContext(PHONE);
  const gate = await open(ctx, '/gate.html');
  const citizen = state.citizen.pages()[0];
  await gate.click('#identity summary');
  await gate.click('summary:has-text("No camera")');
  await citizen.click('summary:has-text("The checkpoint asks")');
  await shot(gate, '13-gate-identity');
  for (const [document, expected] of [['E12345678', 'RED'], ['X99999999', 'INVALID']]) {
    await gate.click('#nonce-new');
    const nonce = await gate.textContent('#nonce');
    assert.match(nonce, /^[0-9a-f]{32}$/);
    await citizen.fill('#nonce', nonce);
    const code = await prove(citizen);
    assert.equal(await citizen.inputValue('#nonce'), '', 'the nonce binds one code only');
    await citizen.click('#code-done');
    // An ordinary check refuses a bound code: it answers a nonce this checkpoint did not give.
    const plain = await browser.newContext(PHONE);
    const other = await open(plain, '/gate.html');
    await other.click('summary:has-text("No camera")');
    await other.fill('#code-text', code.code);
    await other.click('#paste button');
    await other.waitForSelector('#result:not([hidden])');
    assert.match(await other.textContent('#reason'), /^ID-BOUND/);
    await plain.close();

    await gate.fill('#document', document);
    await gate.fill('#code-text', code.code);
    await gate.click('#paste button');
    await gate.waitForSelector('#result:not([hidden])');
    assert.equal(await gate.textContent('#verdict'), expected);
    if (expected === 'INVALID') {
      assert.match(await gate.textContent('#reason'), /^WRONG PERSON/);
      await shot(gate, '14-gate-wrong-person');
    }
    assert.equal(await gate.isVisible('#nonce'), false, 'a nonce is used once');
    await gate.click('#next');
  }
  await ctx.close();
});

test('bad input gives a clear message on the screen', async () => {
  // An unreadable picture at the checkpoint.
  const ctx = await browser.newContext(PHONE);
  const gate = await open(ctx, '/gate.html');
  await gate.click('summary:has-text("No camera")');
  await gate.setInputFiles('#picture', join(SCREENS, '01-citizen-welcome.png'));
  await expectError(gate, /^No health code could be read in this picture \(no QR code found in the image\)\. Take the picture closer/);
  await shot(gate, '15-gate-unreadable');

  // A witness file from another registry, imported by the citizen.
  const other = join(env.dir, 'other');
  hc(['registry', 'init', `${other}.db`, '--policy', join(ROOT, 'policies/henan-2022.toml')]);
  const h = hcJson(['holder', 'new', '--document', 'X1', '-o', `${other}-holder.json`]);
  hc(['registry', 'enroll', `${other}.db`, '--commitment', h.commitment]);
  hc(['registry', 'publish', `${other}.db`]);
  hc(['registry', 'witness', `${other}.db`, '--leaf', '0', '-o', `${other}-witness.json`]);
  const citizen = state.citizen.pages()[0];
  await citizen.click('summary:has-text("My record and backup")');
  await citizen.setInputFiles('#witness-file', `${other}-witness.json`);
  await expectError(citizen, /^This record file: it comes from another registry than the one this app trusts\. Tap "Fetch my latest record" instead/);
  await shot(citizen, '16-citizen-other-registry');

  // A bundle for another policy (same rules, another id): the registry's heads are for its own.
  const policy = readFileSync(join(ROOT, 'policies/henan-2022.toml'), 'utf8').replace('id = "henan-2022-06"', 'id = "elsewhere-2022"');
  writeFileSync(join(env.dir, 'elsewhere.toml'), policy);
  hc(['setup', '--policy', join(env.dir, 'elsewhere.toml'), '--out', join(env.dir, 'elsewhere')]);
  const wrong = await browser.newContext(PHONE);
  await wrong.route('**/bundle/*', (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop();
    route.fulfill({ body: readFileSync(join(env.dir, 'elsewhere', name)) });
  });
  const wrongGate = await open(wrong, '/gate.html');
  // Said where the guard looks, the status line, not as a second alert under it.
  await wrongGate.waitForFunction(() => /failed this checkpoint's checks/.test(document.querySelector('#heads').textContent), null, { timeout: 60_000 });
  assert.match(await wrongGate.textContent('#heads'), /^Cannot check codes yet: this checkpoint has no registry data\. .* The registry's newest data failed this checkpoint's checks and is not used: tell your supervisor .* Technical detail: head of epoch \d+: .*polic/);
  assert.equal(await wrongGate.getAttribute('#heads', 'data-state'), 'bad');
  assert.ok(await wrongGate.locator('#error').isHidden(), 'no second alert');
  await shot(wrongGate, '17-gate-other-policy');
  await wrong.close();
  await ctx.close();
});

test('the checkpoint says which registry data it checks codes against, and keeps a refusal in sight', async () => {
  const ctx = await browser.newContext(PHONE);
  const gate = await open(ctx, '/gate.html');
  const status = () => gate.textContent('#heads');
  // One press of "Update now", waited for until the page has handled the answer (or its absence).
  const update = async (pattern) => {
    const before = await gate.evaluate(() => window.headsChecks || 0);
    await gate.click('#heads-refresh');
    await gate.waitForFunction((n) => (window.headsChecks || 0) > n, before, { timeout: 30_000 });
    assert.match(await status(), pattern);
    return gate.getAttribute('#heads', 'data-state');
  };
  await gate.click('summary:has-text("Registry data")');
  assert.match(await status(), /^Registry data fetched just now: /);
  // Today's answer, kept to be served again once the registry has moved on.
  let old = null;
  await ctx.route('**/v1/heads?*', async (route) => {
    const r = await route.fetch();
    old = await r.text();
    await route.fulfill({ response: r, body: old });
  });
  await update(/^Registry data fetched just now: /);
  assert.ok(old && old.startsWith('{'), 'the answer was kept');
  await ctx.unroute('**/v1/heads?*');
  env.publish();
  assert.equal(await update(/^Registry data fetched just now: update \d+/), 'ok');
  const newest = Number((await status()).match(/update (\d+)/)[1]);

  // The registry fails: said on the status line, the data in use and its age with it.
  await ctx.route('**/v1/heads?*', async (route) => route.fulfill({ status: 500, body: 'down' }));
  assert.equal(await update(/could not send newer data \(it answered 500\)/), 'warn');
  await ctx.unroute('**/v1/heads?*');

  // Someone on the way serves the older answer (every head in it validly signed): refused as a
  // roll-back, said on the status line, and codes are still checked against the newer data.
  await ctx.route('**/v1/heads?*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: old }));
  assert.equal(await update(/failed this checkpoint's checks/), 'bad');
  assert.match(await status(), new RegExp(`^Codes are checked against registry data fetched .*: update ${newest} of .* Technical detail: `));
  assert.ok(await gate.locator('#error').isHidden(), 'said once, on the status line');

  // The network goes: the refusal stays in sight until an update is accepted.
  await ctx.unroute('**/v1/heads?*');
  await ctx.route('**/v1/heads?*', (route) => route.abort());
  assert.equal(await update(/^Offline: using registry data fetched .* failed this checkpoint's checks/), 'bad');
  await ctx.unroute('**/v1/heads?*');
  assert.equal(await update(/^Registry data fetched just now: [^]*$/), 'ok');
  assert.doesNotMatch(await status(), /failed/);
  await ctx.close();
});

test('the backup opens only with its passphrase; a corrupted one is refused on screen', async () => {
  const page = state.citizen.pages()[0];
  await page.fill('#backup-pass', 'correct horse battery');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#backup button')]);
  const backup = readFileSync(await download.path(), 'utf8').trim();
  assert.match(backup, /^HCBACKUP1:[A-Za-z0-9+/]+$/);

  const phone = await browser.newContext(PHONE);
  const fresh = await open(phone, '/');
  await fresh.click('summary:has-text("I have a backup")');
  const corrupted = backup.slice(0, 40) + (backup[40] === 'A' ? 'B' : 'A') + backup.slice(41);
  await fresh.fill('#restore-text', corrupted);
  await fresh.fill('#restore-pass', 'correct horse battery');
  await fresh.click('#restore button');
  await expectError(fresh, /^The backup: the passphrase is wrong, or the backup was altered\. Type the passphrase again, or try another copy/);
  await shot(fresh, '18-citizen-corrupted-backup');

  // The intact backup restores her on the new phone, and she proves there.
  await fresh.fill('#restore-text', backup);
  await fresh.click('#restore button');
  await fresh.waitForSelector('[data-screen=home]:not([hidden])', { timeout: 30_000 });
  const code = await prove(fresh);
  assert.equal(code.colour, 'red');
  await phone.close();
});

test('the pages are installable (manifest, icons, service worker)', async () => {
  // Chromium reports nothing missing; an ordinary profile, since incognito ones never install.
  const profile = join(env.dir, 'profile');
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, ...PHONE });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(env.url + '/');
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    const cdp = await ctx.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, []);
  } finally {
    await ctx.close();
  }
});

test('both pages work offline after the first visit', async () => {
  const ctx = state.citizen;
  const gate = await open(ctx, '/gate.html');
  // The service worker took over (it holds every built file, the bundle and the config).
  await gate.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
  await ctx.setOffline(true);
  try {
    await gate.reload();
    await gate.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
    assert.match(await gate.textContent('#heads'), /^Offline: using registry data fetched/);
    await shot(gate, '19-gate-offline');
    await gate.click('summary:has-text("No camera")');
    await gate.fill('#code-text', state.red.code);
    await gate.click('#paste button');
    await gate.waitForSelector('#result:not([hidden])');
    assert.equal(await gate.textContent('#verdict'), 'RED');

    const citizen = state.citizen.pages()[0];
    await citizen.reload();
    await citizen.waitForFunction(() => window.pageReady === true, null, { timeout: 60_000 });
    const code = await prove(citizen);
    assert.equal(code.colour, 'red');
    assert.match(await citizen.textContent('#code-offline'), /^Made offline from the record kept on this phone \(from .*\)\. If the checkpoint says STALE/);
    await shot(citizen, '20-citizen-offline-code');
  } finally {
    await ctx.setOffline(false);
  }
});
