// A fake camera for Chromium (--use-file-for-fake-video-capture): a still picture as a short
// Y4M video (YUV 4:2:0), the picture centred on white and scaled to fit.
import { PNG } from 'pngjs';
import { writeFileSync } from 'node:fs';

export function pngToY4m(pngBytes, path, { width = 640, height = 480, frames = 10 } = {}) {
  const img = PNG.sync.read(pngBytes);
  const scale = Math.min((width * 0.9) / img.width, (height * 0.9) / img.height);
  const w = Math.floor(img.width * scale), h = Math.floor(img.height * scale);
  const x0 = Math.floor((width - w) / 2), y0 = Math.floor((height - h) / 2);
  const rgb = (x, y) => {
    // Nearest-neighbour scaling keeps the QR's modules sharp.
    const sx = Math.floor((x - x0) / scale), sy = Math.floor((y - y0) / scale);
    if (x < x0 || y < y0 || sx >= img.width || sy >= img.height || sx < 0 || sy < 0) return [255, 255, 255];
    const i = (sy * img.width + sx) * 4;
    const a = img.data[i + 3] / 255;
    return [0, 1, 2].map((c) => Math.round(img.data[i + c] * a + 255 * (1 - a)));
  };
  const Y = Buffer.alloc(width * height), U = Buffer.alloc((width / 2) * (height / 2)), V = Buffer.alloc(U.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      Y[y * width + x] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
      if (x % 2 === 0 && y % 2 === 0) {
        const j = (y / 2) * (width / 2) + x / 2;
        U[j] = Math.round(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
        V[j] = Math.round(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
      }
    }
  }
  const frame = Buffer.concat([Buffer.from('FRAME\n'), Y, U, V]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(path, Buffer.concat([header, ...Array(frames).fill(frame)]));
}
