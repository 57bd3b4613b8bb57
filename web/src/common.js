// What both pages share: the deployment's configuration, the policy bundle, the local store,
// times in the viewer's words, and errors shown on the screen (never only in the console).

import { get, set, del } from 'idb-keyval';

/** The service worker's cache of data the pages load (see src/sw.js). */
const DATA_CACHE = 'data-v1';

/** Keeps a copy of what the page loaded, for offline use: the page writes it itself, since on
 * the first visit the service worker starts only after the page has loaded its data. */
async function keep(url, bytes, type) {
  try {
    const cache = await caches.open(DATA_CACHE);
    await cache.put(url, new Response(bytes, { headers: { 'content-type': type } }));
  } catch {
    /* no Cache API (private mode): the page still works online */
  }
}

/** The deployment's configuration (`/app-config.json`, served by `healthcode serve --web`). */
export async function loadConfig() {
  let r;
  try {
    r = await fetch('app-config.json', { cache: 'no-cache' });
  } catch {
    throw new Error('cannot load the app configuration: you are offline and this page was never opened here online');
  }
  if (!r.ok) throw new Error(`cannot load the app configuration (${r.status}): is this page served by the registry service?`);
  const text = await r.text();
  let c;
  try {
    c = JSON.parse(text);
  } catch {
    throw new Error('the app configuration is not JSON: is a Wi-Fi login page in the way? Log in, then reload');
  }
  if (!/^[0-9a-f]{64}$/.test(c.registry_key || '')) throw new Error('the app configuration has no valid registry key');
  // Kept only once checked: a portal's page must not replace the working copy.
  await keep(new URL('app-config.json', location.href).href, text, 'application/json');
  return c;
}

/** Fetches `name` of the policy bundle; the service worker keeps a copy for offline use. */
async function bundleFile(config, name) {
  const url = new URL(name, new URL(config.bundle_url, location.href)).href;
  let r;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new Error(`cannot download the policy file ${name}: you are offline and it was never downloaded here`);
  }
  if (!r.ok) throw new Error(`cannot download the policy file ${name} (${r.status})`);
  if (/^text\/html/i.test(r.headers.get('content-type') || '')) {
    throw new Error(`the policy file ${name} came back as a web page: is a Wi-Fi login page in the way? Log in, then reload`);
  }
  const bytes = new Uint8Array(await r.arrayBuffer());
  await keep(url, bytes, 'application/octet-stream');
  return bytes;
}

/** The bundle's files, named by its manifest. */
export async function loadBundle(config, { provingKey }) {
  const manifestBytes = await bundleFile(config, 'manifest.json');
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new Error('the policy bundle\'s manifest is not valid JSON');
  }
  const names = [manifest.policy?.file, manifest.verifying_key?.file, provingKey ? manifest.proving_key?.file : null];
  if (names.slice(0, 2).some((n) => typeof n !== 'string') || (provingKey && typeof names[2] !== 'string')) {
    throw new Error('the policy bundle\'s manifest does not name its files');
  }
  const [policy, verifyingKey, provingKeyBytes] = await Promise.all(
    names.map((n) => (n ? bundleFile(config, n) : null)),
  );
  return { origin: new URL(config.bundle_url, location.href).href, manifest: manifestBytes, policy, verifyingKey, provingKey: provingKeyBytes };
}

// ---- the local store (IndexedDB) ------------------------------------------------------------

export const store = { get, set, del };

// ---- times in the viewer's words and time zone ----------------------------------------------

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 Dec 2026, 14:05". */
export function when(unixSeconds) {
  return dateTime.format(new Date(unixSeconds * 1000));
}

const clockTime = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

/** "14:05" (today's times, where the date goes without saying). */
export function time(unixSeconds) {
  return clockTime.format(new Date(unixSeconds * 1000));
}

/** "2 days ago", "in 5 minutes", "now". */
export function ago(unixSeconds, nowSeconds = Date.now() / 1000) {
  const d = unixSeconds - nowSeconds;
  const abs = Math.abs(d);
  const [value, unit] =
    abs < 45 ? [0, 'second'] :
    abs < 3600 ? [Math.round(d / 60), 'minute'] :
    abs < 86400 ? [Math.round(d / 3600), 'hour'] :
    [Math.round(d / 86400), 'day'];
  return value === 0 && unit === 'second' ? 'just now' : relative.format(value, unit);
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A duration in words: "7 minutes", "2 hours", "3 days". */
export function duration(seconds) {
  const [n, unit] = seconds < 90 ? [seconds, 'second'] : seconds < 5400 ? [Math.round(seconds / 60), 'minute'] : seconds < 129600 ? [Math.round(seconds / 3600), 'hour'] : [Math.round(seconds / 86400), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** The checkpoint's technical reasons say "425 s": people read "7 minutes". */
export function humanDurations(text) {
  return text.replace(/\b(\d+) s\b/g, (_, n) => duration(Number(n)));
}

// ---- the screen -----------------------------------------------------------------------------

export const $ = (sel) => document.querySelector(sel);

/** Shows one screen (a `<section data-screen>`) and hides the others. */
export function show(name) {
  for (const s of document.querySelectorAll('[data-screen]')) {
    s.hidden = s.dataset.screen !== name;
    // A full-screen section scrolls on its own: one scrolled down to its button last time would
    // open with the top of the code (or the verdict) out of sight.
    if (!s.hidden) s.scrollTop = 0;
  }
  window.scrollTo(0, 0);
}

/** An error for the person: in the page's alert box, in words. */
export function showError(e, where = '#error') {
  const box = $(where);
  const message = ((e && e.message) || String(e)).replace(/^Error: /, '');
  box.textContent = message.charAt(0).toUpperCase() + message.slice(1);
  box.hidden = false;
  box.focus?.();
}

export function clearError(where = '#error') {
  const box = $(where);
  box.hidden = true;
  box.textContent = '';
}

// Nothing fails silently: anything uncaught lands in the alert box too.
export function catchAll() {
  window.addEventListener('error', (e) => showError(e.error || e.message));
  window.addEventListener('unhandledrejection', (e) => showError(e.reason));
}

/** Registers the service worker that keeps the pages (and the bundle) for offline use. */
export function offline() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no offline copy:', e));
  }
}

/** Reads a file the person chose, as text or bytes. */
export function readFile(input, asText) {
  const f = input.files && input.files[0];
  if (!f) return Promise.reject(new Error('choose a file first'));
  if (f.size > 8 * 1024 * 1024) return Promise.reject(new Error(`${f.name} is too large to be a health-code file`));
  return asText ? f.text() : f.arrayBuffer().then((b) => new Uint8Array(b));
}

/** Offers `text` as a file download. */
export function download(name, text) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
