/**
 * Routes the TF.js entry points a plain user script meets to tuneserve's fused code while the wasm fixes are on:
 * `tf.train.*` (which `model.compile({optimizer: 'rmsprop'})` also calls) returns the fused optimizers,
 * `tf.dropout` (Keras's Dropout layer) draws its mask in one heap loop instead of TF.js's per-number JavaScript
 * generator plus four kernels, and `tf.fused.conv2d` (Keras's Conv2D) runs conv + bias + relu as one kernel. Both check at call time, so turning the fixes off (or another backend) gives the stock
 * behaviour back; the patch is installed once on the tfjs-core module instance @tensorflow/tfjs itself uses.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import type { Kernel } from './backend-access.js';
import { CONV_BIAS_ACT } from './conv.js';
import {
  FusedAdadeltaOptimizer,
  FusedAdagradOptimizer,
  FusedAdamaxOptimizer,
  FusedAdamOptimizer,
  FusedMomentumOptimizer,
  FusedRMSPropOptimizer,
  FusedSGDOptimizer,
} from './fused-optimizers.js';

type Train = typeof tf.train;
type Dropout = typeof tf.dropout;

type FusedConv2d = typeof tf.fused.conv2d;

/** The writable CommonJS exports of the tfjs-core instance that @tensorflow/tfjs (and tfjs-layers) use. */
interface CoreExports {
  train: Train;
  dropout: Dropout;
  fused: { conv2d: FusedConv2d };
}

function coreExports(): CoreExports {
  const fromTfjs = createRequire(createRequire(import.meta.url).resolve('@tensorflow/tfjs'));
  return fromTfjs('@tensorflow/tfjs-core') as CoreExports;
}

let installed = false;

