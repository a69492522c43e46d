/**
 * The loss, metric and softmax gradient a plain Keras classifier meets on every training step, each as one kernel.
 * TF.js computes `loss: 'sparseCategoricalCrossentropy'` as ~14 kernels (floor, cast, clip, one-hot, sum, div, clip,
 * log, mul, sum, neg ...) whose gradients are ~35 more, the `'accuracy'` metric as 5 and Softmax's gradient as 4:
 * on a small model each kernel's dispatch costs more than its arithmetic. `compile` is patched so that these string
 * names get the fused functions; they check at call time and fall back to the stock functions whenever the fixes are
 * off, the backend is not wasm or the shapes are not the plain case. Values and gradients follow TF.js's formulas
 * (the same two clips to [epsilon, 1 - epsilon] and the renormalisation), so results match the stock path.
 */
import * as tf from '@tensorflow/tfjs';
import { type Kernel, sizeOf } from './backend-access.js';

export const SPARSE_CROSSENTROPY = 'TuneserveSparseCrossentropy';
export const SPARSE_CROSSENTROPY_GRAD = 'TuneserveSparseCrossentropyGrad';
export const SPARSE_ACCURACY = 'TuneserveSparseAccuracy';
export const SOFTMAX_GRAD = 'TuneserveSoftmaxGrad';
export const MEAN_ALL_GRAD = 'TuneserveMeanAllGrad';

type Loss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Rows x classes of the predictions, when the labels hold one value per row (shape [rows] or [rows, 1]). */
function classes(labels: tf.TensorInfo, probs: tf.TensorInfo): { rows: number; width: number } | undefined {
  const width = probs.shape.at(-1);
  if (probs.shape.length < 2 || width === undefined || width < 2) return undefined;
  const rows = sizeOf(probs.shape) / width;
  return sizeOf(labels.shape) === rows ? { rows, width } : undefined;
}

function heapViews(args: Parameters<Kernel>[0], ...ts: tf.TensorInfo[]): (Float32Array | Int32Array)[] {
  return ts.map((t) => args.backend.typedArrayFromHeap(t) as Float32Array | Int32Array);
}

/** TF.js floors the label and one-hot encodes it; a label outside [0, width) gives an all-zero row (loss 0). */
function labelAt(labels: Float32Array | Int32Array, r: number, width: number): number {
  const l = Math.floor(labels[r]!);
  return l >= 0 && l < width ? l : -1;
}

/** loss[r] = -log(clip(a[l] / sum(a))) with a = clip(probs[r]) and l the row's label. */
export const sparseCrossentropyKernel: Kernel = (args) => {
  const { labels, probs } = args.inputs as { labels: tf.TensorInfo; probs: tf.TensorInfo };
  const { rows, width } = classes(labels, probs)!;
  const lo = Math.fround(args.attrs?.epsilon as number);
  const hi = Math.fround(1 - (args.attrs?.epsilon as number));
  const out = args.backend.makeOutput(probs.shape.slice(0, -1), 'float32');
  const [y, p, loss] = heapViews(args, labels, probs, out) as [Float32Array | Int32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    const l = labelAt(y, r, width);
    if (l < 0) {
      loss[r] = 0;
      continue;
    }
    let sum = 0;
    for (let j = r * width; j < (r + 1) * width; j++) sum += Math.min(hi, Math.max(lo, p[j]!));
    const b = Math.min(hi, Math.max(lo, p[r * width + l]!)) / sum;
    loss[r] = -Math.log(Math.min(hi, Math.max(lo, b)));
  }
  return out;
};

