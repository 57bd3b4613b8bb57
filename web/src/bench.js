// The in-browser benchmark (web/bench.html): our WebAssembly prover and checkpoint against
// snarkjs (its browser build, loaded after our phases) on the peer circuit, in one page.
//
// The fixtures (made by web/tests/bench.mjs) are under `?fixtures=URL` (default /fixtures/):
// fixtures.json names the registry key and the venue; bundle/ holds the policy bundle;
// holder.json, witness.json and heads.json the citizen's files and the registry's heads;
// peer/ the snarkjs circuit (cred.wasm, cred_0000.zkey, vk.json, input.json).
//
// Every phase is a function of `window.bench`, so the runner can read the renderer's memory
// between them; each adds its figures to `window.benchResult` (times in milliseconds).
// `?auto=1` runs them all (`bench.all()`) and shows the result.

import init, { ProverSession, Gate } from '../pkg/healthcode_wasm.js';
import { SplitProver, compileWasm } from './split-prover.js';

const params = new URLSearchParams(location.search);
const base = new URL(params.get('fixtures') || '/fixtures/', location.href);
const VENUE_DEFAULT = 'BENCH-GATE-1';

const result = { userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency };
window.benchResult = result;

const state = {};

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const round = (x) => Math.round(x * 1000) / 1000;
const summary = (all, skipFirst) => {
  const warm = skipFirst ? all.slice(1) : all;
  return { all: all.map(round), median: round(median(warm)), min: round(Math.min(...warm)), runs: warm.length, first_excluded: skipFirst };
};

