/**
 * One training step (paper §Training; the order of the authors' code), on the frozen
 * features of a normal batch N and, when the step has a discriminator, an anomaly batch A:
 *
 *   R = G(F(N) ∪ F(A))                                  reconstructions (paper eq. 1)
 *   discriminator  L_D(D(F(N)), D(F(A)), D(R))          gradients w.r.t. D only (R enters
 *                                                       detached), global-norm clipping,
 *                                                       one Adam step           (eq. 8 / 11 / 7)
 *   auto-encoder   L = L_rec + λ · L_adv(D(R))          with the updated D, one Adam step
 *                                                       (eq. 13; L_rec eq. 2 / 4)
 *
 * With `microBatches` k > 1 the step runs in k micro-batches, each holding the same share of
 * N and of A, and the gradients of each network are accumulated over them before its single
 * Adam update — the inner loop below. Averaging the micro-batches' mean losses gives the full
 * batch's, so the update is the full batch's up to float rounding, at a fraction of the
 * memory. With k = 1 the discriminator step runs inside the auto-encoder's forward pass, as
 * soon as R exists and off its gradient tape, so R is computed once (as the authors' code
 * does); with k > 1 an untaped pass over every micro-batch first gives D its inputs.
 *
 * Both gradient passes use {@link leanVariableGrads}, which frees what backpropagation no
 * longer needs as it goes (the paper's 16 + 16 images at 256² fit a 4 GiB wasm heap).
 */

import * as tf from '@tensorflow/tfjs-core';

import type { FeatureAutoEncoder } from '../autoencoder/autoencoder.js';
import type { Discriminator } from '../discriminator/discriminator.js';
import { autoencoderObjective } from '../losses/objective.js';
import { reconstructionLoss } from '../losses/reconstruction.js';
import { applyInOrder } from './adam.js';
import { clipByGlobalNorm } from './clip.js';
import { leanVariableGrads, untaped } from './lean-gradients.js';
import type { Adversary, LossWeights, Strategy } from './strategies.js';

/** The networks and optimisers a run trains (the discriminator's only when it has one). */
export interface RunModels {
  autoencoder: FeatureAutoEncoder;
  adversary: Adversary | null;
  discriminator: Discriminator | null;
  aeOptimizer: tf.AdamOptimizer;
  dOptimizer: tf.AdamOptimizer | null;
}

/** What a step needs of the trainer's options. */
export interface StepSettings {
  strategy: Strategy;
  weights: LossWeights;
  clipNorm: number;
  microBatches: number;
}

/** The numbers a step reports (means over the step's images). */
export interface StepValues {
  lRec: number;
  lAdv: number;
  lD: number;
  lAe: number;
  dGradNorm: number;
}

/**
 * Number of micro-batches a step of `normal` + `anomalous` images is split into: the largest
 * k ≤ `wanted` that divides both counts, so that every micro-batch holds the same share of
 * each group (1 when no such k > 1 exists).
 */
export function microBatchCount(normal: number, anomalous: number, wanted: number): number {
  for (let k = Math.min(wanted, normal); k > 1; k--) {
    if (normal % k === 0 && anomalous % k === 0) return k;
  }
  return 1;
}

/** Images `[start, end)` of a batch (to the end by default). */
function batchSlice(x: tf.Tensor4D, start: number, end = x.shape[0]): tf.Tensor4D {
  return tf.slice(x, [start, 0, 0, 0], [end - start, -1, -1, -1]);
}

/** One micro-batch: its normal and anomaly features (per layer). */
interface MicroBatch {
  normal: tf.Tensor4D[];
  anomalies: tf.Tensor4D[] | null;
}

/**
 * Adds `grads` (by variable name) into `sums`, taking ownership of them: a first gradient
 * becomes the sum itself, later ones are added (what they replace is disposed).
 */
function accumulate(sums: (tf.Tensor | null)[], variables: readonly tf.Variable[], grads: Record<string, tf.Tensor>): void {
  variables.forEach((v, j) => {
    const g = grads[v.name];
    if (g === undefined) return;
    const previous = sums[j];
    if (previous === null) {
      sums[j] = g;
    } else {
      sums[j] = tf.add(previous, g);
      tf.dispose([previous, g]);
    }
  });
}

