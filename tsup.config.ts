import { defineConfig } from 'tsup';
import type { Options } from 'tsup';

/** What every build below shares. */
const shared: Options = {
  sourcemap: true,
  clean: false, // `npm run build` empties dist/ first; the configs below run side by side.
  // tfjs-core's gradient definitions ship only as extensionless ESM under dist/, which Node
  // cannot load: bundle them (and the tfjs-core internals they use); tfjs-core itself stays external.
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
};

/**
 * The package's entries (package.json "exports"): the universal core, its Node build (the core
 * with the Node platform installed), ckaad/node, ckaad/nn and ckaad/metrics.
 */
export const LIBRARY_ENTRIES = {
  index: 'src/index.ts',
  'index.node': 'src/index.node.ts',
  node: 'src/node/index.ts',
  nn: 'src/entries/nn.ts',
  metrics: 'src/entries/metrics.ts',
};

export default defineConfig([
  {
    // The library: ESM + CJS with type declarations for both. Code splitting puts the code the
    // entries share into common chunks, so `ckaad` and `ckaad/node` loaded together hold ONE copy
    // of every class (one CKAADTrainer, one FileFormatError) per module format.
    ...shared,
    entry: LIBRARY_ENTRIES,
    format: ['esm', 'cjs'],
    target: 'es2022',
    platform: 'neutral',
    // Node built-ins and sharp stay imports (only ckaad/node and the Node build reach them).
    external: ['sharp', /^node:/],
    splitting: true,
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
    target: 'node20',
    dts: false,
    // One file, no chunks: tsup splits ESM by default, and chunks named like the library's
    // (e.g. gradient-configs-<hash>.js, written by the library build too) raced with them.
    splitting: false,
  },
  {
    // The `ckaad` command line (package.json "bin"): one ESM file with the library bundled in
    // (a separate process, so it never meets a second copy of ckaad).
    ...shared,
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    target: 'node20',
    dts: false,
    splitting: false, // one file (see the feature worker above)
  },
]);
