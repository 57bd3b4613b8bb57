// Reads QR codes in a Web Worker with a deadline, as the command line does on a thread: the
// detector is given up (the worker killed and started again) after DEADLINE_MS, so no picture
// or camera frame can freeze the page.

export const DEADLINE_MS = 5000;

let worker = null;
let nextId = 1;
const pending = new Map();

function fail(error) {
  for (const p of pending.values()) {
    clearTimeout(p.timer);
    p.reject(error);
  }
  pending.clear();
  worker?.terminate();
  worker = null;
}

function start() {
  worker = new Worker(new URL('./qr-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    if (!p) return;
    pending.delete(data.id);
    clearTimeout(p.timer);
    if ('error' in data) p.reject(new Error(data.error));
    else p.resolve(data.ok);
  };
  worker.onerror = (e) => fail(new Error(`the QR reader stopped: ${e.message || 'out of memory?'}`));
}

function ask(message, transfer) {
  if (!worker) start();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`gave up reading after ${DEADLINE_MS / 1000} s: this is not a plain QR code`)),
      DEADLINE_MS,
    );
    pending.set(id, { resolve, reject, timer });
    worker.postMessage({ id, ...message }, transfer);
  });
}

/** The bytes of the QR code in an RGBA frame, or null when there is none. */
export function readFrame(rgba, width, height) {
  return ask({ frame: { rgba, width, height } }, [rgba.buffer]);
}

/** The bytes of the QR code in a PNG or JPEG picture. */
export function readImage(bytes) {
  return ask({ image: bytes });
}

// Started now, so the module is ready by the first frame.
if (typeof Worker !== 'undefined') start();
