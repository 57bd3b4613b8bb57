// The citizen's prover, off the page's thread: a proof blocks its thread for a fraction of a
// second (longer on a slow phone), and the page must keep showing progress meanwhile.
//
// Messages in:  {id, type: 'load', bundle}  then  {id, type: 'prove', options}
// Messages out: {id, progress: 'text'} …  then  {id, ok: result}  or  {id, error: 'message'}

import init, { ProverSession } from '../pkg/healthcode_wasm.js';
import { SplitProver, compileWasm } from './split-prover.js';

let ready = null;
let module = null;
let session = null;
let prover = null;

function post(id, msg) {
  self.postMessage({ id, ...msg });
}

self.onmessage = async ({ data }) => {
  const { id, type } = data;
  try {
    ready ??= compileWasm().then((m) => {
      module = m;
      return init({ module_or_path: m });
    });
    const wasm = await ready;
    if (type === 'load') {
      post(id, { progress: 'Checking the policy and its keys' });
      const b = data.bundle;
      // A proof under way finishes with the session it began with before that session is freed.
      prover?.terminate();
      await prover?.idle();
      session?.free();
      session = new ProverSession(b.origin, b.manifest, b.policy, b.provingKey, b.verifyingKey);
      // A second worker takes half of each proof where the device has a second core.
      prover = new SplitProver(session);
      await prover.start(module);
      post(id, { ok: session.policyInfo() });
    } else if (type === 'prove') {
      if (!session) throw new Error('the policy is not loaded yet');
      post(id, { progress: 'Proving your colour' });
      const t = performance.now();
      const result = await prover.prove(data.options);
      result.prove_ms = Math.round(performance.now() - t);
      result.workers = prover.split ? 2 : 1;
      // The modules' linear memory never shrinks: its size after a proof is the proof's peak.
      result.memory_bytes = wasm.memory.buffer.byteLength + prover.helperMemory;
      post(id, { ok: result });
    } else if (type === 'check') {
      if (!session) throw new Error('the policy is not loaded yet');
      post(id, { ok: session.checkWitness(data.options) });
    } else {
      throw new Error(`unknown request ${type}`);
    }
  } catch (e) {
    post(id, { error: (e && e.message) || String(e) });
  }
};
