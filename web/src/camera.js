// The camera, read frame by frame: the browser's BarcodeDetector where it exists, and our own
// QR reader (rqrr, in the WebAssembly module, on a worker with a deadline: qr-reader.js) otherwise or when the detector's text cannot be
// the code's bytes (health codes are binary QR codes; BarcodeDetector returns text).

import { readFrame } from './qr-reader.js';

const SIDE = 720; // frames are scaled so their longer side is at most this many pixels

export class Camera {
  constructor(video) {
    this.video = video;
    this.canvas = document.createElement('canvas');
    this.ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    this.stream = null;
    this.detector = null;
  }

  async start() {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access (try another browser, or pick a picture)');
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (e) {
      throw new Error(`the camera could not be opened (${e.name}): allow camera access for this page, or pick a picture`);
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    if ('BarcodeDetector' in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes('qr_code')) this.detector = new window.BarcodeDetector({ formats: ['qr_code'] });
      } catch { this.detector = null; }
    }
  }

  stop() {
    for (const t of this.stream?.getTracks() || []) t.stop();
    this.stream = null;
  }

  /** The bytes of the QR code in the current frame, or null. */
  async read() {
    const v = this.video;
    if (!v.videoWidth) return null;
    if (this.detector) {
      try {
        const found = await this.detector.detect(v);
        // Byte-mode QR text as Latin-1 is the bytes themselves; a text-form code is ASCII.
        for (const f of found) {
          const raw = f.rawValue || '';
          if (raw.startsWith('HCV1:')) return new TextEncoder().encode(raw);
        }
      } catch { /* fall through to our reader */ }
    }
    const scale = Math.min(1, SIDE / Math.max(v.videoWidth, v.videoHeight));
    const w = Math.round(v.videoWidth * scale), h = Math.round(v.videoHeight * scale);
    this.canvas.width = w;
    this.canvas.height = h;
    this.ctx.drawImage(v, 0, 0, w, h);
    const rgba = this.ctx.getImageData(0, 0, w, h).data;
    return (await readFrame(new Uint8Array(rgba.buffer), w, h)) || null;
  }
}
