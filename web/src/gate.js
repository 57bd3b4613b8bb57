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

/** What each refusal means to the guard: a headline, the reason in a few words, and what to
 * do next. The detail line below them gives the checkpoint's technical reason, for support. */
const REASONS = {
  'malformed': ['UNREADABLE', 'this is not a valid health code', 'Ask the person to open the code in the health-code app and show it again.'],
  'wrong-policy': ['WRONG POLICY', 'this code is for another health-code policy', 'Ask for a code made with this region\'s health-code app.'],
  'unknown-head': ['UNKNOWN RECORD', 'this checkpoint does not have the registry update the code was made from', 'Press "Update now" under Registry data (needs the network), then scan again.'],
  'stale-head': ['STALE', 'the record behind this code is too old', 'Ask the person to connect to the network and make a new code.'],
  'superseded-head': ['STALE', 'the person\'s record has been replaced by a newer one', 'Ask the person to connect to the network and make a new code.'],
  'head-from-future': ['CLOCK', 'this device\'s clock seems wrong', 'Set this device\'s date and time correctly, then scan again.'],
  'stale-code': ['STALE', 'this code was made too long ago', 'Ask the person to make a new code now.'],
  'code-from-future': ['CLOCK', 'the code is dated in the future', 'Check this device\'s clock and the person\'s phone clock, then ask for a new code.'],
  'wrong-challenge': ['WRONG VENUE', 'this code was made for another checkpoint or time', 'Ask the person to scan this venue\'s poster and make a new code.'],
  'nonce-required': ['ID-BOUND', 'this code is tied to an identity check this checkpoint did not ask for', 'Ask the person for a normal code (without an identity check).'],
  'binding-required': ['NOT ID-BOUND', 'this checkpoint checks identity', 'Start a new identity check and ask for a code made with it.'],
  'binding-mismatch': ['WRONG PERSON', 'the code is tied to another identity document', 'Check the document number you typed. The identity check has ended: start a new one for another try.'],
  'bad-proof': ['FORGED', 'this code was altered or made up', 'Do not admit on this code. Ask the person to show a new code from the app.'],
};

/** A refusal as [headline, reason, what to do], for a reason this page does not know too. */
function refusal(reason) {
  // Without a venue code typed in, this checkpoint takes codes of the last few minutes: a code
  // made for a venue's poster is the wrong kind, and another poster would not help.
  if (reason === 'wrong-challenge' && !$('#venue').value.trim()) {
    return ['WRONG VENUE', 'this code was made for a venue\'s poster or for an earlier time', 'Ask the person to make a new code without a venue code, or type this venue\'s code above if it has a poster.'];
  }
  return REASONS[reason] || [String(reason).toUpperCase(), 'this code was refused', 'Ask the person to make a new code.'];
}

// ---- heads --------------------------------------------------------------------------------

/** Why the registry's newest data was refused, said on the status line until an update is
 * accepted: refused data is never used, and the guard must not lose sight of the refusal when
 * the next refresh finds the network gone. */
let headsProblem = null;

/** The status line: which registry data codes are checked against, where it came from and how
 * old it is (`source`: 'network', 'kept', 'in-use', 'offline', 'file', 'error' or 'portal'), and
 * any refusal of newer data. Only data fetched just now is shown as good. */
function showHeads(source, why = '') {
  const info = gate.headsInfo();
  const p = $('#heads');
  const problem = headsProblem ? ` ${headsProblem}` : '';
  if (!info || info.newest_epoch == null) {
    p.textContent = `Cannot check codes yet: this checkpoint has no registry data. Connect to the network once, or import a registry data file.${problem}`;
    p.dataset.state = 'bad';
    return;
  }
  const newest = `update ${info.newest_epoch} of ${when(info.newest_issued_at)} (${ago(info.newest_issued_at)})`;
  const fetched = `fetched ${ago(info.fetched_at)} (${when(info.fetched_at)})`;
  const lines = {
    network: `Registry data fetched just now: ${newest}.`,
    kept: `Registry data kept on this device, ${fetched}: ${newest}. Checking for newer data…`,
    'in-use': `Codes are checked against registry data ${fetched}: ${newest}.`,
    offline: `Offline: using registry data ${fetched}, ${newest}.`,
    file: `Registry data imported from a file: ${newest}.`,
    error: `The registry could not send newer data (${why}): using data ${fetched}, ${newest}.`,
    portal: `The network answered with a web page instead of registry data (a Wi-Fi login page?): log in, then press "Update now". Using data ${fetched}, ${newest}.`,
  };
  p.textContent = lines[source] + problem;
  p.dataset.state = headsProblem ? 'bad' : source === 'network' ? 'ok' : 'warn';
}