/** Installs the call-time switches once; `active()` says whether the fused paths apply right now. */
export function installUserApi(active: () => boolean): void {
  if (installed) return;
  installed = true;
  const core = coreExports();
  const train = core.train;
  const stock = {
    sgd: train.sgd,
    momentum: train.momentum,
    rmsprop: train.rmsprop,
    adam: train.adam,
    adadelta: train.adadelta,
    adamax: train.adamax,
    adagrad: train.adagrad,
  };
  // Defaults are the stock constructors' (tfjs-core's OptimizerConstructors).
  train.sgd = (lr) => (active() ? new FusedSGDOptimizer(lr) : stock.sgd(lr));
  train.momentum = (lr, momentum, useNesterov = false) =>
    active() ? new FusedMomentumOptimizer(lr, momentum, useNesterov) : stock.momentum(lr, momentum, useNesterov);
  train.rmsprop = (lr, decay = 0.9, momentum = 0, epsilon?: number, centered = false) =>
    active()
      ? new FusedRMSPropOptimizer(lr, decay, momentum, epsilon, centered)
      : stock.rmsprop(lr, decay, momentum, epsilon, centered);
  train.adam = (lr = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number) =>
    active() ? new FusedAdamOptimizer(lr, beta1, beta2, epsilon) : stock.adam(lr, beta1, beta2, epsilon);
  train.adadelta = (lr = 0.001, rho = 0.95, epsilon?: number) =>
    active() ? new FusedAdadeltaOptimizer(lr, rho, epsilon) : stock.adadelta(lr, rho, epsilon);
  train.adamax = (lr = 0.002, beta1 = 0.9, beta2 = 0.999, epsilon?: number, decay = 0) =>
    active()
      ? new FusedAdamaxOptimizer(lr, beta1, beta2, epsilon, decay)
      : stock.adamax(lr, beta1, beta2, epsilon, decay);
  train.adagrad = (lr, initialAccumulatorValue = 0.1) =>
    active() ? new FusedAdagradOptimizer(lr, initialAccumulatorValue) : stock.adagrad(lr, initialAccumulatorValue);

  const stockDropout = core.dropout;
  const dropout = (x: tf.Tensor | tf.TensorLike, rate: number, noiseShape?: number[], seed?: number | string) => {
    const sameShape = noiseShape === undefined || (x instanceof tf.Tensor && sameDims(noiseShape, x.shape));
    if (!active() || !(x instanceof tf.Tensor) || x.dtype !== 'float32' || !(rate > 0 && rate < 1) || !sameShape) {
      return stockDropout(x, rate, noiseShape, seed);
    }
    return tf.tidy(() => {
      // no inputs: the mask is a constant for the tape (x's gradient flows through the product only)
      const attrs = { shape: x.shape, rate, seed: seedOf(seed) };
      const mask = tf.engine().runKernel(DROPOUT_MASK, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      return tf.mul(x, mask);
    });
  };
  core.dropout = dropout as Dropout;

  // Keras's Conv2D calls tf.fused.conv2d, which runs conv, add and relu as three kernels whenever gradients are
  // recorded (every training step); route the common case to one fused kernel with its own gradient.
  const stockConv = core.fused.conv2d;
  const conv = (args: Parameters<FusedConv2d>[0]): tf.Tensor => {
    const { x, filter, bias, activation = 'linear', dataFormat = 'NHWC', dilations = [1, 1] } = args;
    const unitDilation = typeof dilations === 'number' ? dilations === 1 : dilations.every((d) => d === 1);
    const usable =
      active() &&
      (activation === 'linear' || activation === 'relu') &&
      args.preluActivationWeights === undefined &&
      dataFormat === 'NHWC' &&
      unitDilation &&
      x instanceof tf.Tensor &&
      x.rank === 4 &&
      x.dtype === 'float32' &&
      filter instanceof tf.Tensor &&
      filter.rank === 4 &&
      filter.dtype === 'float32' &&
      bias instanceof tf.Tensor &&
      bias.dtype === 'float32' &&
      bias.rank === 1 &&
      bias.shape[0] === filter.shape[3];
    if (!usable) return stockConv(args);
    const attrs = { strides: args.strides, pad: args.pad, dimRoundingMode: args.dimRoundingMode, activation };
    return tf.engine().runKernel(CONV_BIAS_ACT, { x, filter, bias }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  };
  core.fused.conv2d = conv as FusedConv2d;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Kernel name of the dropout mask (wasm only): 0 or 1/(1 - rate) per element of `shape`. */
export const DROPOUT_MASK = 'TuneserveDropoutMask';

/** A fixed seed gives a fixed mask, as in TF.js; without one every call draws a new 32-bit seed. */
function seedOf(seed: number | string | undefined): number {
  if (seed === undefined) return (Math.random() * 2 ** 32) >>> 0;
  if (typeof seed === 'number') return seed >>> 0;
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Fills the mask on the heap with a xoshiro128** stream seeded by splitmix32 from the seed (in C with the addon). */
export function dropoutMaskKernel(native?: Pick<BlasAddon, 'dropoutMask'>): Kernel {
  return ({ backend, attrs }) => {
    const keep = 1 - (attrs?.rate as number);
    const out = backend.makeOutput(attrs?.shape as number[], 'float32');
    const seed = attrs?.seed as number;
    const view = backend.typedArrayFromHeap(out) as Float32Array;
    if (native) native.dropoutMask(view.buffer, view.byteOffset / 4, view.length, threshold(keep), 1 / keep, seed);
    else fillMask(view, keep, seed);
    return out;
  };
}

/** Keep an element when its uniform draw u in [0, 1) satisfies floor(u + keep) = 1, i.e. u >= 1 - keep. */
function threshold(keep: number): number {
  return Math.min(2 ** 32 - 1, Math.ceil((1 - keep) * 2 ** 32));
}

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [next, (z ^ (z >>> 16)) >>> 0];
}

function fillMask(out: Float32Array, keep: number, seed: number): void {
  let st = seed | 0;
  let a: number;
  let b: number;
  let c: number;
  let d: number;
  [st, a] = splitmix32(st);
  [st, b] = splitmix32(st);
  [st, c] = splitmix32(st);
  [st, d] = splitmix32(st);
  if ((a | b | c | d) === 0) a = 1;
  const scale = 1 / keep;
  const cut = threshold(keep);
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    out[i] = r >= cut ? scale : 0;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
