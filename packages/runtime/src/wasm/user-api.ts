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
import { DENSE } from './matmul.js';

type Train = typeof tf.train;
type Dropout = typeof tf.dropout;

type FusedConv2d = typeof tf.fused.conv2d;

/** The writable CommonJS exports of the tfjs-core instance that @tensorflow/tfjs (and tfjs-layers) use. */
interface CoreExports {
  train: Train;
  dropout: Dropout;
  fused: { conv2d: FusedConv2d };
  tensor1d: typeof tf.tensor1d;
}

/** The parts of tfjs-layers' Dense layer its call() uses. */
interface DenseInternals {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { getClassName(): string; apply(x: tf.Tensor): tf.Tensor } | null;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): void;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor | tf.Tensor[];
}

/** The engine internals the saved-tensor clone uses (tfjs-core's Engine; not in its public typings). */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  backend: unknown;
  state: { activeScope: { name: string } | null };
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  addTapeNode(
    scope: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradient: (dy: tf.Tensor) => Record<string, () => tf.Tensor>,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap,
  ): void;
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

  // model.fit turns its shuffled index array (a plain array of every sample number) into a tensor each epoch; TF.js
  // flattens a plain array by one recursive call per element (10-50 ms per 60k-sample epoch). A flat array of
  // numbers is copied into a typed array directly (same values; anything else, or DEBUG's checks, takes the stock path).
  const stockTensor1d = core.tensor1d;
  const tensor1d = (values: Parameters<typeof tf.tensor1d>[0], dtype?: tf.DataType): tf.Tensor1D => {
    if (!active() || !Array.isArray(values) || tf.env().getBool('DEBUG')) return stockTensor1d(values, dtype);
    if (dtype !== undefined && dtype !== 'float32' && dtype !== 'int32') return stockTensor1d(values, dtype);
    const typed = dtype === 'int32' ? new Int32Array(values.length) : new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (typeof v !== 'number') return stockTensor1d(values, dtype);
      typed[i] = v;
    }
    return stockTensor1d(typed, dtype ?? 'float32');
  };
  core.tensor1d = tensor1d;

  // Every kernel that records a gradient saves its inputs/outputs as clones (~18 per Dense-MLP training step); the
  // engine clones by dispatching the Identity kernel, which on wasm (with the fixes) only shares the buffer. Share it
  // directly and record the same tape node, without the kernel dispatch.
  const engine = tf.engine() as unknown as EngineInternals;
  const stockClone = engine.clone.bind(engine);
  engine.clone = (x: tf.Tensor): tf.Tensor => {
    if (!active() || x.dtype === 'string' || tf.env().getBool('DEBUG')) return stockClone(x);
    (engine.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    const y = engine.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype });
    const gradient = (dy: tf.Tensor) => ({
      x: () => tf.engine().runKernel('Cast', { x: dy }, { dtype: 'float32' }) as tf.Tensor,
    });
    engine.addTapeNode(engine.state.activeScope?.name ?? '', { x }, [y], gradient, [], {});
    return y;
  };

  installDense(active);
  installBatchLogger(active);
}

/** tfjs-layers' BaseLogger (not exported): the running sums fit keeps for the epoch's mean loss and metrics. */
interface BaseLoggerInternals {
  seen: number;
  totals: Record<string, number | tf.Tensor>;
  params: { metrics?: string[] };
  onBatchEnd(batch: number, logs?: Record<string, unknown>): Promise<void>;
  onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void>;
}

/** Per-logger keys whose sums are kept as float32 numbers here. */
const float32Sums = new WeakMap<BaseLoggerInternals, Set<string>>();

/**
 * fit's BaseLogger adds every batch's loss and metrics into tensors (a multiply, an add and a scalar upload per value
 * per batch). With the fixes on, a scalar float32 value is read and summed as a number with the same float32
 * rounding (sum + value * batch size), and the epoch mean is the same float32 product (1 / seen) * sum. The logger's
 * prototype is found when fit hands its callbacks their parameters (the class is not exported).
 */
function installBatchLogger(active: () => boolean): void {
  const list = tf.CallbackList.prototype as unknown as {
    setParams(params: unknown): void;
  };
  const stockSetParams = list.setParams;
  list.setParams = function (this: { callbacks: object[] }, params: unknown) {
    const logger = this.callbacks.find((c) => c.constructor.name === 'BaseLogger');
    if (logger) {
      list.setParams = stockSetParams;
      patchBaseLogger(Object.getPrototypeOf(logger) as BaseLoggerInternals, active);
    }
    stockSetParams.call(this, params);
  };
}