/** The gradient through both clips and the renormalisation (each clip passes where lo <= value <= hi, as TF.js's). */
export const sparseCrossentropyGradKernel: Kernel = (args) => {
  const { dy, labels, probs } = args.inputs as { dy: tf.TensorInfo; labels: tf.TensorInfo; probs: tf.TensorInfo };
  const { rows, width } = classes(labels, probs)!;
  const lo = Math.fround(args.attrs?.epsilon as number);
  const hi = Math.fround(1 - (args.attrs?.epsilon as number));
  const out = args.backend.makeOutput(probs.shape, 'float32');
  const [g, y, p, dp] = heapViews(args, dy, labels, probs, out) as [
    Float32Array,
    Float32Array | Int32Array,
    Float32Array,
    Float32Array,
  ];
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const l = labelAt(y, r, width);
    let sum = 0;
    for (let j = base; j < base + width; j++) sum += Math.min(hi, Math.max(lo, p[j]!));
    const a = l < 0 ? 0 : Math.min(hi, Math.max(lo, p[base + l]!));
    const b = a / sum;
    // d loss / d b (zero where the second clip saturates), then through b = a[l] / sum(a)
    const db = l < 0 || b < lo || b > hi ? 0 : -g[r]! / Math.min(hi, Math.max(lo, b));
    const common = (-db * a) / (sum * sum);
    for (let j = 0; j < width; j++) {
      const v = p[base + j]!;
      const da = (j === l ? db / sum : 0) + common;
      dp[base + j] = v >= lo && v <= hi ? da : 0;
    }
  }
  return out;
};

/** 1 where the first maximum of the row is at the label's value, else 0 (argMax, cast, equal, cast). */
export const sparseAccuracyKernel: Kernel = (args) => {
  const { labels, probs } = args.inputs as { labels: tf.TensorInfo; probs: tf.TensorInfo };
  const { rows, width } = classes(labels, probs)!;
  const out = args.backend.makeOutput(probs.shape.slice(0, -1), 'float32');
  const [y, p, acc] = heapViews(args, labels, probs, out) as [Float32Array | Int32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < width; j++) if (p[r * width + j]! > p[r * width + best]!) best = j;
    acc[r] = y[r] === best ? 1 : 0;
  }
  return out;
};

/** dx = y * (dy - sum(dy * y)) along the last axis. */
export const softmaxGradKernel: Kernel = (args) => {
  const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const width = y.shape.at(-1)!;
  const rows = sizeOf(y.shape) / width;
  const out = args.backend.makeOutput(y.shape, 'float32');
  const [g, s, dx] = heapViews(args, dy, y, out) as [Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let dot = 0;
    for (let j = base; j < base + width; j++) dot += g[j]! * s[j]!;
    for (let j = base; j < base + width; j++) dx[j] = s[j]! * (g[j]! - dot);
  }
  return out;
};

/** The gradient of a mean over every element: dy / size everywhere (TF.js: reshape, ones, mul, div). */
export const meanAllGradKernel: Kernel = (args) => {
  const { dy } = args.inputs as { dy: tf.TensorInfo };
  const shape = args.attrs?.shape as number[];
  const out = args.backend.makeOutput(shape, 'float32');
  const [g, dx] = heapViews(args, dy, out) as [Float32Array, Float32Array];
  // one float32 division, as the stock RealDiv of dy by the float32 element count
  dx.fill(Math.fround(g[0]! / Math.fround(sizeOf(shape))));
  return out;
};

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

function fusedSparseCrossentropy(stock: Loss, active: () => boolean): Loss {
  return (yTrue, yPred) => {
    // float labels only: TF.js's floor rejects int32 labels, and so must this
    if (!active() || !hasKernel(SPARSE_CROSSENTROPY) || yTrue.dtype !== 'float32' || yPred.dtype !== 'float32') {
      return stock(yTrue, yPred);
    }
    if (!classes(yTrue, yPred)) return stock(yTrue, yPred);
    const attrs = { epsilon: tf.backend().epsilon() };
    return tf.engine().runKernel(SPARSE_CROSSENTROPY, { labels: yTrue, probs: yPred }, attrs) as tf.Tensor;
  };
}

function fusedSparseAccuracy(stock: Loss, active: () => boolean): Loss {
  return (yTrue, yPred) => {
    if (
      !active() ||
      !hasKernel(SPARSE_ACCURACY) ||
      (yTrue.dtype !== 'float32' && yTrue.dtype !== 'int32') ||
      yPred.dtype !== 'float32'
    ) {
      return stock(yTrue, yPred);
    }
    if (!classes(yTrue, yPred)) return stock(yTrue, yPred);
    return tf.engine().runKernel(SPARSE_ACCURACY, { labels: yTrue, probs: yPred }) as tf.Tensor;
  };
}

