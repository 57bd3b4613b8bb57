// The in-browser benchmark: our WebAssembly prover and checkpoint (web/pkg) against snarkjs
// 0.7.6 on the peer circuit (../shared/peer/circom), in headless Chromium, with the memory of
// our proofs. A benchmark, not a test: missed goals are reported, only errors fail it.
//
//   scripts/web-build.sh && node web/tests/bench.mjs
//
// BENCH_PROFILE=N also prints the N functions where our proofs spent most time (Chromium's
// sampling profiler, self time).
//
// Environment: HEALTHCODE_BIN (default target/release/healthcode, else target/debug/healthcode),
// PEER_DIR (default ../shared/peer/circom), CHROMIUM (default /usr/bin/chromium).
// Writes the fixtures to target/web-bench/ and every figure to target/web-bench.json.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..');
const root = path.resolve(web, '..');
const fxDir = path.join(root, 'target', 'web-bench');
const outFile = path.join(root, 'target', 'web-bench.json');
const peerDir = path.resolve(root, process.env.PEER_DIR || '../shared/peer/circom');
const POLICY = path.join(root, 'policies', 'henan-2022.toml');
const VENUE = 'BENCH-GATE-1';
const MiB = 1024 * 1024;
const DAY = 86400;
const N = { oursProve: 5, oursAlone: 4, oursVerify: 20, snarkProve: 4, snarkVerify: 5 };
// Native figures (README, `cargo bench` on this 2-core machine), for the wasm/native ratio.
const NATIVE = { prove_ms: 104, verify_ms: 1.1 };
const GOALS = { prove_ratio: 0.2, prove_ms: 1000, verify_ms: 10, load_bytes: 5 * MiB, memory_bytes: 128 * MiB };

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

// ---- where our proofs spend their time (BENCH_PROFILE=N: the N functions of most self time) --

async function startProfile(cdp) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
}