function patchBaseLogger(proto: BaseLoggerInternals, active: () => boolean): void {
  const stockBatchEnd = proto.onBatchEnd;
  const stockEpochEnd = proto.onEpochEnd;
  proto.onBatchEnd = async function (this: BaseLoggerInternals, batch, logs) {
    if (!active() || !logs) return stockBatchEnd.call(this, batch, logs);
    const size = typeof logs.size === 'number' ? logs.size : 0;
    let sums = float32Sums.get(this);
    const rest: Record<string, unknown> = {};
    for (const key in logs) {
      const value = logs[key];
      const total = this.totals[key];
      const scalar = value instanceof tf.Tensor && value.size === 1 && value.dtype === 'float32';
      if (scalar && (total === undefined || sums?.has(key))) {
        if (!sums) {
          sums = new Set();
          float32Sums.set(this, sums);
        }
        sums.add(key);
        const product = Math.fround(value.dataSync()[0]! * Math.fround(size));
        this.totals[key] = Math.fround(((total as number | undefined) ?? 0) + product);
      } else {
        rest[key] = value;
      }
    }
    // everything else (numbers such as batch and size, other tensors) the stock way; it also counts the batch size
    await stockBatchEnd.call(this, batch, rest);
  };
  proto.onEpochEnd = async function (this: BaseLoggerInternals, epoch, logs) {
    const sums = float32Sums.get(this);
    if (!sums || !logs) return stockEpochEnd.call(this, epoch, logs);
    float32Sums.delete(this);
    const means: Record<string, number> = {};
    for (const key of sums) {
      const total = this.totals[key] as number;
      means[key] = Math.fround(Math.fround(1 / this.seen) * total);
      delete this.totals[key];
    }
    await stockEpochEnd.call(this, epoch, logs);
    for (const key of this.params.metrics ?? []) if (key in means) logs[key] = means[key];
  };
}

/**
 * Keras's Dense on a batch of rows: one kernel for product, bias and relu/linear (other activations are applied after
 * it, as the stock layer does). Off the plain case (rank > 2 inputs, other dtypes, ELU, which TF.js fuses itself,
 * higher-order gradients) the stock call runs.
 */
function installDense(active: () => boolean): void {
  const proto = Object.getPrototypeOf(tf.layers.dense({ units: 1 })) as DenseInternals;
  const stockCall = proto.call;
  proto.call = function (this: DenseInternals, inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const name = this.activation?.getClassName() ?? 'linear';
    const usable =
      active() &&
      x instanceof tf.Tensor &&
      x.rank === 2 &&
      x.dtype === 'float32' &&
      x.shape[0]! > 0 &&
      name !== 'elu' &&
      tf.engine().state.gradientDepth <= 1 &&
      tf.getKernel(DENSE, tf.getBackend()) !== undefined;
    if (!usable) return stockCall.call(this, inputs, kwargs);
    const w = this.kernel.read();
    const bias = this.bias?.read();
    const plain =
      w.rank === 2 &&
      w.dtype === 'float32' &&
      w.shape[0] === x.shape[1] &&
      (!bias || (bias.rank === 1 && bias.dtype === 'float32' && bias.shape[0] === w.shape[1]));
    if (!plain) return stockCall.call(this, inputs, kwargs);
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      const fused = name === 'relu' ? 'relu' : 'linear';
      const out = tf.engine().runKernel(DENSE, bias ? { x, w, bias } : { x, w }, { activation: fused }) as tf.Tensor;
      return name === 'relu' || name === 'linear' || !this.activation ? out : this.activation.apply(out);
    });
  };
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

/** Fills the mask on the heap with xoshiro128** streams seeded by splitmix32 from the seed (in C with the addon). */
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

/**
 * The mask is drawn in blocks of MASK_BLOCK elements; element j of block b is the (j / MASK_LANES)-th draw of the
 * xoshiro128** stream number b * MASK_LANES + j % MASK_LANES, seeded by splitmix32 from seed + that number *
 * MASK_STREAM_STEP: the addon advances the lanes' streams side by side in a vector and splits blocks across threads.
 */
const MASK_BLOCK = 4096;
const MASK_LANES = 8;
const MASK_STREAM_STEP = 0x632be5ab;

function fillMask(out: Float32Array, keep: number, seed: number): void {
  const scale = 1 / keep;
  const cut = threshold(keep);
  const state = new Int32Array(4 * MASK_LANES);
  for (let start = 0, block = 0; start < out.length; start += MASK_BLOCK, block++) {
    for (let l = 0; l < MASK_LANES; l++) {
      let st = (seed + Math.imul(block * MASK_LANES + l, MASK_STREAM_STEP)) | 0;
      for (let k = 0; k < 4; k++) {
        let v: number;
        [st, v] = splitmix32(st);
        state[4 * l + k] = v;
      }
      if ((state[4 * l]! | state[4 * l + 1]! | state[4 * l + 2]! | state[4 * l + 3]!) === 0) state[4 * l] = 1;
    }
    const end = Math.min(out.length, start + MASK_BLOCK);
    for (let i = start; i < end; i++) {
      const s = 4 * ((i - start) % MASK_LANES);
      let a = state[s]!;
      let b = state[s + 1]!;
      let c = state[s + 2]!;
      let d = state[s + 3]!;
      const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      state[s] = a;
      state[s + 1] = b;
      state[s + 2] = c;
      state[s + 3] = d;
      out[i] = r >= cut ? scale : 0;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
