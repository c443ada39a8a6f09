/**
 * Adam optimisers for the auto-encoder and the discriminator, and their exact save/restore.
 *
 * Both use `tf.train.adam(lr, 0.5, 0.999, 1e-8)`: the authors' betas (docs/reference-implementation.md §4) and PyTorch's
 * ε, not tfjs's default 1e-7. Adam's first update is lr·g/(|g| + ε) per weight, so with
 * 1e-7 every weight whose gradient is below ~1e-6 moved visibly less than in the authors'
 * code from the very first step (scripts/fidelity, docs/fidelity.md). The trainer always
 * passes gradients as an array in the fixed order of a module's `parameters()`, so Adam's
 * i-th moment slot belongs to the i-th parameter; checkpoints store the moments under the
 * parameter's own name (`m.<name>`, `v.<name>`), independent of tfjs's global variable names.
 *
 * tfjs's `setWeights` restores the moments and the step count but recomputes the running
 * bias-correction products β₁ᵗ, β₂ᵗ as `pow(β, t + 1)`, while training accumulates them by
 * repeated float32 multiplication; the two differ in the last bits for β₂ = 0.999, which is
 * enough to make a resumed run drift from an uninterrupted one. So the products are saved
 * as well and put back after `setWeights`.
 */

import * as tf from '@tensorflow/tfjs-core';

import { CkaadError } from '../errors.js';

/** A tensor with a name, as tfjs optimisers take and return them. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Adam's β₁ and β₂ in the authors' code. */
export const ADAM_BETAS = [0.5, 0.999] as const;

/**
 * Adam's ε in the authors' code: PyTorch's default (tfjs's own default is 1e-7). Given
 * explicitly, it is also the same on every backend: left unset, tfjs takes the active backend's
 * `epsilon()` — 1e-7 on cpu and wasm, but 1e-4 on webgl, whose `floatPrecision()` reports 16
 * whenever float32 rendering is enabled (tfjs-backend-webgl 4.22 skips its float32 probe in
 * exactly that case) — so webgl's first discriminator step moved the weights differently and
 * its L_adv and scores differed from cpu's. 1e-8 is a normal float32 (webgl computes in
 * float32 where it can render float32, which the browser test checks).
 */
export const ADAM_EPSILON = 1e-8;

/** The scalar part of an Adam state, stored in the checkpoint's JSON. */
export interface AdamScalars {
  /** Number of `applyGradients` calls so far. */
  iterations: number;
  /** β₁ to the power iterations + 1, exactly as the optimiser holds it (float32). */
  accBeta1: number;
  /** β₂ to the power iterations + 1, exactly as the optimiser holds it (float32). */
  accBeta2: number;
}

/** The private running products of tfjs's Adam (no public accessor exists). */
interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

function internals(optimizer: tf.AdamOptimizer): AdamInternals {
  return optimizer as unknown as AdamInternals;
}

/** A new Adam optimiser with the authors' betas (0.5, 0.999) and ε ({@link ADAM_EPSILON}). */
export function createAdam(learningRate: number): tf.AdamOptimizer {
  return tf.train.adam(learningRate, ADAM_BETAS[0], ADAM_BETAS[1], ADAM_EPSILON);
}

/** The private fields of tfjs's AdamOptimizer that its update reads and writes. */
interface AdamFields extends AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[];
  incrementIterations(): void;
}

/** `optimizer` as a tfjs AdamOptimizer with the fields {@link adamStep} uses, or null. */
function adamFields(optimizer: tf.Optimizer): AdamFields | null {
  if (!(optimizer instanceof tf.AdamOptimizer)) return null;
  const o = optimizer as unknown as Partial<AdamFields>;
  const ok =
    typeof o.learningRate === 'number' &&
    typeof o.beta1 === 'number' &&
    typeof o.beta2 === 'number' &&
    typeof o.epsilon === 'number' &&
    Array.isArray(o.accumulatedFirstMoment) &&
    Array.isArray(o.accumulatedSecondMoment) &&
    o.accBeta1 instanceof tf.Variable &&
    o.accBeta2 instanceof tf.Variable &&
    typeof o.incrementIterations === 'function';
  return ok ? (o as AdamFields) : null;
}

/**
 * One Adam update, op for op tfjs's `AdamOptimizer.applyGradients` (so bitwise the same
 * weights, moments and step count), but with each parameter's temporaries freed before the
 * next parameter's update. tfjs computes all of them inside one `tidy`: about ten
 * parameter-sized temporaries for every parameter at once — 3.3 GB for the 84 M parameters
 * of a wide_resnet50_2 auto-encoder, more than a wasm heap has room for next to the model.
 */
