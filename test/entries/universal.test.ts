// The universal entry (`ckaad`, src/index.ts) and the subpaths that are meant for every
// platform bundle for a browser with nothing stubbed and nothing external: no Node built-in
// and no sharp is reachable from them, statically or through a dynamic import().
import { builtinModules } from 'node:module';

import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

import * as core from '../../src/index.js';

// examples/browser.ts is the README's Browser example ('ckaad' resolves to src/ through tsconfig paths).
const UNIVERSAL_ENTRIES = ['src/index.ts', 'src/entries/nn.ts', 'src/entries/metrics.ts', 'examples/browser.ts'];

describe('universal entries', () => {
  for (const entry of UNIVERSAL_ENTRIES) {
    it(`${entry} bundles for the browser without Node built-ins or sharp`, async () => {
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
      });
      expect(result.errors).toEqual([]);
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.filter((p) => p.startsWith('src/node/') || p.startsWith('src/cli/') || p.includes('/sharp/'))).toEqual([]);
      const nodeImports = Object.values(result.metafile.inputs)
        .flatMap((input) => input.imports.map((i) => i.path))
        .filter((p) => p.startsWith('node:') || builtinModules.includes(p));
      expect(nodeImports).toEqual([]);
    });
  }

  it('the root exports about 40 values and no internals', () => {
    const values = Object.keys(core).sort();
    expect(values.length).toBeLessThanOrEqual(42);
    for (const internal of ['floatToHalf', 'FeatureStore', 'leanVariableGrads', 'WASM_BINARY_NAMES', 'isNode', 'installThreadedWasm', 'MAX_WASM_THREADS']) {
      expect(values).not.toContain(internal);
    }
  });
});
