// The citizen's page: her secret made and kept on this phone, her record fetched from the
// registry (a request signed with her device key), her code proved in a Web Worker and shown
// full screen in its colour, with the reason in words.

import init, { newHolder, holderEnrolment, sealBackup, openBackup, witnessRequest } from '../pkg/healthcode_wasm.js';
import { $, show, showError, clearError, catchAll, offline, loadConfig, loadBundle, store, when, ago, time, duration, nowSeconds, readFile, download } from './common.js';
import { Camera } from './camera.js';

catchAll();
offline();

let config = null;
let holder = null; // holder file JSON (IndexedDB 'holder'): the secret
const worker = new Worker(new URL('./prover-worker.js', import.meta.url), { type: 'module' });
let nextId = 1;
const pending = new Map();
let policyLoaded = null;

worker.onmessage = ({ data }) => {
  const p = pending.get(data.id);
  if (!p) return;
  if (data.progress) return p.progress?.(data.progress);
  pending.delete(data.id);
  if ('error' in data) p.reject(new Error(data.error));
  else p.resolve(data.ok);
};
worker.onerror = (e) => showError(new Error(`the prover stopped: ${e.message || 'out of memory?'}`));

function ask(message, progress) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    worker.postMessage({ id, ...message });
  });
}

function loadPolicy() {
  policyLoaded ??= (async () => {
    const bundle = await loadBundle(config, { provingKey: true });
    return ask({ type: 'load', bundle });
  })().catch((e) => {
    policyLoaded = null;
    throw e;
  });
  return policyLoaded;
}

const prettyKind = (k) => k.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

// ---- her record (the witness) ---------------------------------------------------------------

/** A fresh witness from the registry, or null when it cannot be reached (offline). */
async function fetchWitness() {
  const req = witnessRequest(holder, config.registry_key, Date.now() / 1000);
  let r;
  try {
    r = await fetch(config.registry_url + req.path, { headers: req.headers, cache: 'no-store' });
  } catch {
    return null;
  }
  if (!r.ok) {
    let reason = '';
    try { reason = (await r.json()).reason; } catch { /* not JSON */ }
    if (r.status === 404 || r.status === 403) {
      throw new Error(`the registry does not know this phone (${reason || r.status}): register it at the office with your registration details first`);
    }
    throw new Error(`the registry refused to send your record (${r.status}${reason ? `: ${reason}` : ''})`);
  }
  const text = await r.text();
  await store.set('witness', text);
  return text;
}

async function latestHeads() {
  try {
    const r = await fetch(config.registry_url + '/v1/heads/latest', { cache: 'no-store' });
    return r.ok ? await r.text() : null;
  } catch {
    return null;
  }
}

/** The signed head a record (witness JSON) is from, or null for one that does not parse. */
function recordHead(witnessJson) {
  try {
    return JSON.parse(witnessJson).head;
  } catch {
    return null;
  }
}

/** "from 3 Dec 2026, 14:05, 2 days ago": when the registry issued the update a record is from. */
function recordAge(witnessJson) {
  const h = recordHead(witnessJson);
  return h ? `from ${when(h.issued_at)}, ${ago(h.issued_at)}` : 'of unknown age';
}

function describeRecord(witnessJson) {
  const h = recordHead(witnessJson);
  return h ? `Your record: registry update ${h.epoch}, ${when(h.issued_at)} (${ago(h.issued_at)}).` : '';
}

// ---- screens ------------------------------------------------------------------------------

async function showHome() {
  const w = await store.get('witness');
  $('#record').textContent = w ? describeRecord(w) : 'No record on this phone yet: it is fetched when you show your code.';
  show('home');
}

function showEnrolment() {
  const e = holderEnrolment(holder);
  $('#commitment').textContent = e.commitment;
  $('#device-key').textContent = e.device_key;
  show('enrol');
}

function setProgress(step, percent) {
  $('#progress-step').textContent = step;
  $('#progress').value = percent;
}

async function makeCode() {
  clearError();
  show('proving');
  const started = performance.now();
  setProgress('Loading the policy', 10);
  try {
    await loadPolicy();
    setProgress('Fetching your latest record from the registry', 35);
    const [fresh, heads] = await Promise.all([fetchWitness(), latestHeads()]);
    const witness = fresh ?? (await store.get('witness'));
    if (!witness) throw new Error('you are offline and this phone has no record yet: connect once to fetch it, or import a record file');
    if (!fresh) setProgress('Offline: using the record kept on this phone', 45);
    const nonce = $('#nonce').value.trim();
    const options = {
      holder,
      witness,
      registry_key: config.registry_key,
      now: Date.now() / 1000,
      venue: $('#venue').value.trim() || null,
      bind: nonce.length > 0,
      nonce: nonce || null,
      latest_heads: heads,
      caption: when(nowSeconds()),
    };
    setProgress('Proving your colour (this takes a moment)', 60);
    const timer = setInterval(() => {
      const p = $('#progress');
      p.value = Math.min(95, p.value + 2);
    }, 100);
    let code;
    try {
      code = await ask({ type: 'prove', options }, (step) => ($('#progress-step').textContent = step));
    } finally {
      clearInterval(timer);
    }
    setProgress('Done', 100);
    // A checkpoint's nonce binds one code: the next one is not bound unless asked again.
    $('#nonce').value = '';
    code.total_ms = Math.round(performance.now() - started);
    window.lastCode = code; // for the page's tests
    showCode(code, fresh ? null : witness);
  } catch (e) {
    await showHome();
    showError(e);
  }
}