function adamStep(adam: AdamFields, parameters: ReadonlyMap<string, tf.Variable>, grads: readonly (tf.Tensor | null)[]): void {
  tf.tidy(() => {
    const oneMinusAccBeta1 = tf.sub(1, adam.accBeta1);
    const oneMinusAccBeta2 = tf.sub(1, adam.accBeta2);
    let i = 0;
    for (const value of parameters.values()) {
      const slot = i;
      const gradient = grads[i++];
      const name = value.name;
      // Moment slots are created for every parameter, with or without a gradient (as tfjs does).
      adam.accumulatedFirstMoment[slot] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      adam.accumulatedSecondMoment[slot] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      if (gradient === null) continue;
      const firstMoment = (adam.accumulatedFirstMoment[slot] as { variable: tf.Variable }).variable;
      const secondMoment = (adam.accumulatedSecondMoment[slot] as { variable: tf.Variable }).variable;
      tf.tidy(() => {
        const newFirstMoment = tf.add(tf.mul(firstMoment, adam.beta1), tf.mul(gradient, 1 - adam.beta1));
        const newSecondMoment = tf.add(tf.mul(secondMoment, adam.beta2), tf.mul(tf.square(gradient), 1 - adam.beta2));
        const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
        const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
        firstMoment.assign(newFirstMoment);
        secondMoment.assign(newSecondMoment);
        const newValue = tf.add(
          tf.mul(tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), adam.epsilon)), -adam.learningRate),
          value,
        );
        value.assign(newValue);
      });
    }
    adam.accBeta1.assign(tf.mul(adam.accBeta1, adam.beta1));
    adam.accBeta2.assign(tf.mul(adam.accBeta2, adam.beta2));
  });
  adam.incrementIterations();
}

/**
 * Applies `grads` (one per parameter, in the order of `parameters`; `null` for a parameter
 * the loss does not depend on) with `optimizer`. For tfjs's Adam the update is
 * {@link adamStep}'s: the same numbers, with the memory of one parameter's update at a time.
 */
export function applyInOrder(
  optimizer: tf.Optimizer,
  parameters: ReadonlyMap<string, tf.Variable>,
  grads: readonly (tf.Tensor | null)[],
): void {
  const adam = adamFields(optimizer);
  if (adam !== null) {
    adamStep(adam, parameters, grads);
    return;
  }
  const named: NamedTensor[] = [];
  let i = 0;
  for (const v of parameters.values()) {
    // A null gradient keeps its moment slot (Adam skips it) so indices stay aligned.
    named.push({ name: v.name, tensor: grads[i++] as tf.Tensor });
  }
  optimizer.applyGradients(named);
}

/**
 * The optimiser's moments as named tensors (`m.<param>`, `v.<param>`; views of the optimiser's
 * own variables: do not dispose them) plus its scalar state. Empty before the first step.
 */
export async function adamState(
  optimizer: tf.AdamOptimizer,
  parameters: ReadonlyMap<string, tf.Variable>,
): Promise<{ tensors: Map<string, tf.Tensor>; scalars: AdamScalars }> {
  const weights = await optimizer.getWeights();
  const [iter, ...moments] = weights;
  const iterations = (await iter.tensor.data())[0];
  iter.tensor.dispose();
  const names = [...parameters.keys()];
  const variables = [...parameters.values()];
  const tensors = new Map<string, tf.Tensor>();
  if (moments.length > 0) {
    if (moments.length !== 2 * names.length) {
      throw new CkaadError('internal', `Adam holds ${moments.length / 2} moment slots for ${names.length} parameters.`);
    }
    // getWeights lists all first moments, then all second moments, in slot order.
    for (const [kind, offset] of [['m', 0], ['v', names.length]] as const) {
      names.forEach((name, i) => {
        const slot = moments[offset + i];
        if (slot.name !== `${variables[i].name}/${kind}`) {
          throw new CkaadError('internal', `Adam moment slot ${offset + i} (${slot.name}) does not belong to parameter ${name}.`);
        }
        tensors.set(`${kind}.${name}`, slot.tensor);
      });
    }
  }
  const { accBeta1, accBeta2 } = internals(optimizer);
  const scalars: AdamScalars = {
    iterations,
    accBeta1: (await accBeta1.data())[0],
    accBeta2: (await accBeta2.data())[0],
  };
  return { tensors, scalars };
}

/** Expected shapes of the tensors {@link adamState} returns, for loading. */
export function adamShapes(parameters: ReadonlyMap<string, tf.Variable>): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const [name, v] of parameters) shapes.set(`m.${name}`, v.shape);
  for (const [name, v] of parameters) shapes.set(`v.${name}`, v.shape);
  return shapes;
}

/**
 * Restores a fresh optimiser (one that has not stepped yet) to a state saved by
 * {@link adamState}. `tensors` may be empty (saved before the first step). Does not take
 * ownership of `tensors`.
 */
export async function restoreAdam(
  optimizer: tf.AdamOptimizer,
  parameters: ReadonlyMap<string, tf.Variable>,
  tensors: ReadonlyMap<string, tf.Tensor>,
  scalars: AdamScalars,
): Promise<void> {
  if (tensors.size === 0 && scalars.iterations === 0) return;
  const iter = tf.scalar(scalars.iterations, 'int32');
  const names = [...parameters.keys()];
  const variables = [...parameters.values()];
  const weights: NamedTensor[] = [
    { name: 'iter', tensor: iter },
    ...names.map((n, i) => ({ name: `${variables[i].name}/m`, tensor: tensors.get(`m.${n}`) as tf.Tensor })),
    ...names.map((n, i) => ({ name: `${variables[i].name}/v`, tensor: tensors.get(`v.${n}`) as tf.Tensor })),
  ];
  await optimizer.setWeights(weights);
  iter.dispose();
  const { accBeta1, accBeta2 } = internals(optimizer);
  tf.tidy(() => {
    accBeta1.assign(tf.scalar(scalars.accBeta1));
    accBeta2.assign(tf.scalar(scalars.accBeta2));
  });
}