async function printProfile(cdp, top) {
  const { profile } = await cdp.send('Profiler.stop');
  const self = new Map();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame;
    const name = f.functionName || `(${f.url.split('/').pop() || 'program'})`;
    self.set(name, (self.get(name) || 0) + (dt[i] || 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`profile of our proofs (self time, ${(total / 1000).toFixed(0)} ms sampled):`);
  for (const [name, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name.slice(0, 110)}`);
  }
}

// ---- fixtures -------------------------------------------------------------------------------

function cliBinary() {
  const candidates = [process.env.HEALTHCODE_BIN, 'target/release/healthcode', 'target/debug/healthcode'];
  for (const c of candidates.filter(Boolean)) {
    const p = path.resolve(root, c);
    if (fs.existsSync(p)) return p;
  }
  fail('no healthcode binary: run `cargo build --release --bin healthcode -j2` (or set HEALTHCODE_BIN)');
}

function buildFixtures() {
  for (const f of ['healthcode_wasm.js', 'healthcode_wasm_bg.wasm']) {
    if (!fs.existsSync(path.join(web, 'pkg', f))) fail(`web/pkg/${f} is missing: run scripts/web-build.sh first`);
  }
  const peerFiles = ['cred_js/cred.wasm', 'cred_0000.zkey', 'vk.json', 'input.json'];
  for (const f of peerFiles) {
    if (!fs.existsSync(path.join(peerDir, f))) fail(`peer file ${path.join(peerDir, f)} is missing (set PEER_DIR)`);
  }
  const bin = cliBinary();
  fs.rmSync(fxDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(fxDir, 'peer'), { recursive: true });
  const run = (...args) => {
    const out = execFileSync(bin, [...args, '--json'], { cwd: fxDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out);
  };
  const now = Math.floor(Date.now() / 1000);
  console.log(`bench: fixtures in ${path.relative(root, fxDir)} (${path.relative(root, bin)})`);
  run('setup', '--policy', POLICY, '--out', 'bundle');
  fs.rmSync(path.join(fxDir, 'bundle', 'ceremony.zkey'), { force: true }); // not served
  const registry = run('registry', 'init', 'registry.db', '--policy', POLICY).registry;
  const holder = run('holder', 'new', '--document', 'BENCH-0001', '-o', 'holder.json');
  const leaf = run('registry', 'enroll', 'registry.db', '--commitment', holder.commitment).leaf_index;
  const lab = run('signer', 'keygen', '-o', 'lab.key').public_key;
  run('registry', 'signer', 'add', 'registry.db', '--name', 'bench lab', '--role', 'lab', '--key', lab, '--from', String(now - 30 * DAY));
  const event = execFileSync(bin, [
    'sign-event', '--key', 'lab.key', '--registry', registry, '--holder', String(leaf),
    '--kind', 'negative_test', '--time', String(now - 2 * DAY),
  ], { cwd: fxDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  fs.writeFileSync(path.join(fxDir, 'events.jsonl'), event.trim() + '\n');
  const submitted = run('registry', 'submit', 'registry.db', 'events.jsonl');
  if (submitted.refused) fail(`the registry refused the fixture event: ${JSON.stringify(submitted)}`);
  run('registry', 'publish', 'registry.db');
  run('registry', 'witness', 'registry.db', '--leaf', String(leaf), '-o', 'witness.json');
  const heads = execFileSync(bin, ['registry', 'head', 'registry.db', '--all', '--json'], { cwd: fxDir, stdio: ['ignore', 'pipe', 'pipe'] });
  fs.writeFileSync(path.join(fxDir, 'heads.json'), heads);
  // The gate trusts heads imported from the file (importHeads), which no witness cosigns; it is
  // configured with one witness key anyway, since a quorum of 1 needs at least one.
  const witness = run('witness', 'keygen', '--name', 'bench.witness', '-o', 'witness.key').vkey;
  fs.writeFileSync(path.join(fxDir, 'fixtures.json'), JSON.stringify({ registry_key: registry, venue: VENUE, witness_keys: [witness], quorum: 1 }));
  for (const f of peerFiles) fs.copyFileSync(path.join(peerDir, f), path.join(fxDir, 'peer', path.basename(f)));
}

// ---- sizes ----------------------------------------------------------------------------------

function sizes(files) {
  const rows = files.map(([name, file]) => {
    const data = fs.readFileSync(file);
    return {
      name,
      bytes: data.length,
      gzip: zlib.gzipSync(data, { level: 9 }).length,
      brotli: zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
    };
  });
  const total = (k) => rows.reduce((s, r) => s + r[k], 0);
  return { files: rows, bytes: total('bytes'), gzip: total('gzip'), brotli: total('brotli') };
}

// ---- static server --------------------------------------------------------------------------

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.toml': 'text/plain; charset=utf-8',
};

function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let dir = web;
    let rel = decodeURIComponent(url.pathname);
    if (rel.startsWith('/fixtures/')) {
      dir = fxDir;
      rel = rel.slice('/fixtures'.length);
    }
    const file = path.resolve(dir, '.' + rel);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': MIME[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- processes and memory -------------------------------------------------------------------

/** Proportional and private (unshared) memory of a process, from /proc/PID/smaps_rollup. */
function procShare(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1] || 0) * 1024;
    return { pss: kb('Pss'), uss: kb('Private_Clean') + kb('Private_Dirty') };
  } catch {
    return null;
  }
}

function procStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number((s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')) || [])[1] || 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** The Chromium processes under this Node process, with their type (`--type=…`, or browser). */
function chromiumProcesses() {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (pid) => {
    for (const c of children.get(pid) || []) {
      let cmd = '';
      try { cmd = fs.readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0').join(' '); } catch { /* gone */ }
      if (/chrom/i.test(cmd)) out.push({ pid: c, type: (cmd.match(/--type=(\S+)/) || [, 'browser'])[1] });
      walk(c);
    }
  };
  walk(process.pid);
  return out;
}

/** Samples, every ~20 ms while running: the page's renderer's RSS, PSS and private memory
 *  (from /proc, read by Node) and the page's JS heap (CDP `Performance.getMetrics`; Chromium
 *  answers it even while the main thread runs wasm, through a V8 interrupt). */
class Sampler {
  constructor(cdp, pid) {
    this.cdp = cdp;
    this.pid = pid;
  }
  start() {
    this.running = true;
    this.rss = [];
    this.heap = [];
    const t0 = performance.now();
    this.timer = setInterval(() => {
      const t = performance.now() - t0;
      const s = procStatus(this.pid);
      const p = procShare(this.pid);
      if (s && p) this.rss.push({ t, rss: s.rss, ...p });
    }, 20);
    this.cdpLoop = (async () => {
      while (this.running) {
        const asked = performance.now() - t0;
        const { metrics } = await this.cdp.send('Performance.getMetrics');
        const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
        this.heap.push({ asked, answered: performance.now() - t0, used: m.JSHeapUsedSize, total: m.JSHeapTotalSize });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }
  async stop() {
    this.running = false;
    clearInterval(this.timer);
    await this.cdpLoop;
    const maxGap = this.heap.reduce((g, s) => Math.max(g, s.answered - s.asked), 0);
    return {
      rss_samples: this.rss.length,
      rss_peak: Math.max(0, ...this.rss.map((s) => s.rss)),
      pss_peak: Math.max(0, ...this.rss.map((s) => s.pss)),
      uss_peak: Math.max(0, ...this.rss.map((s) => s.uss)),
      js_heap_samples: this.heap.length,
      js_heap_used_peak: Math.max(0, ...this.heap.map((s) => s.used)),
      js_heap_total_peak: Math.max(0, ...this.heap.map((s) => s.total)),
      js_heap_longest_wait_ms: Math.round(maxGap),
    };
  }
}

// ---- report ---------------------------------------------------------------------------------

const mib = (b) => `${(b / MiB).toFixed(1)} MiB`;
const trio = (a, b, c) => `${(a / MiB).toFixed(1)} | ${(b / MiB).toFixed(1)} | ${(c / MiB).toFixed(1)} MiB`;
const ms = (x) => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(2)} ms`);

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r, j) => {
    const line = r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
    return j === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
  }).join('\n');
}

