// The QR reader, off the page's thread: a hostile picture (a sheet of finder patterns) keeps
// the detector busy for minutes, and the page kills this worker at its deadline instead.
//
// Messages in:  {id, frame: {rgba, width, height}}  or  {id, image: bytes}
// Messages out: {id, ok: bytes | null}  or  {id, error: 'message'}

import init, { readFrame, readImage } from '../pkg/healthcode_wasm.js';

const ready = init();

self.onmessage = async ({ data }) => {
  const { id } = data;
  try {
    await ready;
    const ok = data.frame
      ? readFrame(data.frame.rgba, data.frame.width, data.frame.height) ?? null
      : readImage(data.image);
    self.postMessage({ id, ok });
  } catch (e) {
    self.postMessage({ id, error: (e && e.message) || String(e) });
  }
};