async function refreshHeads() {
  try {
    await fetchHeads();
  } finally {
    window.headsChecks = (window.headsChecks || 0) + 1; // for the page's tests: one more answer handled
  }
}

/** Asks the registry for its latest heads and says on the status line what came of it. */
async function fetchHeads() {
  let body;
  let r;
  try {
    r = await fetch(config.registry_url + Gate.headsPath(), { cache: 'no-store' });
    body = r.ok ? await r.text() : null;
  } catch (e) {
    showHeads('offline');
    return;
  }
  if (!r.ok) return showHeads('error', `it answered ${r.status}`);
  if (/^text\/html/i.test(r.headers.get('content-type') || '')) return showHeads('portal');
  let cache;
  try {
    cache = gate.acceptHeads(body, Date.now() / 1000);
  } catch (e) {
    // An answer that is not the registry's JSON was garbled on the way (or is not from it):
    // nothing to refuse, try again later. One that fails the checks is refused, and said.
    if (/^the registry's answer/i.test(e.message)) return showHeads('error', 'its answer was damaged on the way');
    headsProblem = 'The registry\'s newest data failed this checkpoint\'s checks and is not used: tell your supervisor '
      + '(the checkpoint may be set up for another policy or registry, or the data was altered on the way). '
      + `Technical detail: ${e.message.replace(/^refusing the registry's heads: /i, '')}`;
    return showHeads('in-use');
  }
  headsProblem = null;
  await store.set('heads-cache', cache);
  showHeads('network');
}

// ---- verdicts -----------------------------------------------------------------------------

function showVerdict(v) {
  const screen = $('#result');
  screen.dataset.colour = v.valid ? v.colour.toLowerCase() : 'invalid';
  $('#verdict').textContent = v.valid ? v.colour.toUpperCase() : 'INVALID';
  if (v.valid) {
    $('#reason').textContent = 'Valid health code';
    $('#action').textContent = '';
    $('#detail').textContent = `Checked ${when(nowSeconds())}`;
  } else {
    const [headline, why, act] = refusal(v.reason);
    $('#reason').textContent = `${headline}: ${why}`;
    $('#action').textContent = act;
    $('#detail').textContent = `Technical detail: ${humanDurations(v.detail || v.reason)}`;
  }
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
    $('#queue-checked').textContent = '';
    $('#queue-results').replaceChildren();
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
    ...results.map((v, i) => {
      const li = document.createElement('li');
      li.dataset.colour = v.valid ? v.colour.toLowerCase() : 'invalid';
      const [headline, why] = v.valid ? [] : refusal(v.reason);
      li.textContent = `Code ${i + 1}: ${v.valid ? v.colour.toUpperCase() : `INVALID (${headline}: ${why})`}`;
      return li;
    }),
  );
  window.lastBatch = results;
  queue = [];
  $('#queue-count').textContent = '0';
  const bad = results.filter((v) => !v.valid).length;
  $('#queue-checked').textContent = `${results.length} code${results.length === 1 ? '' : 's'} checked, in the order scanned${bad ? `: ${bad} INVALID` : ''}.`;
});

$('#picture').addEventListener('change', async () => {
  clearError();
  try {
    const bytes = await readFile($('#picture'), false);
    let code;
    try {
      code = await readImage(bytes);
    } catch (e) {
      throw new Error(`no health code could be read in this picture (${e.message.replace(/^the picture: /, '')}). Take the picture closer, steady and in good light, with the whole code in it.`);
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
    gate.importHeads(await readFile($('#heads-file'), true), Date.now() / 1000);
    showHeads('file');
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
        showError(new Error(`the registry data saved on this device was refused and dropped; connect to the network to fetch it again (${e.message})`));
      }
    }
    show('scan');
    showHeads('kept');
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
