/**
 * RMSprop, Adam, SGD, Momentum, Adagrad, Adadelta and Adamax whose update runs as one JavaScript loop per variable over wasm heap views, instead of ~10
 * tiny kernels (each paying ~5 µs of dispatch). They subclass the stock optimizers, so state slots, getWeights /
 * setWeights, getConfig and serialization are the stock ones, and they fall back to the stock update off wasm.
 * A variable's new value always goes to a fresh buffer (the wasm backend caches packed conv weights by tensor);
 * optimizer state is updated in place when nothing else shares its buffer.
 */
import * as tf from '@tensorflow/tfjs';
import type { WasmBackend } from './backend-access.js';
import { activeAddon } from './fix-state.js';

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

type Gradients = Parameters<tf.Optimizer['applyGradients']>[0];

interface Update {
  value: tf.Variable;
  gradient: tf.Tensor;
}

/** Pairs each variable with its gradient and creates missing state slots like the stock optimizers do. */
function updates(grads: Gradients): (Update & { index: number; name: string })[] {
  const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
  const out: (Update & { index: number; name: string })[] = [];
  names.forEach((name, index) => {
    const gradient: tf.Tensor | undefined = Array.isArray(grads) ? grads[index]?.tensor : grads[name];
    const value = tf.engine().registeredVariables[name];
    if (gradient && value) out.push({ value, gradient, index, name });
  });
  return out;
}

function usable(grads: Gradients): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const list: tf.Tensor[] = Array.isArray(grads) ? grads.map((g) => g.tensor) : Object.values(grads);
  return list.every((t) => t.dtype === 'float32');
}

const wasm = (): WasmBackend & { refCount(dataId: object): number } =>
  tf.backend() as unknown as WasmBackend & { refCount(dataId: object): number };

function slot(slots: Slot[], i: number, name: string, suffix: string, like: tf.Variable, init = 0): Slot {
  let s = slots[i];
  if (!s) {
    const variable = tf.tidy(() => (init === 0 ? tf.zerosLike(like) : tf.fill(like.shape, init)).variable(false));
    s = { originalName: `${name}/${suffix}`, variable };
    slots[i] = s;
  }
  return s;
}

/**
 * Runs `body` with heap views of the gradient, the slots (in place, or fresh when shared) and a fresh output buffer
 * for the variable, then publishes the new buffers.
 */
function fusedStep(
  value: tf.Variable,
  gradient: tf.Tensor,
  slots: tf.Variable[],
  body: (out: Float32Array, v: Float32Array, g: Float32Array, s: Float32Array[]) => void,
): void {
  const backend = wasm();
  const fresh = (like: tf.Tensor) =>
    tf.engine().makeTensorFromTensorInfo(backend.makeOutput(like.shape, 'float32')) as tf.Tensor;
  const newValue = fresh(value);
  const slotTargets = slots.map((s) => (backend.refCount(s.dataId) > 1 ? { s, t: fresh(s) } : { s, t: undefined }));
  // Views only after every allocation above: malloc may grow (and detach) the heap.
  const view = (t: tf.Tensor) => backend.typedArrayFromHeap(t) as Float32Array;
  const slotViews = slotTargets.map(({ s, t }) => {
    if (!t) return view(s);
    const v = view(t);
    v.set(view(s));
    return v;
  });
  body(view(newValue), view(value), view(gradient), slotViews);
  value.assign(newValue);
  newValue.dispose();
  for (const { s, t } of slotTargets) {
    if (t) {
      s.assign(t);
      t.dispose();
    }
  }
}

// The update loops are plain top-level functions with every operand a parameter: V8 compiles each to one tight
// monomorphic loop (written inline in closures over destructured, possibly-undefined slots they ran ~5x slower).

function rmsprop(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  s: Float32Array,
  m: Float32Array,
  lr: number,
  decay: number,
  momentum: number,
  eps: number,
): void {
  const n = out.length;
  const keep = 1 - decay;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const si = decay * s[i]! + keep * gi * gi;
    s[i] = si;
    const mi = momentum * m[i]! + (lr * gi) / Math.sqrt(si + eps);
    m[i] = mi;
    out[i] = v[i]! - mi;
  }
}

function rmspropCentered(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  s: Float32Array,
  m: Float32Array,
  c: Float32Array,
  lr: number,
  decay: number,
  momentum: number,
  eps: number,
): void {
  const n = out.length;
  const keep = 1 - decay;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const si = decay * s[i]! + keep * gi * gi;
    s[i] = si;
    const ci = decay * c[i]! + keep * gi;
    c[i] = ci;
    const mi = momentum * m[i]! + (lr * gi) / Math.sqrt(si - (ci * ci + eps));
    m[i] = mi;
    out[i] = v[i]! - mi;
  }
}

