/**
 * The module protocol: a tree of layers, each owning `tf.Variable`s, whose parameters are
 * listed under PyTorch-`state_dict`-like dotted names (`decoder.backbone.layers.0.0.conv1.weight`).
 * Checkpoints, optimizers and parameter counts all go through {@link Module.parameters}.
 */

import * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError } from '../errors.js';

/** Anything that owns trainable parameters. */
export interface Module {
  /** Trainable parameters with stable, PyTorch-state_dict-like names (used for checkpoints). */
  parameters(): Map<string, tf.Variable>;
  /** Total number of trainable scalars. */
  parameterCount(): number;
  /** Free every variable the module owns; the module cannot be used afterwards. */
  dispose(): void;
}

/** A module that maps one NHWC tensor to another (conv, norm, residual block, …). */
export interface Layer4D extends Module {
  /** Forward pass. Does not dispose `x`; the caller owns the result. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
}

/**
 * Base class for modules: registers own parameters and child modules in order and
 * derives names, counts and disposal from that registry (as `torch.nn.Module` does).
 * Parameters come first, then children in registration order, each child's names
 * prefixed with `<childName>.`.
 */
export abstract class BaseModule implements Module {
  private readonly ownParameters = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();
  private disposed = false;

  /**
   * Turn `initial` into a trainable variable registered under `name`. Takes ownership of
   * `initial` (it is disposed; the variable keeps its own copy of the data).
   */
  protected addParameter(name: string, initial: tf.Tensor): tf.Variable {
    this.checkFreeName(name);
    const variable = tf.variable(initial, true);
    initial.dispose();
    this.ownParameters.set(name, variable);
    return variable;
  }

  /** Register `child` under `name` (may contain dots, e.g. `'encoder.fusion_layer'`). */
  protected addModule<M extends Module>(name: string, child: M): M {
    this.checkFreeName(name);
    this.children.set(name, child);
    return child;
  }

  /** @inheritdoc */
  parameters(): Map<string, tf.Variable> {
    this.assertAlive();
    const out = new Map<string, tf.Variable>(this.ownParameters);
    for (const [prefix, child] of this.children) {
      for (const [name, variable] of child.parameters()) out.set(`${prefix}.${name}`, variable);
    }
    return out;
  }

  /** @inheritdoc */
  parameterCount(): number {
    let total = 0;
    for (const variable of this.parameters().values()) total += variable.size;
    return total;
  }

  /** @inheritdoc */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const variable of this.ownParameters.values()) variable.dispose();
    for (const child of this.children.values()) child.dispose();
  }

  /** Whether {@link BaseModule.dispose} has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Throw if the module has been disposed. */
  protected assertAlive(): void {
    if (this.disposed) {
      throw new InvalidArgumentError('module', `a live ${this.constructor.name}`, 'one that was disposed');
    }
  }

  private checkFreeName(name: string): void {
    if (name.length === 0 || this.ownParameters.has(name) || this.children.has(name)) {
      throw new InvalidArgumentError('name', 'a new, non-empty parameter or module name', `'${name}'`);
    }
  }
}

/** One step of a {@link Sequential}: a layer with parameters, or a parameter-free function. */
export type Step = Layer4D | ((x: tf.Tensor4D) => tf.Tensor4D);

/**
 * A chain of steps applied in order, named like `torch.nn.Sequential`: step `i` that has
 * parameters is registered as child `'i'`; parameter-free steps (activations) still take an
 * index, so names match the PyTorch layout (`0.weight`, `2.weight` around a `LeakyReLU`).
 */
export class Sequential extends BaseModule implements Layer4D {
  private readonly steps: readonly Step[];

  constructor(steps: readonly Step[]) {
    super();
    this.steps = steps;
    steps.forEach((step, i) => {
      if (typeof step !== 'function') this.addModule(String(i), step);
    });
  }

  /** Number of steps (including parameter-free ones). */
  get length(): number {
    return this.steps.length;
  }

  /** @inheritdoc */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    this.assertAlive();
    if (this.steps.length === 0) return x.clone();
    return tf.tidy(() => {
      let y = x;
      for (const step of this.steps) y = typeof step === 'function' ? step(y) : step.apply(y);
      return y;
    });
  }
}
