/**
 * Gradients with the memory of a training step bounded by what backpropagation still needs.
 *
 * `tf.variableGrads` keeps, until the very end of backpropagation, every tensor the forward
 * pass saved for its gradients and every intermediate gradient it computes: peak memory is
 * about twice the activations of the forward pass. With the paper's batch of 16 normal + 16
 * anomalous 256×256 images, a CKAPatch step on resnet18 features then needs more than the
 * 4 GB a WebAssembly heap can hold, and the wasm backend aborts.
 *
 * {@link leanVariableGrads} walks the same tape in the same order with the same gradient
 * functions and additions — so its results are bitwise equal to `tf.variableGrads` — but
 * releases each node's saved tensors and its outputs' gradients as soon as the node is done,
 * as PyTorch's autograd does. {@link untaped} runs a piece of work inside a gradient function
 * without recording it (the trainer's discriminator update, whose inputs are detached).
 *
 * Both read and write the tape fields of tfjs-core's engine state (`activeTape`,
 * `gradientDepth`, public fields of `EngineState` in tfjs-core 4.x). If the engine does not
 * have them, they fall back to `tf.variableGrads` and plain execution.
 */

import * as tf from '@tensorflow/tfjs-core';

import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';

/** A node of tfjs's gradient tape (tfjs-core's `TapeNode`). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The tape fields of tfjs-core's `EngineState`. */
interface TapeState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

/** The engine's tape state, or null when this tfjs-core does not expose it. */
function tapeState(): TapeState | null {
  const state = (tf.engine() as unknown as { state?: Partial<TapeState> & { kernelDepth?: unknown } }).state;
  // activeTape is unset until the first gradient computation, then an array or null.
  if (state === undefined || typeof state.gradientDepth !== 'number' || typeof state.kernelDepth !== 'number') return null;
  if (state.activeTape != null && !Array.isArray(state.activeTape)) return null;
  return state as TapeState;
}

/** Result of {@link leanVariableGrads}: as `tf.variableGrads`. */
export interface VariableGrads {
  /** The value of `f()`. The caller disposes it. */
  value: tf.Scalar;
  /** Gradient of `value` per variable name; variables `f` does not depend on are missing. The caller disposes them. */
  grads: tf.NamedTensorMap;
}

/**
 * `tf.variableGrads(f, variables)` with eager release of what backpropagation no longer
 * needs: same values (bitwise), peak memory about halved. Nested inside another gradient
 * computation (or on an engine without the expected tape state) it is `tf.variableGrads`.
 *
 * @param f Computes a scalar loss from the variables; every op on the path from the
 *   variables to the loss must run inside it.
 * @param variables The trainable variables to differentiate with respect to.
 * @throws InvalidArgumentError if `f` is not a function, `variables` is empty or not all
 *   trainable variables, `f` returns a non-scalar, or no variable affects the result.
 *
 * @example
 * ```ts
 * const { value, grads } = leanVariableGrads(() => loss(model(x)), [...model.parameters().values()]);
 * optimizer.applyGradients(grads);
 * tf.dispose([value, ...Object.values(grads)]);
 * ```
 */
export function leanVariableGrads(f: () => tf.Scalar, variables: readonly tf.Variable[]): VariableGrads {
  if (typeof f !== 'function') throw new InvalidArgumentError('f', 'a function returning a scalar loss', typeof f);
  if (!Array.isArray(variables) || variables.length === 0 || !variables.every((v) => v instanceof tf.Variable && v.trainable)) {
    throw new InvalidArgumentError('variables', 'a non-empty array of trainable tf.Variable');
  }
  const state = tapeState();
  if (state === null || state.gradientDepth > 0) return tf.variableGrads(f, [...variables]);

  // Record the forward pass (as the engine's own startTape / endTape).
  state.activeTape = [];
  state.gradientDepth += 1;
  let value: tf.Tensor;
  try {
    value = tf.tidy(f);
  } catch (err) {
    state.gradientDepth -= 1;
    releaseTape(state);
    throw err;
  }
  state.gradientDepth -= 1;
  const tape = state.activeTape ?? [];
  try {
    if (!(value instanceof tf.Tensor) || value.rank !== 0) {
      const found = value instanceof tf.Tensor ? `a rank-${value.rank} tensor` : typeof value;
      tf.dispose(value);
      throw new InvalidArgumentError('f', 'a function returning a scalar', found);
    }
    const path = nodesFromXToY(tape, variables, value);
    // Nodes off the path are never differentiated: their saved tensors can go now.
    const onPath = new Set(path.map((n) => n.id));
    for (const node of tape) if (!onPath.has(node.id)) tf.dispose(node.saved ?? []);
    const grads = backpropagate(path, variables, value);
    if (Object.keys(grads).length === 0) {
      tf.dispose(value);
      throw new InvalidArgumentError('f', 'a loss that depends on at least one of the variables');
    }
    return { value: value as tf.Scalar, grads };
  } finally {
    releaseTape(state);
  }
}