interface CompiledModel {
  outputs: unknown[];
  lossFunctions: Loss[];
  metricsTensors: [Loss, number][];
  metricsNames: string[];
  internalOutputShapes: (number | null)[][];
}

let installed = false;

/**
 * After `compile`, a single-output model whose loss is the string 'sparseCategoricalCrossentropy' gets the fused loss,
 * and its 'accuracy'/'acc' metric (which Keras then resolves to sparse categorical accuracy) the fused metric.
 */
export function installFusedLosses(active: () => boolean): void {
  if (installed) return;
  installed = true;
  const proto = tf.LayersModel.prototype as unknown as { compile(args: tf.ModelCompileArgs): void };
  const stockCompile = proto.compile;
  proto.compile = function (this: CompiledModel, args: tf.ModelCompileArgs) {
    stockCompile.call(this, args);
    const lossName = Array.isArray(args.loss) && args.loss.length === 1 ? args.loss[0] : args.loss;
    const width = this.internalOutputShapes[0]?.at(-1);
    if (this.outputs.length !== 1 || lossName !== 'sparseCategoricalCrossentropy' || !(width && width > 1)) return;
    const loss = this.lossFunctions[0]!;
    this.lossFunctions[0] = fusedSparseCrossentropy(loss, active);
    const metrics = Array.isArray(args.metrics) ? args.metrics : [];
    for (const [i, entry] of this.metricsTensors.entries()) {
      const named = this.metricsNames[i + 1] === 'acc' && metrics.some((m) => m === 'acc' || m === 'accuracy');
      if (named) this.metricsTensors[i] = [fusedSparseAccuracy(entry[0], active), entry[1]];
    }
  };

  tf.registerGradient({
    kernelName: SPARSE_CROSSENTROPY,
    inputsToSave: ['labels', 'probs'],
    gradFunc: (dy, saved, attrs) => {
      const [labels, probs] = saved as [tf.Tensor, tf.Tensor];
      return {
        labels: () => tf.zerosLike(labels),
        probs: () =>
          tf.engine().runKernel(SPARSE_CROSSENTROPY_GRAD, { dy: dy as tf.Tensor, labels, probs }, attrs) as tf.Tensor,
      };
    },
  });

  // Keras's total loss is the mean over the batch of the per-sample losses: its gradient as one kernel
  const stockMean = tf.getGradient('Mean');
  if (stockMean) {
    tf.registerGradient({
      kernelName: 'Mean',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const x = saved[0]!;
        const grad = dy as tf.Tensor;
        const fused =
          active() &&
          !Array.isArray(dy) &&
          grad.size === 1 &&
          grad.dtype === 'float32' &&
          x.dtype === 'float32' &&
          x.size > 0 &&
          tf.engine().state.gradientDepth === 0 &&
          hasKernel(MEAN_ALL_GRAD);
        if (!fused) return stockMean.gradFunc(dy, saved, attrs);
        return { x: () => tf.engine().runKernel(MEAN_ALL_GRAD, { dy: grad }, { shape: x.shape }) as tf.Tensor };
      },
    });
  }

  const stockSoftmax = tf.getGradient('Softmax');
  if (!stockSoftmax) return;
  tf.registerGradient({
    kernelName: 'Softmax',
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const grad = dy as tf.Tensor;
      const y = saved[0]!;
      const dim = (attrs as { dim?: number }).dim;
      const fused =
        active() &&
        !Array.isArray(dy) &&
        y.dtype === 'float32' &&
        grad.dtype === 'float32' &&
        (dim === -1 || dim === y.rank - 1) &&
        tf.engine().state.gradientDepth === 0 &&
        hasKernel(SOFTMAX_GRAD);
      if (!fused) return stockSoftmax.gradFunc(dy, saved, attrs);
      return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { dy: grad, y }) as tf.Tensor };
    },
  });
}