/** The code full screen, with until when checkpoints take it (`c.refused_from`, computed where
 * the checkpoint's rule lives). `offlineRecord` is the kept record it was made from when the
 * registry could not be reached (a checkpoint may find it too old), else null. */
function showCode(c, offlineRecord) {
  const screen = $('#code-screen');
  screen.dataset.colour = c.colour.toLowerCase();
  $('#code-colour').textContent = c.colour.toUpperCase();
  const img = $('#code-qr');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(new Blob([new Uint8Array(c.png)], { type: 'image/png' }));
  const until = c.refused_from;
  const end = new Date(until * 1000).toDateString() === new Date(c.now * 1000).toDateString() ? time(until) : when(until);
  $('#code-time').textContent = `Made ${when(c.now)}; checkpoints take it until ${end} (${duration(until - c.now)})`;
  $('#code-offline').textContent = offlineRecord
    ? `Made offline from the record kept on this phone (${recordAge(offlineRecord)}). If the checkpoint says STALE, connect to the internet and make a new code.`
    : '';
  $('#code-because').textContent = c.rule != null && c.because
    ? `${c.because.charAt(0).toUpperCase()}${c.because.slice(1)}.`
    : 'No test result or contact on your record changes your colour, so your code has the policy\'s usual colour.';
  const list = $('#code-events');
  list.replaceChildren(
    ...c.events.map((e) => {
      const li = document.createElement('li');
      li.textContent = e.time === 0 ? `${prettyKind(e.kind)}: none on record` : `${prettyKind(e.kind)}: ${when(e.time)} (${ago(e.time, c.now)})`;
      return li;
    }),
  );
  show('code');
}

// ---- actions ------------------------------------------------------------------------------

$('#create').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  try {
    holder = newHolder($('#document').value);
    await store.set('holder', holder);
    showEnrolment();
  } catch (e) {
    showError(e);
  }
});

$('#restore').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clearError();
  try {
    const text = $('#restore-text').value.trim() || (await readFile($('#restore-file'), true));
    try {
      holder = openBackup(text, $('#restore-pass').value);
    } catch (e) {
      throw new Error(`${e.message}. Type the passphrase again, or try another copy of your backup. Do not create a new secret: your registration belongs to the one in the backup.`);
    }
    await store.set('holder', holder);
    await store.del('witness');
    await showHome();
  } catch (e) {
    showError(e);
  }
});

$('#backup').addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearError();
  try {
    download('health-code-backup.txt', sealBackup(holder, $('#backup-pass').value) + '\n');
    $('#backup-pass').value = '';
  } catch (e) {
    showError(e);
  }
});

$('#witness-file').addEventListener('change', async () => {
  clearError();
  try {
    const text = await readFile($('#witness-file'), true);
    await loadPolicy();
    let info;
    try {
      info = await ask({ type: 'check', options: { holder, witness: text, registry_key: config.registry_key } });
    } catch (e) {
      throw new Error(`${e.message}. Tap "Fetch my latest record" instead, or ask the registration office for your own record file.`);
    }
    await store.set('witness', text);
    await showHome();
    $('#record').textContent = `Imported: registry update ${info.epoch}, ${when(info.issued_at)} (${ago(info.issued_at)}).`;
  } catch (e) {
    showError(e);
  } finally {
    $('#witness-file').value = '';
  }
});

$('#enrolled').addEventListener('click', showHome);
$('#show-enrol').addEventListener('click', showEnrolment);
$('#get-code').addEventListener('submit', (ev) => {
  ev.preventDefault();
  makeCode();
});
$('#refresh').addEventListener('click', async () => {
  clearError();
  try {
    const w = await fetchWitness();
    if (!w) throw new Error('the registry cannot be reached: you seem to be offline');
    $('#record').textContent = describeRecord(w);
  } catch (e) {
    showError(e);
  }
});
$('#code-done').addEventListener('click', showHome);

let posterCamera = null;
$('#scan-poster').addEventListener('click', async () => {
  clearError();
  show('scan');
  posterCamera = new Camera($('#poster-video'));
  try {
    await posterCamera.start();
    while (posterCamera?.stream) {
      const bytes = await posterCamera.read();
      if (bytes) {
        $('#venue').value = new TextDecoder().decode(bytes).trim();
        break;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    posterCamera?.stop();
    show('home');
  } catch (e) {
    posterCamera?.stop();
    show('home');
    showError(e);
  }
});
$('#scan-cancel').addEventListener('click', () => {
  posterCamera?.stop();
  posterCamera = null;
  show('home');
});

// ---- start --------------------------------------------------------------------------------

(async () => {
  try {
    await init();
    config = await loadConfig();
    holder = await store.get('holder');
    if (holder) await showHome();
    else show('welcome');
    window.pageReady = true;
  } catch (e) {
    show('welcome');
    showError(e);
  }
})();
