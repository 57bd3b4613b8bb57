// The service worker: the pages work offline after the first visit.
// * The built files (listed at build time) are kept in a cache named by the build.
// * The policy bundle and the app configuration: fetched from the network when it answers
//   (a new policy reaches the phone), the kept copy otherwise.
// * The registry API (/v1/…) is never cached here: the pages keep what they need themselves
//   (the citizen's record, the checkpoint's verified heads) and show its age.
const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const APP = `app-${VERSION}`;
const DATA = 'data-v1';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(APP).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== APP && k !== DATA).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

/** Whether a response can be the file asked for: a captive portal (a station's Wi-Fi) answers
 * 200 with its login page, often after a redirect, and must not replace the kept copy. */
function usable(response) {
  return response.ok && !response.redirected && !/^text\/html/i.test(response.headers.get('content-type') || '');
}

async function networkFirst(request) {
  const cache = await caches.open(DATA);
  let response;
  try {
    response = await fetch(request);
  } catch (e) {
    const kept = await cache.match(request);
    if (kept) return kept;
    throw e;
  }
  if (usable(response)) {
    await cache.put(request, response.clone());
    return response;
  }
  return (await cache.match(request)) || response;
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  const scope = new URL(self.registration.scope);
  const path = url.pathname.slice(scope.pathname.length);
  if (path.startsWith('v1/')) return;
  if (path.startsWith('bundle/') || path === 'app-config.json') {
    event.respondWith(networkFirst(event.request));
    return;
  }
  event.respondWith(
    caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || fetch(event.request)),
  );
});
