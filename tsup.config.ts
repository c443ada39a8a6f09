import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

/** What every build below shares. */
const shared: Options = {
  sourcemap: true,
  clean: false, // `npm run build` empties dist/ first; the configs below run side by side.
  target: 'node20',
  splitting: false,
  // tfjs-core's gradient definitions ship only as extensionless ESM under dist/, which Node
  // cannot load: bundle them (and the tfjs-core internals they use); tfjs-core itself stays external.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
};

export default defineConfig([
  {
    // The library: ESM + CJS with type declarations for both.
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    treeshake: true,
  },
  {
    // The feature worker thread of CKAADTrainer (src/node/feature-worker/worker.ts): started with
    // `new Worker('<dist>/feature-worker.js')` by the library (ESM or CJS build), so it must be
    // a built, self-contained ESM file next to index.js.
    ...shared,
    entry: { 'feature-worker': 'src/node/feature-worker/worker.ts' },
    format: ['esm'],
    dts: false,
  },
  {
    // The `ckaad` command line (package.json "bin"): one ESM file with the library bundled in
    // (a separate process, so it never meets a second copy of ckaad).
    ...shared,
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
  },
]);
