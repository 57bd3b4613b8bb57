// Two pages (the citizen's and the checkpoint's) and a service worker that keeps every built
// file for offline use: its list of files is written at build time, so a new build replaces
// the old copy as a whole.
import { defineConfig } from 'vite';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

function serviceWorker() {
  return {
    name: 'healthcode-service-worker',
    apply: 'build',
    generateBundle(_, bundle) {
      const files = Object.keys(bundle).filter((f) => !f.endsWith('.map'));
      // The pages themselves are emitted after this hook: name them.
      const precache = ['./', './index.html', './gate.html', ...files.map((f) => `./${f}`), './manifest.webmanifest', './icon.svg', './icon-192.png', './icon-512.png'];
      const version = createHash('sha256').update(files.sort().join('\n')).digest('hex').slice(0, 16);
      const source = readFileSync(resolve(import.meta.dirname, 'src/sw.js'), 'utf8')
        .replace('__PRECACHE__', JSON.stringify(precache))
        .replace('__VERSION__', version);
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}

export default defineConfig({
  base: './',
  build: {
    target: 'es2022',
    rollupOptions: {
      input: { citizen: resolve(import.meta.dirname, 'index.html'), gate: resolve(import.meta.dirname, 'gate.html') },
    },
  },
  worker: { format: 'es' },
  plugins: [serviceWorker()],
});