// ---- main -----------------------------------------------------------------------------------

buildFixtures();
const ours = sizes([
  ['healthcode_wasm_bg.wasm', path.join(web, 'pkg', 'healthcode_wasm_bg.wasm')],
  ['healthcode_wasm.js', path.join(web, 'pkg', 'healthcode_wasm.js')],
  ['proving.key', path.join(fxDir, 'bundle', 'proving.key')],
  ['verifying.key', path.join(fxDir, 'bundle', 'verifying.key')],
  ['manifest.json', path.join(fxDir, 'bundle', 'manifest.json')],
  ['policy.toml', path.join(fxDir, 'bundle', 'policy.toml')],
]);
const peer = sizes([
  ['snarkjs.min.js', path.join(web, 'node_modules', 'snarkjs', 'build', 'snarkjs.min.js')],
  ['cred.wasm', path.join(fxDir, 'peer', 'cred.wasm')],
  ['cred_0000.zkey', path.join(fxDir, 'peer', 'cred_0000.zkey')],
  ['vk.json', path.join(fxDir, 'peer', 'vk.json')],
]);

const server = await serve();
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--enable-precise-memory-info'],
});
let exitCode = 0;
try {
  const page = await browser.newPage();
  const logs = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') logs.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/bench.html?fixtures=/fixtures/`);
  await page.waitForFunction(() => window.bench?.ready, null, { timeout: 30000 }).catch(() => {
    throw new Error(`the page did not start: ${logs.join(' | ') || 'no message'}`);
  });
  const call = async (name, ...args) => {
    try {
      return await page.evaluate(([n, a]) => window.bench[n](...a), [name, args]);
    } catch (e) {
      throw new Error(`bench.${name}: ${e.message.split('\n')[0]}${logs.length ? `\n  page: ${logs.join('\n  page: ')}` : ''}`);
    }
  };

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const bcdp = await browser.newBrowserCDPSession();
  const info = await bcdp.send('SystemInfo.getProcessInfo').catch(() => ({ processInfo: [] }));
  const processes = chromiumProcesses();
  let renderers = processes.filter((p) => p.type === 'renderer').map((p) => p.pid);
  if (!renderers.length) renderers = info.processInfo.filter((p) => p.type === 'renderer').map((p) => p.id);
  const baseline = Object.fromEntries(renderers.map((p) => [p, { ...procStatus(p), ...procShare(p) }]));

  const load = await call('load');
  // The page's renderer: the one that grew when our wasm and the proving key were loaded.
  const grew = (p) => (procStatus(p)?.rss || 0) - (baseline[p]?.rss || 0);
  const ourPid = renderers.reduce((a, p) => (grew(p) > grew(a) ? p : a), renderers[0]);
  const afterLoad = { ...procStatus(ourPid), ...procShare(ourPid) };
  const sampler = new Sampler(cdp, ourPid);
  sampler.start();
  if (process.env.BENCH_PROFILE) await startProfile(cdp);
  const prove = await call('proveOurs', N.oursProve);
  if (process.env.BENCH_PROFILE) await printProfile(cdp, Number(process.env.BENCH_PROFILE) || 30);
  const proveMem = await sampler.stop();
  const afterOurs = procStatus(ourPid);
  // The same prover on the page's thread alone, for the gain of the second worker.
  const alone = await call('proveOurs', N.oursAlone, true);
  const gate = await call('loadGate');
  const verify = await call('verifyOurs', N.oursVerify);
  const afterGate = procStatus(ourPid);
  sampler.start();
  const sprove = await call('snarkjsProve', N.snarkProve);
  const snarkMem = await sampler.stop();
  const sverify = await call('snarkjsVerify', N.snarkVerify);
  const afterAll = procStatus(ourPid);
  const result = await page.evaluate(() => window.benchResult);

  const memory = {
    note: 'wasm_linear_*: our WebAssembly memory (it never shrinks: its size after the proofs, with ' +
      'only the prover session loaded, is the prover\'s peak; the gate, made after, grows it); ' +
      'renderer_*: the page\'s renderer process from /proc (RSS counts Chromium\'s shared code; ' +
      'PSS shares it out; USS is its private memory; VmHWM is the kernel\'s peak RSS since start); ' +
      'js_heap_*: CDP Performance.getMetrics of the page\'s main thread, sampled every ~20 ms',
    wasm_linear_after_init: load.wasm_memory_after_init,
    wasm_linear_after_session: load.wasm_memory_after_session,
    wasm_linear_after_proofs: prove.wasm_memory_bytes + prove.helper_wasm_memory_bytes,
    wasm_linear_helper: prove.helper_wasm_memory_bytes,
    wasm_linear_after_gate: gate.wasm_memory_after,
    renderer_pid: ourPid,
    renderers: renderers.length,
    renderer_before_load: baseline[ourPid],
    renderer_after_load: afterLoad,
    renderer_during_ours: proveMem,
    renderer_hwm_after_ours: afterOurs?.hwm,
    renderer_hwm_after_gate: afterGate?.hwm,
    renderer_during_snarkjs: snarkMem,
    renderer_hwm_after_all: afterAll?.hwm,
    chromium_processes: processes,
  };

  const oursProve = prove.median;
  const snarkProve = sprove.median;
  const ratio = oursProve / snarkProve;
  const goals = [
    ['prove ≤ 0.2 × snarkjs', `${ratio.toFixed(3)} ×`, ratio <= GOALS.prove_ratio],
    ['prove ≤ 1.0 s', ms(oursProve), oursProve <= GOALS.prove_ms],
    ['verify ≤ 10 ms', ms(verify.median), verify.median <= GOALS.verify_ms],
    ['first load ≤ 5 MiB (gzip)', mib(ours.gzip), ours.gzip <= GOALS.load_bytes],
    ['peak memory ≤ 128 MiB (prover wasm linear memory)', mib(memory.wasm_linear_after_proofs), memory.wasm_linear_after_proofs <= GOALS.memory_bytes],
    ['peak memory ≤ 128 MiB (renderer private memory, USS, sampled)', mib(proveMem.uss_peak), proveMem.uss_peak <= GOALS.memory_bytes],
    ['peak memory ≤ 128 MiB (renderer peak RSS, VmHWM)', mib(memory.renderer_hwm_after_ours), memory.renderer_hwm_after_ours <= GOALS.memory_bytes],
  ].map(([g, v, ok]) => ({ goal: g, value: v, met: ok }));

  const report = {
    date: new Date().toISOString(),
    chromium: browser.version(),
    hardware_concurrency: result.hardwareConcurrency,
    runs: N,
    native: NATIVE,
    load: { ours, snarkjs: peer, in_page: load, gate },
    ours_prove: prove,
    ours_prove_alone: alone,
    ours_verify: verify,
    snarkjs_prove: sprove,
    snarkjs_verify: sverify,
    memory,
    goals,
    page_messages: logs,
  };
  fs.writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

  console.log(`\nChromium ${browser.version()}, ${result.hardwareConcurrency} cores; medians, first run excluded where noted\n`);
  console.log(table([
    ['', 'ours (wasm)', 'snarkjs 0.7.6', 'ours/snarkjs', 'ours/native'],
    [`prove (median of ${N.oursProve - 1} | ${N.snarkProve - 1}, first excluded)`, ms(oursProve), ms(snarkProve), `${ratio.toFixed(3)}`, `${(oursProve / NATIVE.prove_ms).toFixed(2)} × ${NATIVE.prove_ms} ms`],
    ['prove, first (cold) run', ms(prove.all[0]), ms(sprove.all[0]), '', ''],
    [`prove on one thread (median of ${N.oursAlone - 1})`, ms(alone.median), '', `${(alone.median / snarkProve).toFixed(3)}`, `${(alone.median / NATIVE.prove_ms).toFixed(2)} × ${NATIVE.prove_ms} ms`],
    [`verify (median of ${N.oursVerify} | ${N.snarkVerify})`, ms(verify.median), ms(sverify.median), `${(verify.median / sverify.median).toFixed(3)}`, `${(verify.median / NATIVE.verify_ms).toFixed(2)} × ${NATIVE.verify_ms} ms`],
    ['verify, first (cold) run', ms(verify.cold_ms), ms(sverify.all[0]), '', ''],
    ['load: bytes (code + keys)', mib(ours.bytes), mib(peer.bytes), `${(ours.bytes / peer.bytes).toFixed(2)}`, ''],
    ['load: gzip -9', mib(ours.gzip), mib(peer.gzip), `${(ours.gzip / peer.gzip).toFixed(2)}`, ''],
    ['load: brotli -11', mib(ours.brotli), mib(peer.brotli), `${(ours.brotli / peer.brotli).toFixed(2)}`, ''],
    ['in page: wasm init | prover session | helper | gate (ms)', `${ms(load.wasm_init_ms)} | ${ms(load.prover_session_ms)} | ${ms(load.helper_start_ms)} | ${ms(gate.gate_new_ms)}`, '', '', ''],
    ['wasm memory: after session | proofs (helper) | gate', `${mib(memory.wasm_linear_after_session)} | ${mib(memory.wasm_linear_after_proofs)} (${mib(memory.wasm_linear_helper)}) | ${mib(memory.wasm_linear_after_gate)}`, '', '', ''],
    ['renderer RSS | PSS | USS before loading ours', trio(baseline[ourPid].rss, baseline[ourPid].pss, baseline[ourPid].uss), '', '', ''],
    ['renderer RSS | PSS | USS, peak while proving', trio(proveMem.rss_peak, proveMem.pss_peak, proveMem.uss_peak), trio(snarkMem.rss_peak, snarkMem.pss_peak, snarkMem.uss_peak), '', ''],
    ['renderer VmHWM (peak RSS since start), after phase', mib(memory.renderer_hwm_after_ours), mib(memory.renderer_hwm_after_all), '', ''],
    ['JS heap used | total, peak during proofs', `${mib(proveMem.js_heap_used_peak)} | ${mib(proveMem.js_heap_total_peak)}`, `${mib(snarkMem.js_heap_used_peak)} | ${mib(snarkMem.js_heap_total_peak)}`, '', ''],
  ]));
  console.log(`\n(memory rows, snarkjs column: the same renderer while snarkjs proved, after ours — its peaks include our session; its workers are threads of that process)`);
  console.log(`ours: ${prove.colour}, ${prove.code_bytes} B code, QR version ${prove.qr_version}; ${prove.workers} workers; prove runs ${prove.all.map(ms).join(', ')}; on one thread ${alone.all.map(ms).join(', ')}`);
  console.log(`snarkjs fullProve runs ${sprove.all.map(ms).join(', ')} (circuit and zkey from memory, fetched once in ${ms(sprove.fetch_ms)})`);
  console.log(`JS heap samples: ${proveMem.js_heap_samples} during ours (longest wait for an answer ${proveMem.js_heap_longest_wait_ms} ms), ${snarkMem.js_heap_samples} during snarkjs; RSS samples ${proveMem.rss_samples} | ${snarkMem.rss_samples}\n`);
  console.log(table([['goal', 'value', 'met'], ...goals.map((g) => [g.goal, g.value, g.met ? 'yes' : 'NO'])]));
  if (logs.length) console.log(`\npage messages:\n  ${logs.join('\n  ')}`);
  console.log(`\nwrote ${path.relative(root, outFile)}`);
} catch (e) {
  console.error(`bench: ${e.message}`);
  exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(exitCode);
