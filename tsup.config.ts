import { defineConfig } from 'tsup';

// `npm run build` empties dist/ first; the configs below run side by side.
export default defineConfig([
  {
    // The library: ESM + CJS with type declarations for both.
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    treeshake: true,
    // tfjs-core's gradient definitions ship only as extensionless ESM under dist/, which Node
    // cannot load: bundle them (and the tfjs-core internals they use); tfjs-core itself stays external.
    noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  },
  {
    // The feature worker thread of CKAADTrainer (src/training/feature-worker.ts): started with
    // `new Worker('<dist>/feature-worker.js')` by the library (ESM or CJS build), so it must be
    // a built, self-contained ESM file next to index.js.
    entry: { 'feature-worker': 'src/training/feature-worker.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  },
  {
    // The `ckaad` command line (package.json "bin"): one ESM file with the library bundled in
    // (a separate process, so it never meets a second copy of ckaad).
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    clean: false,
    target: 'node20',
    splitting: false,
    noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  },
]);