function adam(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  a: Float32Array,
  b: Float32Array,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  c1: number,
  c2: number,
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const ai = beta1 * a[i]! + (1 - beta1) * gi;
    const bi = beta2 * b[i]! + (1 - beta2) * gi * gi;
    a[i] = ai;
    b[i] = bi;
    out[i] = v[i]! - (lr * (ai / c1)) / (Math.sqrt(bi / c2) + eps);
  }
}

function sgd(out: Float32Array, v: Float32Array, g: Float32Array, lr: number): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = v[i]! - lr * g[i]!;
}

function momentumStep(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  acc: Float32Array,
  lr: number,
  momentum: number,
  nesterov: boolean,
): void {
  const n = out.length;
  if (nesterov) {
    for (let i = 0; i < n; i++) {
      const a = momentum * acc[i]! + g[i]!;
      acc[i] = a;
      out[i] = v[i]! - lr * (g[i]! + a * momentum);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const a = momentum * acc[i]! + g[i]!;
      acc[i] = a;
      out[i] = v[i]! - lr * a;
    }
  }
}

function adagrad(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  acc: Float32Array,
  lr: number,
  eps: number,
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const a = acc[i]! + gi * gi;
    acc[i] = a;
    out[i] = v[i]! - (lr * gi) / Math.sqrt(a + eps);
  }
}

/** As tf.train.adadelta: the step uses the squared-gradient average from before this step (TF.js's order). */
function adadelta(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  accG: Float32Array,
  accU: Float32Array,
  lr: number,
  rho: number,
  eps: number,
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const u = (Math.sqrt(accU[i]! + eps) / Math.sqrt(accG[i]! + eps)) * gi;
    accG[i] = rho * accG[i]! + (1 - rho) * gi * gi;
    accU[i] = rho * accU[i]! + (1 - rho) * u * u;
    out[i] = v[i]! - lr * u;
  }
}

function adamax(
  out: Float32Array,
  v: Float32Array,
  g: Float32Array,
  m: Float32Array,
  u: Float32Array,
  step: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + (1 - beta1) * gi;
    const ui = Math.max(beta2 * u[i]!, Math.abs(gi));
    m[i] = mi;
    u[i] = ui;
    out[i] = v[i]! - (step * mi) / (ui + eps);
  }
}

/** Heap offsets (in floats) of five views, for the accelerator's native update loops. */
function at(...views: Float32Array[]): [number, number, number, number, number] {
  return views.map((x) => x.byteOffset / 4) as [number, number, number, number, number];
}

interface RmsFields {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
  centered: boolean;
  accumulatedMeanSquares: Slot[];
  accumulatedMoments: Slot[];
  accumulatedMeanGrads: Slot[];
}

export class FusedRMSPropOptimizer extends tf.RMSPropOptimizer {
  override applyGradients(grads: Gradients): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as RmsFields;
    const { learningRate: lr, decay, momentum, epsilon: eps, centered } = f;
    const native = activeAddon();
    for (const { value, gradient, index, name } of updates(grads)) {
      const ms = slot(f.accumulatedMeanSquares, index, name, 'rms', value).variable;
      const mom = slot(f.accumulatedMoments, index, name, 'momentum', value).variable;
      const mg = centered ? slot(f.accumulatedMeanGrads, index, name, 'mg', value).variable : undefined;
      fusedStep(value, gradient, mg ? [ms, mom, mg] : [ms, mom], (out, v, g, [s, m, c]) => {
        if (c) rmspropCentered(out, v, g, s!, m!, c, lr, decay, momentum, eps);
        else if (native) native.rmsprop(out.buffer, out.length, ...at(out, v, g, s!, m!), lr, decay, momentum, eps);
        else rmsprop(out, v, g, s!, m!, lr, decay, momentum, eps);
      });
    }
    this.incrementIterations();
  }
}

interface AdamFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(grads: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as AdamFields;
    const { learningRate: lr, beta1, beta2, epsilon: eps } = f;
    const native = activeAddon();
    const acc1 = f.accBeta1.dataSync()[0]!;
    const acc2 = f.accBeta2.dataSync()[0]!;
    const c1 = 1 - acc1;
    const c2 = 1 - acc2;
    for (const { value, gradient, index, name } of updates(grads)) {
      const m1 = slot(f.accumulatedFirstMoment, index, name, 'm', value).variable;
      const m2 = slot(f.accumulatedSecondMoment, index, name, 'v', value).variable;
      fusedStep(value, gradient, [m1, m2], (out, v, g, [a, b]) => {
        if (native) native.adam(out.buffer, out.length, ...at(out, v, g, a!, b!), lr, beta1, beta2, eps, c1, c2);
        else adam(out, v, g, a!, b!, lr, beta1, beta2, eps, c1, c2);
      });
    }
    tf.tidy(() => {
      f.accBeta1.assign(tf.scalar(acc1 * beta1));
      f.accBeta2.assign(tf.scalar(acc2 * beta2));
    });
    this.incrementIterations();
  }
}

