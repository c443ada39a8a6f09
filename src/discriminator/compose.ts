/**
 * Several discriminators acting as one: their heads side by side. Lets a custom strategy
 * combine, e.g., CKAPatch's patch heads with an image-level head (see
 * `examples/custom-strategy.ts`) without new library code: the energy losses sum over heads.
 */

import type * as tf from '@tensorflow/tfjs-core';

import type { Discriminator } from './discriminator.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * A {@link Discriminator} whose heads are those of `parts`, in the order of the record's keys.
 * Parameter names are prefixed with the part's key (`patch.heads.0.0.weight`,
 * `image.…`), so checkpoints stay unambiguous. Disposing it disposes every part.
 *
 * @example
 * ```ts
 * const d = composeDiscriminators({
 *   patch: new EnergyDiscriminator({ channels }),
 *   image: new ImageEnergyDiscriminator({ channels, sizes }),
 * });
 * d.forward(maps); // [patch energies per layer..., image energy]
 * ```
 * @throws InvalidArgumentError if `parts` is empty or a key contains a dot.
 */
export function composeDiscriminators(parts: Readonly<Record<string, Discriminator>>): Discriminator {
  const entries = Object.entries(parts);
  if (entries.length === 0) {
    throw new InvalidArgumentError('parts', 'at least one discriminator');
  }
  for (const [key] of entries) {
    if (key.length === 0 || key.includes('.')) {
      throw new InvalidArgumentError('parts', 'keys that are non-empty and contain no dot', `'${key}'`);
    }
  }
  return {
    forward(maps: tf.Tensor4D[]): tf.Tensor[] {
      return entries.flatMap(([, d]) => d.forward(maps));
    },
    parameters(): Map<string, tf.Variable> {
      const out = new Map<string, tf.Variable>();
      for (const [key, d] of entries) {
        for (const [name, v] of d.parameters()) out.set(`${key}.${name}`, v);
      }
      return out;
    },
    parameterCount(): number {
      return entries.reduce((total, [, d]) => total + d.parameterCount(), 0);
    },
    dispose(): void {
      for (const [, d] of entries) d.dispose();
    },
  };
}
