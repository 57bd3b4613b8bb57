// A proof on two cores without shared memory: the prover session (in the calling worker) and a
// ProofHelper in a second worker (proof-helper.js). The session checks the request and makes the
// assignment (`begin`), the helper computes the A and B sums from it while the session computes
// the quotient and C (`computeC`), and the session finishes and checks the proof (`finish`):
// wrong sums never give a code. With one core, or when the helper cannot start, fails or answers
// wrong sums, the session proves alone (`prove`).

const HELPER_TIMEOUT_MS = 30_000;

/** Our WebAssembly, compiled once by the prover's worker and handed to the helper: a second
 *  compilation of its code cost the page ~17 MiB and ~50 ms more. */
export async function compileWasm() {
  const url = new URL('../pkg/healthcode_wasm_bg.wasm', import.meta.url);
  try {
    return await WebAssembly.compileStreaming(fetch(url));
  } catch {
    // A server that does not say application/wasm.
    return WebAssembly.compile(await (await fetch(url)).arrayBuffer());
  }
}

export class SplitProver {
  /** `session`: a loaded ProverSession. */
  constructor(session) {
    this.session = session;
    this.worker = null;
    this.waiting = new Map();
    this.nextId = 0;
    this.helperMemory = 0;
    // The session keeps one pending code: proofs run one after the other, never interleaved (an
    // answer for one would otherwise finish the other, or drop the helper).
    this.queue = Promise.resolve();
  }

  /** Starts the helper and sends it the key's queries (and `module`, the compiled WebAssembly,
   *  if given: the helper then shares its code instead of compiling its own); resolves to
   *  whether it is ready. */
  async start(module) {
    if (typeof Worker === 'undefined' || (navigator.hardwareConcurrency || 1) < 2) return false;
    try {
      this.worker = new Worker(new URL('./proof-helper.js', import.meta.url), { type: 'module' });
      this.worker.onmessage = ({ data }) => {
        const p = this.waiting.get(data.id);
        if (!p) return;
        this.waiting.delete(data.id);
        if (data.error) p.reject(new Error(data.error));
        else p.resolve(data.ok);
      };
      this.worker.onerror = (e) => this.fail(new Error(e.message || 'the proof helper stopped'));
      const queries = this.session.abQueries();
      await this.ask({ type: 'load', queries, module }, [queries.buffer]);
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /** Whether proofs use the helper. */
  get split() {
    return this.worker !== null;
  }

  ask(msg, transfer = []) {
    return new Promise((resolve, reject) => {
      const id = ++this.nextId;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error('the proof helper did not answer'));
      }, HELPER_TIMEOUT_MS);
      this.waiting.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.worker.postMessage({ id, ...msg }, transfer);
    });
  }

  /** Stops the helper for good: later proofs run alone. */
  fail(error) {
    if (this.worker) console.warn('proof helper:', error.message || error, '- proving on one core');
    this.worker?.terminate();
    this.worker = null;
    for (const p of this.waiting.values()) p.reject(error);
    this.waiting.clear();
  }

  /** Stops the helper (a new bundle is loading): a proof waiting for it proves alone now, not
   *  after the timeout. */
  terminate() {
    this.worker?.terminate();
    this.worker = null;
    for (const p of this.waiting.values()) p.reject(new Error('the proof helper was stopped'));
    this.waiting.clear();
  }

  /** Resolves when no proof is under way (before the session is freed). */
  idle() {
    return this.queue;
  }

  /** The code for `options` (as ProverSession.prove). The request's own errors (a record for
   *  another registry, a stale head …) come from `begin` exactly as from `prove`. */
  prove(options) {
    const run = this.queue.then(() => this.proveNow(options));
    this.queue = run.catch(() => {});
    return run;
  }

  async proveNow(options) {
    if (!this.worker) return this.session.prove(options);
    const z = this.session.begin(options);
    const answer = this.ask({ type: 'sums', z }, [z.buffer]);
    this.session.computeC();
    try {
      const reply = await answer;
      this.helperMemory = reply.memory_bytes;
      // Checks the sums and the finished proof against the bundle's verifying key.
      return this.session.finish(reply.sums);
    } catch (e) {
      // A helper that failed or answered wrong sums is dropped, and the proof made here alone
      // (a broken bundle fails that way too, with its own message).
      this.fail(e);
      return this.session.prove(options);
    }
  }
}