export class FusedSGDOptimizer extends tf.SGDOptimizer {
  override applyGradients(grads: Gradients): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const lr = this.learningRate;
    for (const { value, gradient } of updates(grads)) {
      fusedStep(value, gradient, [], (out, v, g) => sgd(out, v, g, lr));
    }
    this.incrementIterations();
  }
}

interface MomentumFields {
  learningRate: number;
  momentum: number;
  useNesterov: boolean;
  accumulations: Slot[];
}

export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(grads: Parameters<tf.MomentumOptimizer['applyGradients']>[0]): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as MomentumFields;
    const { learningRate: lr, momentum, useNesterov } = f;
    for (const { value, gradient, index, name } of updates(grads)) {
      const acc = slot(f.accumulations, index, name, 'momentum', value).variable;
      fusedStep(value, gradient, [acc], (out, v, g, [a]) => momentumStep(out, v, g, a!, lr, momentum, useNesterov));
    }
    this.incrementIterations();
  }
}

interface AdagradFields {
  learningRate: number;
  initialAccumulatorValue: number;
  accumulatedGrads: Slot[];
}

export class FusedAdagradOptimizer extends tf.AdagradOptimizer {
  override applyGradients(grads: Parameters<tf.AdagradOptimizer['applyGradients']>[0]): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as AdagradFields;
    const lr = f.learningRate;
    const eps = tf.backend().epsilon();
    for (const { value, gradient, index, name } of updates(grads)) {
      const acc = slot(f.accumulatedGrads, index, name, 'accumulator', value, f.initialAccumulatorValue).variable;
      fusedStep(value, gradient, [acc], (out, v, g, [a]) => adagrad(out, v, g, a!, lr, eps));
    }
    this.incrementIterations();
  }
}

interface AdadeltaFields {
  learningRate: number;
  rho: number;
  epsilon: number;
  accumulatedGrads: Slot[];
  accumulatedUpdates: Slot[];
}

export class FusedAdadeltaOptimizer extends tf.AdadeltaOptimizer {
  override applyGradients(grads: Parameters<tf.AdadeltaOptimizer['applyGradients']>[0]): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as AdadeltaFields;
    const { learningRate: lr, rho, epsilon: eps } = f;
    for (const { value, gradient, index, name } of updates(grads)) {
      const accG = slot(f.accumulatedGrads, index, name, 'accum_grad', value).variable;
      const accU = slot(f.accumulatedUpdates, index, name, 'accum_var', value).variable;
      fusedStep(value, gradient, [accG, accU], (out, v, g, [a, b]) => adadelta(out, v, g, a!, b!, lr, rho, eps));
    }
    this.incrementIterations();
  }
}

interface AdamaxFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  decay: number;
  iteration: tf.Variable;
  accBeta1: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedWeightedInfNorm: Slot[];
}

export class FusedAdamaxOptimizer extends tf.AdamaxOptimizer {
  override applyGradients(grads: Parameters<tf.AdamaxOptimizer['applyGradients']>[0]): void {
    if (!usable(grads)) {
      super.applyGradients(grads);
      return;
    }
    const f = this as unknown as AdamaxFields;
    const { learningRate: lr, beta1, beta2, epsilon: eps, decay } = f;
    const iteration = f.iteration.dataSync()[0]!;
    const acc1 = f.accBeta1.dataSync()[0]!;
    const step = lr / (iteration * decay + 1) / (1 - acc1);
    for (const { value, gradient, index, name } of updates(grads)) {
      const m = slot(f.accumulatedFirstMoment, index, name, 'm', value).variable;
      const u = slot(f.accumulatedWeightedInfNorm, index, name, 'v', value).variable;
      fusedStep(value, gradient, [m, u], (out, v, g, [a, b]) => adamax(out, v, g, a!, b!, step, beta1, beta2, eps));
    }
    tf.tidy(() => {
      f.iteration.assign(tf.scalar(iteration + 1));
      f.accBeta1.assign(tf.scalar(acc1 * beta1));
    });
    this.incrementIterations();
  }
}