/** `sums` divided by `k` in place (nothing to do for k = 1). */
function average(sums: (tf.Tensor | null)[], k: number): void {
  if (k === 1) return;
  sums.forEach((g, j) => {
    if (g === null) return;
    sums[j] = tf.div(g, k);
    g.dispose();
  });
}

/**
 * The auto-encoder's objective on one (micro-)batch, under its gradient tape: R (eq. 1), L_rec
 * (eq. 2), the strategy's reconstruction objective and — with a discriminator and anomalies —
 * λ·L_adv against the discriminator as `beforeAdversarial(R)` leaves it (eq. 13).
 */
function objectiveOf(
  batch: MicroBatch,
  models: RunModels,
  s: StepSettings,
  beforeAdversarial: (recon: tf.Tensor4D[]) => void,
): { objective: tf.Scalar; lRec: tf.Scalar; lAdv: tf.Scalar | null } {
  const { normal: fN, anomalies: fA } = batch;
  const { autoencoder, adversary, discriminator } = models;
  const n = fN[0].shape[0];
  const recon = autoencoder.reconstruct(fA === null ? fN : fN.map((m, i) => tf.concat([m, fA[i]])));
  const rN = fA === null ? recon : recon.map((r) => batchSlice(r, 0, n));
  const rA = fA === null ? null : recon.map((r) => batchSlice(r, n));
  const lRec = reconstructionLoss(fN, rN);
  const reconstruction = s.strategy.reconstructionObjective(
    { normal: { features: fN, reconstructions: rN }, anomalous: fA === null || rA === null ? null : { features: fA, reconstructions: rA } },
    s.weights,
  );
  let lAdv: tf.Scalar | null = null;
  if (adversary !== null && discriminator !== null && fA !== null) {
    beforeAdversarial(recon);
    lAdv = adversary.generatorLoss(discriminator.forward(recon), s.weights);
  }
  return { objective: autoencoderObjective(reconstruction, lAdv, s.weights.lambda), lRec, lAdv };
}

/** The discriminator's loss on D(F(N)), D(F(A)) (if the adversary looks at anomalies) and D(R). */
function discriminatorObjective(fN: tf.Tensor4D[], fA: tf.Tensor4D[], recon: tf.Tensor4D[], adversary: Adversary, discriminator: Discriminator, weights: LossWeights): tf.Scalar {
  return adversary.discriminatorLoss(
    { normal: discriminator.forward(fN), anomalous: adversary.seesAnomalies ? discriminator.forward(fA) : [], reconstructed: discriminator.forward(recon) },
    weights,
  );
}

/**
 * The discriminator's update: its loss on each micro-batch (R given, or from an untaped
 * auto-encoder pass), gradients w.r.t. its parameters only, accumulated and averaged, clipped
 * by their global norm, one Adam step. Synchronous (it can run inside the auto-encoder's
 * forward pass); returns each micro-batch's loss and the norm before clipping, to read later.
 */
export function updateDiscriminator(
  models: RunModels,
  s: StepSettings,
  batches: readonly (MicroBatch & { recon: tf.Tensor4D[] | null })[],
): { losses: tf.Scalar[]; norm: tf.Scalar } {
  const { autoencoder, adversary, discriminator, dOptimizer } = models;
  if (adversary === null || discriminator === null || dOptimizer === null) throw new Error('updateDiscriminator: the run has no discriminator');
  const parameters = discriminator.parameters();
  const variables = [...parameters.values()];
  const sums: (tf.Tensor | null)[] = variables.map(() => null);
  const losses: tf.Scalar[] = [];
  try {
    for (const { normal: fN, anomalies: fA, recon: given } of batches) {
      if (fA === null) continue;
      const recon = given ?? tf.tidy(() => autoencoder.reconstruct(fN.map((m, l) => tf.concat([m, fA[l]]))));
      try {
        const { value, grads } = leanVariableGrads(() => discriminatorObjective(fN, fA, recon, adversary, discriminator, s.weights), variables);
        losses.push(value);
        accumulate(sums, variables, grads);
      } finally {
        if (given === null) tf.dispose(recon);
      }
    }
    average(sums, batches.length);
    const present = sums.filter((g): g is tf.Tensor => g !== null);
    const { clipped, norm } = clipByGlobalNorm(present, s.clipNorm);
    let next = 0;
    applyInOrder(dOptimizer, parameters, sums.map((g) => (g === null ? null : clipped[next++])));
    tf.dispose(clipped);
    return { losses, norm };
  } catch (e) {
    tf.dispose(losses);
    throw e;
  } finally {
    tf.dispose(sums.filter((g): g is tf.Tensor => g !== null));
  }
}

