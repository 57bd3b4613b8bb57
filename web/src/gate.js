// The checkpoint's page: the registry's heads, trusted only under a quorum of witness
// cosignatures and kept for offline use (their age shown); codes read from the camera (or a
// picture, or typed), verified in WebAssembly; the verdict full screen. Queue mode scans many
// codes and verifies them together.

import init, { Gate } from '../pkg/healthcode_wasm.js';
import { readImage } from './qr-reader.js';
import { $, show, showError, clearError, catchAll, offline, loadConfig, loadBundle, store, when, ago, nowSeconds, readFile, humanDurations } from './common.js';
import { Camera } from './camera.js';

catchAll();
offline();

let config = null;
let gate = null;
let camera = null;
let queue = [];
let busy = false;
let lastSeen = { text: '', at: 0 };
let binding = null; // the secret nonce of the identity check in progress, if any

/** What each refusal means to the guard, in a few words; the detail line gives the numbers. */
const REASONS = {
  'malformed': 'UNREADABLE — this is not a valid health code',
  'wrong-policy': 'WRONG POLICY — this code is for another health-code policy',
  'unknown-head': 'UNKNOWN RECORD — update the registry heads, then scan again',
  'stale-head': 'STALE — the record behind this code is too old; the holder must refresh',
  'superseded-head': 'STALE — the holder\'s record was replaced; the holder must refresh',
  'head-from-future': 'CLOCK — this device\'s clock seems wrong',
  'stale-code': 'STALE — this code was made too long ago; ask for a fresh one',
  'code-from-future': 'CLOCK — the code is dated in the future; check the clocks',
  'wrong-challenge': 'WRONG VENUE — this code was made for another checkpoint or time',
  'nonce-required': 'ID-BOUND — this code is tied to an identity check this checkpoint did not ask for',
  'binding-required': 'NOT ID-BOUND — this checkpoint checks identity',
  'binding-mismatch': 'WRONG PERSON — the code is bound to another document',
  'bad-proof': 'FORGED — the proof does not verify',
};

// ---- heads --------------------------------------------------------------------------------

function showHeads(info, offlineReason) {
  const p = $('#heads');
  if (!info || info.newest_epoch == null) {
    p.textContent = 'No registry heads yet: connect once, or import a heads file.';
    p.dataset.state = 'bad';
    return;
  }
  const age = `fetched ${ago(info.fetched_at)} (${when(info.fetched_at)})`;
  p.textContent = offlineReason
    ? `Offline — using registry heads ${age}, newest update ${info.newest_epoch}.`
    : `Registry heads up to update ${info.newest_epoch}, ${age}.`;
  p.dataset.state = offlineReason ? 'warn' : 'ok';
}

async function refreshHeads() {
  let r;
  try {
    r = await fetch(config.registry_url + Gate.headsPath(), { cache: 'no-store' });
  } catch (e) {
    showHeads(gate.headsInfo(), 'offline');
    return;
  }
  if (!r.ok) throw new Error(`the registry refused to send its heads (${r.status})`);
  const cache = gate.acceptHeads(await r.text(), Date.now() / 1000);
  await store.set('heads-cache', cache);
  showHeads(gate.headsInfo());
}

// ---- verdicts -----------------------------------------------------------------------------

function showVerdict(v) {
  const screen = $('#result');
  screen.dataset.colour = v.valid ? v.colour.toLowerCase() : 'invalid';
  $('#verdict').textContent = v.valid ? v.colour.toUpperCase() : 'INVALID';
  $('#reason').textContent = v.valid ? 'Valid health code' : (REASONS[v.reason] || v.reason);
  $('#detail').textContent = v.valid ? `Checked ${when(nowSeconds())}` : humanDurations(v.detail || '');
  window.lastVerdict = v; // for the page's tests
  show('result');
}

function verify(bytes) {
  if (binding) {
    if (!$('#document').value.trim()) throw new Error('type the number of the identity document you checked, then scan again');
    // One identity check per nonce: it is forgotten whatever the result.
    const nonce = binding;
    endBinding();
    return gate.verifyBound(bytes, Date.now() / 1000, nonce, $('#document').value);
  }
  return gate.verify(bytes, Date.now() / 1000, $('#venue').value.trim() || null);
}

function endBinding() {
  binding = null;
  $('#nonce').hidden = true;
  $('#nonce').textContent = '';
  $('#nonce-cancel').hidden = true;
}

async function scanLoop() {
  while (camera?.stream) {
    if (!busy && !$('[data-screen=scan]').hidden) {
      busy = true;
      try {
        const bytes = await camera.read();
        if (bytes) onCode(bytes);
      } catch (e) {
        showError(e);
      } finally {
        busy = false;
      }
    }
    await new Promise((r) => setTimeout(r, 120));
  }
}

