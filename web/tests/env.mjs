// A registry service with one witness, serving the built pages, driven through the command
// line as the README tells each party to: the test's operator, lab and tracer.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';

export const ROOT = resolve(import.meta.dirname, '../..');
const POLICY = join(ROOT, 'policies/henan-2022.toml');

/** The healthcode binary (built by `cargo build`; HEALTHCODE_BIN overrides). */
export const BIN = process.env.HEALTHCODE_BIN || join(ROOT, 'target/debug/healthcode');

export function hc(args) {
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
export const hcJson = (args) => JSON.parse(hc([...args, '--json']));

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

async function waitReady(url) {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

export const now = () => Math.floor(Date.now() / 1000);

/**
 * Starts a witness and a registry service with the pages of `web/dist` and a fresh bundle.
 * `policy`: a policy file (default: the Henan example).
 */
export async function startRegistry({ policy = POLICY, web = join(ROOT, 'web/dist'), bundle } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'healthcode-web-'));
  const d = (f) => join(dir, f);
  const procs = [];
  const init = hcJson(['registry', 'init', d('reg.db'), '--policy', policy]);
  const witnessKey = hcJson(['witness', 'keygen', '--name', 'w1.test', '-o', d('w1.key')]).vkey;
  const operator = hcJson(['signer', 'keygen', '-o', d('op.key')]).public_key;
  const lab = hcJson(['signer', 'keygen', '-o', d('lab.key')]).public_key;
  const tracer = hcJson(['signer', 'keygen', '-o', d('tracer.key')]).public_key;
  if (!bundle) {
    bundle = d('bundle');
    hc(['setup', '--policy', policy, '--out', bundle]);
  }
  const wport = await freePort();
  const wurl = `http://127.0.0.1:${wport}`;
  procs.push(spawn(BIN, ['witness', 'serve', '--key', d('w1.key'), '--state', d('w1.state'), '--log', init.head_log_vkey, '--listen', `127.0.0.1:${wport}`], { stdio: 'ignore' }));
  await waitReady(wurl);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  procs.push(spawn(BIN, ['serve', '--db', d('reg.db'), '--listen', `127.0.0.1:${port}`, '--operator-key', operator, '--witness', `${wurl}=${witnessKey}`, '--web', web, '--bundle', bundle], { stdio: 'ignore' }));
  await waitReady(url);

  const op = (args) => JSON.parse(hc(['operator', '--url', url, '--key', d('op.key'), '--json', ...args]));
  op(['add-signer', '--name', 'lab-a', '--role', 'lab', '--signer-key', lab, '--from', String(now() - 86400 * 30)]);
  op(['add-signer', '--name', 'tracer-a', '--role', 'tracer', '--signer-key', tracer, '--from', String(now() - 86400 * 30)]);
  const registryKey = init.registry;
  return {
    dir, url, bundle, registryKey, witnessKey, d,
    /** Enrols a holder (her commitment and device key, from her phone); returns her leaf. */
    enrol(commitment, deviceKey) {
      return op(['enroll', '--commitment', commitment, '--device-key', deviceKey]).leaf_index;
    },
    /** A lab or tracer signs an event and submits it to the service. */
    event(leaf, kind, time, { by = kind.includes('contact') ? 'tracer' : 'lab', indexCase } = {}) {
      const args = ['sign-event', '--key', d(`${by}.key`), '--registry', registryKey, '--holder', String(leaf), '--kind', kind, '--time', String(time), '--submit', url];
      if (indexCase) args.push('--index-case', indexCase);
      return hc(args);
    },
    publish() {
      return op(['publish']);
    },
    stop() {
      for (const p of procs) p.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