async function bytes(path) {
  const r = await fetch(new URL(path, base));
  if (!r.ok) throw new Error(`GET ${new URL(path, base)}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}
const text = async (path) => new TextDecoder().decode(await bytes(path));
const wasmMemory = () => state.wasm.memory.buffer.byteLength;
const heap = () => (performance.memory ? { used: performance.memory.usedJSHeapSize, total: performance.memory.totalJSHeapSize } : null);
const status = (s) => { const e = document.getElementById('status'); if (e) e.textContent = s; };

/** Loads our wasm, the bundle and the citizen's files, and makes the prover session (the gate
 *  comes after the proofs, so the wasm memory after them is the prover's own peak). */
async function load() {
  status('loading our WebAssembly and the bundle…');
  const fx = JSON.parse(await text('fixtures.json'));
  state.fx = fx;
  let t = performance.now();
  // Compiled here and shared with the helper worker, as the prover worker does.
  state.module = await compileWasm();
  state.wasm = await init({ module_or_path: state.module });
  const initMs = performance.now() - t;
  const memAfterInit = wasmMemory();

  t = performance.now();
  const [manifest, policy, provingKey, verifyingKey] = await Promise.all(
    ['manifest.json', 'policy.toml', 'proving.key', 'verifying.key'].map((f) => bytes(`bundle/${f}`)),
  );
  const fetchMs = performance.now() - t;
  state.bundle = { manifest, policy, verifyingKey };
  state.holder = await text('holder.json');
  state.witness = await text('witness.json');
  state.heads = await text('heads.json');

  state.origin = new URL('bundle/', base).href;
  t = performance.now();
  state.session = new ProverSession(state.origin, manifest, policy, provingKey, verifyingKey);
  const sessionMs = performance.now() - t;
  // The citizen's page proves with a second worker (split-prover.js); so does this page.
  t = performance.now();
  state.split = new SplitProver(state.session);
  const split = await state.split.start(state.module);
  const helperMs = performance.now() - t;

  result.load = {
    wasm_init_ms: round(initMs),
    bundle_fetch_ms: round(fetchMs),
    prover_session_ms: round(sessionMs),
    helper_start_ms: round(helperMs),
    workers: split ? 2 : 1,
    proving_key_bytes: provingKey.length,
    wasm_memory_after_init: memAfterInit,
    wasm_memory_after_session: wasmMemory(),
    js_heap_after_load: heap(),
  };
  return result.load;
}

/** The checkpoint: the gate (policy recompiled, as `verify` does) and the registry's heads. */
async function loadGate() {
  status('loading the checkpoint…');
  const { manifest, policy, verifyingKey } = state.bundle;
  const before = wasmMemory();
  let t = performance.now();
  state.gate = new Gate(state.origin, manifest, policy, verifyingKey, state.fx.registry_key, state.fx.witness_keys || [], state.fx.quorum ?? 1);
  const gateMs = performance.now() - t;
  t = performance.now();
  const heads = state.gate.importHeads(state.heads, Date.now() / 1000);
  const importMs = performance.now() - t;
  result.gate = { gate_new_ms: round(gateMs), import_heads_ms: round(importMs), heads, wasm_memory_before: before, wasm_memory_after: wasmMemory() };
  return result.gate;
}

/** Our proofs: `n` runs as the citizen's page makes them (with the helper worker where there
 *  are two cores), or with `alone` on this thread only; the first excluded from the median. */
async function proveOurs(n = 5, alone = false) {
  status(`our prover: ${n} proofs${alone ? ' on one thread' : ''}…`);
  const times = [];
  let last;
  for (let i = 0; i < n; i++) {
    const options = {
      holder: state.holder,
      witness: state.witness,
      registry_key: state.fx.registry_key,
      now: Date.now() / 1000,
      venue: state.fx.venue || VENUE_DEFAULT,
      caption: 'benchmark',
    };
    const t = performance.now();
    last = alone ? state.session.prove(options) : await state.split.prove(options);
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 0)); // let the runner's samples in between proofs
  }
  state.code = last.code;
  const key = alone ? 'ours_prove_alone' : 'ours_prove';
  result[key] = {
    ...summary(times, true),
    colour: last.colour,
    code_chars: last.code.length,
    code_bytes: last.bytes,
    qr_version: last.qr_version,
    png_bytes: last.png?.length,
    // Linear memory never shrinks: its size after the proofs (with only the prover session
    // loaded) is the prover's peak.
    wasm_memory_bytes: wasmMemory(),
    helper_wasm_memory_bytes: alone ? 0 : state.split.helperMemory,
    workers: !alone && state.split.split ? 2 : 1,
    js_heap_after: heap(),
  };
  return result[key];
}

/** Our checkpoint: the code verified `n` times (and one cold run before, reported apart). */
async function verifyOurs(n = 20) {
  status(`our checkpoint: ${n} verifications…`);
  const code = new TextEncoder().encode(state.code);
  const venue = state.fx.venue || VENUE_DEFAULT;
  let t = performance.now();
  let v = state.gate.verify(code, Date.now() / 1000, venue);
  const cold = performance.now() - t;
  if (!v.valid) throw new Error(`our code was refused: ${v.reason}: ${v.detail}`);
  const times = [];
  for (let i = 0; i < n; i++) {
    t = performance.now();
    v = state.gate.verify(code, Date.now() / 1000, venue);
    times.push(performance.now() - t);
    if (!v.valid) throw new Error(`our code was refused: ${v.reason}: ${v.detail}`);
  }
  result.ours_verify = { ...summary(times, false), cold_ms: round(cold), colour: v.colour, wasm_memory_bytes: wasmMemory() };
  return result.ours_verify;
}

/** snarkjs `groth16.fullProve` (witness + proof) on the peer circuit, from memory. */
async function loadSnarkjs() {
  if (window.snarkjs) return window.snarkjs;
  const src = '/node_modules/snarkjs/build/snarkjs.min.js';
  await new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`snarkjs did not load (${src})`));
    document.head.append(s);
  });
  if (!window.snarkjs) throw new Error(`${src} did not define window.snarkjs`);
  return window.snarkjs;
}

async function snarkjsProve(n = 4) {
  status('loading snarkjs…');
  const snarkjs = await loadSnarkjs();
  status(`snarkjs: ${n} fullProve…`);
  let t = performance.now();
  const [circuit, zkey] = await Promise.all([bytes('peer/cred.wasm'), bytes('peer/cred_0000.zkey')]);
  const fetchMs = performance.now() - t;
  state.input = JSON.parse(await text('peer/input.json'));
  state.vk = JSON.parse(await text('peer/vk.json'));
  const times = [];
  let out;
  for (let i = 0; i < n; i++) {
    // Fresh memory "files" each run: snarkjs reads them as it would files, without a fetch.
    t = performance.now();
    out = await snarkjs.groth16.fullProve(state.input, { type: 'mem', data: circuit }, { type: 'mem', data: zkey });
    times.push(performance.now() - t);
  }
  state.proof = out.proof;
  state.publicSignals = out.publicSignals;
  result.snarkjs_prove = { ...summary(times, true), fetch_ms: round(fetchMs), zkey_bytes: zkey.length, circuit_wasm_bytes: circuit.length, js_heap_after: heap() };
  return result.snarkjs_prove;
}

/** snarkjs `groth16.verify`, `n` times (median of all). */
async function snarkjsVerify(n = 5) {
  status(`snarkjs: ${n} verify…`);
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const ok = await window.snarkjs.groth16.verify(state.vk, state.publicSignals, state.proof);
    times.push(performance.now() - t);
    if (!ok) throw new Error('snarkjs refused its own proof');
  }
  result.snarkjs_verify = summary(times, false);
  return result.snarkjs_verify;
}

async function all() {
  await load();
  await proveOurs();
  await proveOurs(4, true);
  await loadGate();
  await verifyOurs();
  await snarkjsProve();
  await snarkjsVerify();
  result.done = true;
  status('done');
  document.getElementById('out').textContent = JSON.stringify(result, null, 2);
  return result;
}

function guard(f) {
  return async (...args) => {
    try {
      return await f(...args);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      result.error = message;
      status(`error: ${message}`);
      throw e;
    }
  };
}

window.bench = {
  load: guard(load),
  proveOurs: guard(proveOurs),
  loadGate: guard(loadGate),
  verifyOurs: guard(verifyOurs),
  snarkjsProve: guard(snarkjsProve),
  snarkjsVerify: guard(snarkjsVerify),
  all: guard(all),
  ready: true,
};
status('ready');
if (params.get('auto')) window.bench.all();
