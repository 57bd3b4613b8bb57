// The second worker of a proof: it holds the proving key's A and B queries and answers each
// assignment with their two sums while the prover's own worker computes the rest of the proof
// (prover/src/ab_queries.rs says why the proof splits there). No shared memory: messages only,
// so it needs neither cross-origin isolation nor WebAssembly threads.
//
// Messages in:  {id, type: 'load', queries, module?}  then  {id, type: 'sums', z} …
// (`module`: the prover worker's compiled WebAssembly.Module, so the code is compiled once.)
// Messages out: {id, ok: true | {sums, memory_bytes}}  or  {id, error: 'message'}

import init, { ProofHelper } from '../pkg/healthcode_wasm.js';

let ready = null;
let helper = null;

self.onmessage = async ({ data }) => {
  const { id, type } = data;
  try {
    ready ??= init(data.module ? { module_or_path: data.module } : undefined);
    const wasm = await ready;
    if (type === 'load') {
      helper?.free();
      helper = new ProofHelper(data.queries);
      self.postMessage({ id, ok: true });
    } else if (type === 'sums') {
      if (!helper) throw new Error('the proof helper has no key yet');
      const sums = helper.sums(data.z);
      self.postMessage({ id, ok: { sums, memory_bytes: wasm.memory.buffer.byteLength } }, [sums.buffer]);
    } else {
      throw new Error(`unknown request ${type}`);
    }
  } catch (e) {
    self.postMessage({ id, error: (e && e.message) || String(e) });
  }
};