/**
 * Runs `fn` without recording its operations on the active gradient tape, as if it ran
 * outside any gradient computation (its own `variableGrads` calls work normally). Tensors
 * it reads are treated as constants: nothing flows back through `fn`.
 *
 * @example
 * ```ts
 * leanVariableGrads(() => {
 *   const recon = autoencoder.reconstruct(maps);
 *   untaped(() => discriminatorStep(recon)); // recon is detached here
 *   return loss(recon);
 * }, aeVariables);
 * ```
 */
export function untaped<T>(fn: () => T): T {
  const state = tapeState();
  if (state === null || state.gradientDepth === 0) return fn();
  const { activeTape, gradientDepth } = state;
  state.activeTape = null;
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.activeTape = activeTape;
    state.gradientDepth = gradientDepth;
  }
}

/** Disposes every saved tensor left on the tape and ends it. */
function releaseTape(state: TapeState): void {
  for (const node of state.activeTape ?? []) tf.dispose(node.saved ?? []);
  state.activeTape = null;
}

/**
 * The nodes on a path from `xs` to `y`, in tape order, with their inputs pruned to those
 * that depend on `xs` (what tfjs-core's getFilteredNodesXToY computes).
 */
function nodesFromXToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      nodesFromX.add(node.id);
      for (const output of node.outputs) fromX.add(output.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((output) => toY.has(output.id))) {
      nodesToY.add(node.id);
      for (const input of Object.values(node.inputs)) toY.add(input.id);
    }
  }
  const path: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, input] of Object.entries(node.inputs)) if (fromX.has(input.id)) inputs[name] = input;
    path.push({ ...node, inputs });
  }
  return path;
}

/**
 * Backpropagates d`y` = 1 through `path` (last node first), releasing each node's saved
 * tensors and its outputs' gradients once the node is done. Returns the gradient of every
 * variable that received one, by name.
 */
function backpropagate(path: readonly TapeNode[], variables: readonly tf.Variable[], y: tf.Tensor): tf.NamedTensorMap {
  return tf.tidy(() => {
    const variableIds = new Set(variables.map((v) => v.id));
    const accumulated = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
    for (let i = path.length - 1; i >= 0; i--) {
      const node = path[i];
      const gradient = node.gradient;
      if (gradient === undefined) {
        throw new InvalidArgumentError('f', `operations with gradients (none is registered for ${node.kernelName})`);
      }
      const dys = node.outputs.map((o) => accumulated.get(o.id) ?? null);
      const saved = node.saved ?? [];
      // The engine's node.gradient turns null dys into zeros; the tidy frees those and every temporary.
      const dxs = tf.tidy(() => {
        const thunks = gradient(dys as tf.Tensor[]);
        const out: Record<string, tf.Tensor> = {};
        for (const name of Object.keys(node.inputs)) {
          const thunk = thunks[name];
          if (thunk === undefined) {
            throw new InvalidArgumentError('f', `a differentiable ${node.kernelName} (no gradient for its input '${name}')`);
          }
          const dx = thunk();
          // A gradient function may hand back dy or a saved tensor itself: own a distinct copy.
          out[name] = dys.includes(dx) || saved.includes(dx) ? tf.clone(dx) : dx;
        }
        return out;
      });
      for (const [name, dx] of Object.entries(dxs)) {
        const x = node.inputs[name];
        if (dx.dtype !== 'float32') {
          throw new InvalidArgumentError(`the gradient of ${node.kernelName}'s input '${name}'`, 'dtype float32', dx.dtype);
        }
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new ShapeMismatchError(`the gradient of ${node.kernelName}'s input '${name}'`, `[${x.shape.join(', ')}]`, `[${dx.shape.join(', ')}]`);
        }
        const current = accumulated.get(x.id);
        if (current === undefined) {
          accumulated.set(x.id, dx);
        } else {
          accumulated.set(x.id, tf.add(current, dx));
          current.dispose();
          dx.dispose();
        }
      }
      // Nothing else reads this node's saved tensors or its outputs' gradients.
      tf.dispose(saved);
      for (const output of node.outputs) {
        const dy = accumulated.get(output.id);
        if (dy !== undefined && !variableIds.has(output.id)) {
          accumulated.delete(output.id);
          dy.dispose();
        }
      }
    }
    const grads: tf.NamedTensorMap = {};
    for (const v of variables) {
      const g = accumulated.get(v.id);
      if (g !== undefined) grads[v.name] = g;
    }
    return grads;
  });
}
