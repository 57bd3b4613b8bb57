// Our WebAssembly, in the build this browser runs best: with 128-bit SIMD (about 13 % faster
// proofs) where the browser validates SIMD code (Chrome 91, Firefox 89, Safari 16.4 and later),
// the baseline build otherwise. Both are compiled from the same source by scripts/web-build.sh,
// which checks that they share these JavaScript bindings. The service worker (sw.js) keeps only
// the build this test picks.
import init from '../pkg/healthcode_wasm.js';

/** The smallest module with a SIMD instruction (`i32.const 0; i8x16.splat; i8x16.popcnt`), the
 * probe of the `wasm-feature-detect` package. sw.js holds the same bytes. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

export const simd = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);

/** Instantiates our WebAssembly once per page or worker; resolves to its exports. */
export function loadWasm() {
  const url = simd
    ? new URL('../pkg/healthcode_wasm_simd_bg.wasm', import.meta.url)
    : new URL('../pkg/healthcode_wasm_bg.wasm', import.meta.url);
  return init({ module_or_path: url });
}