/**
 * One training step on the features of a normal batch (and of an anomaly batch, or null);
 * takes ownership of the feature tensors.
 */
export async function trainStep(models: RunModels, fN: tf.Tensor4D[], fA: tf.Tensor4D[] | null, s: StepSettings): Promise<StepValues> {
  const { autoencoder, dOptimizer, aeOptimizer } = models;
  const withDiscriminator = dOptimizer !== null && fA !== null;
  const parts = microBatchCount(fN[0].shape[0], fA === null ? 0 : fA[0].shape[0], s.microBatches);
  const pn = fN[0].shape[0] / parts;
  const pa = fA === null ? 0 : fA[0].shape[0] / parts;
  const micro = (i: number): MicroBatch =>
    parts === 1
      ? { normal: fN, anomalies: fA }
      : { normal: fN.map((m) => batchSlice(m, i * pn, (i + 1) * pn)), anomalies: fA === null ? null : fA.map((m) => batchSlice(m, i * pa, (i + 1) * pa)) };
  const release = (b: MicroBatch) => {
    if (parts > 1) tf.dispose([...b.normal, ...(b.anomalies ?? [])]);
  };
  const kept: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    kept.push(t);
    return tf.keep(t);
  };
  const dLosses: tf.Scalar[] = [];
  let dNorm: tf.Scalar | null = null;
  const takeDiscriminator = (update: { losses: tf.Scalar[]; norm: tf.Scalar }) => {
    dLosses.push(...update.losses.map(keep));
    dNorm = keep(update.norm);
  };
  const aeLosses: { lRec: tf.Scalar; lAdv: tf.Scalar | null; lAe: tf.Scalar }[] = [];
  try {
    // 1. With micro-batches, the discriminator first, on every micro-batch.
    if (withDiscriminator && parts > 1) {
      const batches = Array.from({ length: parts }, (_, i) => ({ ...micro(i), recon: null }));
      try {
        takeDiscriminator(updateDiscriminator(models, s, batches));
      } finally {
        batches.forEach(release);
      }
    }
    // 2. The auto-encoder, gradients accumulated over the micro-batches.
    const parameters = autoencoder.parameters();
    const variables = [...parameters.values()];
    const sums: (tf.Tensor | null)[] = variables.map(() => null);
    try {
      for (let i = 0; i < parts; i++) {
        const batch = micro(i);
        try {
          let terms: { lRec: tf.Scalar; lAdv: tf.Scalar | null } | null = null;
          const { value, grads } = leanVariableGrads(() => {
            const t = objectiveOf(batch, models, s, (recon) => {
              // Without micro-batches: the discriminator step, off the auto-encoder's tape (R enters it detached).
              if (withDiscriminator && parts === 1) takeDiscriminator(untaped(() => updateDiscriminator(models, s, [{ ...batch, recon }])));
            });
            terms = { lRec: keep(t.lRec), lAdv: t.lAdv === null ? null : keep(t.lAdv) };
            return t.objective;
          }, variables);
          kept.push(value);
          aeLosses.push({ ...(terms as unknown as { lRec: tf.Scalar; lAdv: tf.Scalar | null }), lAe: value });
          accumulate(sums, variables, grads);
        } finally {
          release(batch);
        }
      }
      average(sums, parts);
      applyInOrder(aeOptimizer, parameters, sums);
    } finally {
      tf.dispose(sums.filter((g): g is tf.Tensor => g !== null));
    }
    // The step's means: each micro-batch's mean loss over the number of micro-batches.
    const read = async (t: tf.Tensor | null) => (t === null ? 0 : (await t.data())[0]);
    const values: StepValues = { lRec: 0, lAdv: 0, lD: 0, lAe: 0, dGradNorm: await read(dNorm) };
    for (const l of dLosses) values.lD += (await read(l)) / parts;
    for (const l of aeLosses) {
      values.lRec += (await read(l.lRec)) / parts;
      values.lAdv += (await read(l.lAdv)) / parts;
      values.lAe += (await read(l.lAe)) / parts;
    }
    return values;
  } finally {
    tf.dispose(kept);
    tf.dispose(fN);
    if (fA !== null) tf.dispose(fA);
  }
}