function onCode(bytes) {
  const text = new TextDecoder('latin1').decode(bytes);
  if ($('#queue-mode').checked) {
    // The same code held in front of the camera is counted once.
    if (text === lastSeen.text && Date.now() - lastSeen.at < 5000) return;
    lastSeen = { text, at: Date.now() };
    queue.push(bytes);
    $('#queue-count').textContent = String(queue.length);
    return;
  }
  try {
    showVerdict(verify(bytes));
  } catch (e) {
    showError(e);
  }
}

/** Text forms of queued codes (binary ones are given their text form for the batch call). */
function asText(bytes) {
  const t = new TextDecoder().decode(bytes);
  if (t.startsWith('HCV1:')) return t.trim();
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return 'HCV1:' + btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---- actions ------------------------------------------------------------------------------

$('#camera-start').addEventListener('click', async () => {
  clearError();
  try {
    if (camera?.stream) {
      camera.stop();
      $('#camera-start').textContent = 'Start camera';
      return;
    }
    camera = new Camera($('#video'));
    await camera.start();
    $('#camera-start').textContent = 'Stop camera';
    scanLoop();
  } catch (e) {
    showError(e);
  }
});

$('#queue-mode').addEventListener('change', () => {
  $('#queue').hidden = !$('#queue-mode').checked;
});

$('#queue-verify').addEventListener('click', () => {
  clearError();
  if (!queue.length) return showError(new Error('scan some codes first'));
  const results = gate.verifyBatch(queue.map(asText), Date.now() / 1000, $('#venue').value.trim() || null);
  $('#queue-results').replaceChildren(
    ...results.map((v) => {
      const li = document.createElement('li');
      li.dataset.colour = v.valid ? v.colour.toLowerCase() : 'invalid';
      li.textContent = v.valid ? v.colour.toUpperCase() : `INVALID — ${REASONS[v.reason] || v.reason}`;
      return li;
    }),
  );
  window.lastBatch = results;
  queue = [];
  $('#queue-count').textContent = '0';
});

$('#picture').addEventListener('change', async () => {
  clearError();
  try {
    const bytes = await readFile($('#picture'), false);
    let code;
    try {
      code = await readImage(bytes);
    } catch (e) {
      throw new Error(`no health code could be read in this picture (${e.message.replace(/^the picture: /, '')})`);
    }
    onCode(code);
  } catch (e) {
    showError(e);
  } finally {
    $('#picture').value = '';
  }
});

$('#paste').addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearError();
  const t = $('#code-text').value.trim();
  if (!t) return showError(new Error('type or paste a code first'));
  onCode(new TextEncoder().encode(t));
});

$('#heads-refresh').addEventListener('click', async () => {
  clearError();
  try {
    await refreshHeads();
  } catch (e) {
    showError(e);
  }
});

$('#heads-file').addEventListener('change', async () => {
  clearError();
  try {
    showHeads(gate.importHeads(await readFile($('#heads-file'), true), Date.now() / 1000));
  } catch (e) {
    showError(e);
  } finally {
    $('#heads-file').value = '';
  }
});

$('#nonce-new').addEventListener('click', () => {
  clearError();
  binding = Gate.freshNonce();
  $('#nonce').textContent = binding;
  $('#nonce').hidden = false;
  $('#nonce-cancel').hidden = false;
});
$('#nonce-cancel').addEventListener('click', endBinding);

$('#next').addEventListener('click', () => show('scan'));

// ---- start --------------------------------------------------------------------------------

(async () => {
  try {
    await init();
    config = await loadConfig();
    const b = await loadBundle(config, { provingKey: false });
    gate = new Gate(b.origin, b.manifest, b.policy, b.verifyingKey, config.registry_key, config.witness_keys, config.quorum);
    const p = gate.policyInfo();
    $('#policy').textContent = `Policy ${p.id} v${p.version} (${p.digest.slice(0, 12)}…)`;
    const cached = await store.get('heads-cache');
    if (cached) {
      try {
        gate.loadCache(cached);
      } catch (e) {
        await store.del('heads-cache');
        showError(new Error(`the saved registry heads were refused and dropped: ${e.message}`));
      }
    }
    show('scan');
    showHeads(gate.headsInfo());
    try {
      await refreshHeads();
    } catch (e) {
      showError(e);
    }
    setInterval(() => refreshHeads().catch(showError), 60_000);
    window.pageReady = true;
  } catch (e) {
    show('scan');
    showError(e);
  }
})();
