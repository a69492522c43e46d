/**
 * Memory-bound elementwise kernels of a convolution layer's training step, through the accelerator: the bias add
 * over [batch, h, w, c] and the relu gradient (the stock gradient runs Step, Cast and Multiply: three passes over the
 * layer's largest tensor instead of one).
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import { f32, type Kernel, type KernelArgs, sizeOf } from './backend-access.js';

export type ElementwiseNative = Pick<BlasAddon, 'addBias' | 'reluGrad'>;
export type ReluGradSumNative = Pick<BlasAddon, 'reluGradSum'>;

type Stock = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** A tensor that broadcasts along the last axis of `full` only: shape [c] or [1, ..., 1, c]. */
function isBiasFor(bias: tf.TensorInfo, full: tf.TensorInfo): boolean {
  const c = full.shape.at(-1);
  const s = bias.shape;
  return (
    c !== undefined &&
    s.length >= 1 &&
    s.length <= full.shape.length &&
    s.at(-1) === c &&
    s.slice(0, -1).every((d) => d === 1) &&
    sizeOf(full.shape) > c
  );
}

/** Add: the bias broadcast runs in the addon; every other case goes to the stock (XNNPACK) kernel. */
export function addKernel(native: ElementwiseNative, stock: Stock): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const [full, bias] = isBiasFor(b, a) ? [a, b] : isBiasFor(a, b) ? [b, a] : [undefined, undefined];
    if (!full || !bias) return stock(args);
    const { backend } = args;
    const out = backend.makeOutput(full.shape, 'float32');
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
    const inner = full.shape.at(-1)!;
    native.addBias(backend.wasm.HEAPU8.buffer, at(full), at(bias), at(out), sizeOf(full.shape) / inner, inner);
    return out;
  };
}

/** Kernel name of the fused relu gradient (registered for wasm only when the accelerator is active). */
export const RELU_GRAD = 'TuneserveReluGrad';

export function reluGradKernel(native: ElementwiseNative): Kernel {
  return ({ inputs, backend }) => {
    const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const dx = backend.makeOutput(x.shape, 'float32');
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
    native.reluGrad(backend.wasm.HEAPU8.buffer, at(dy), at(x), at(dx), sizeOf(x.shape));
    return dx;
  };
}

/**
 * Kernel name of the relu gradient fused with the sum over all but the last axis (a fused convolution's relu and
 * bias gradients): outputs [dx, sums]. Registered only with an addon that has it.
 */
export const RELU_GRAD_SUM = 'TuneserveReluGradSum';

/** With the addon one native pass; on pure wasm one JS pass (instead of Step, Multiply and a Sum over the layer). */
export function reluGradSumKernel(native?: ReluGradSumNative): Kernel {
  return ({ inputs, backend }) => {
    const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
    const inner = y.shape.at(-1)!;
    const dx = backend.makeOutput(y.shape, 'float32');
    const sums = backend.makeOutput([inner], 'float32');
    const rows = sizeOf(y.shape) / inner;
    if (!native) {
      reluGradSumJs(f32(backend, dy), f32(backend, y), f32(backend, dx), f32(backend, sums), rows, inner);
      return [dx, sums];
    }
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
    native.reluGradSum(backend.wasm.HEAPU8.buffer, at(dy), at(y), at(dx), at(sums), rows, inner);
    return [dx, sums];
  };
}

/** dx = dy * step(y), and the column sums of dx (accumulated in double, like the cpu backend's Sum). */
function reluGradSumJs(
  dy: Float32Array,
  y: Float32Array,
  dx: Float32Array,
  sums: Float32Array,
  rows: number,
  inner: number,
): void {
  const acc = new Float64Array(inner);
  for (let r = 0, o = 0; r < rows; r++, o += inner) {
    for (let c = 0; c < inner; c++) {
      // a product with the 0/1 step, as the stock gradient computes it: branch-free, 3x faster than `y > 0 ? dy : 0`
      // on relu outputs (about half zero, unpredictably)
      const d = dy[o + c]! * +(y[o + c]! > 0);
      dx[o + c] = d;
      acc[c]! += d;
    }
  }
  sums.set(acc);
}

let reluGradientInstalled = false;

/**
 * Routes Relu's gradient to the fused kernel whenever the active backend has it, and to TF.js's own gradient
 * otherwise (other backends, fixes off, float inputs of other dtypes, higher-order gradients).
 */
export function installReluGradient(): void {
  if (reluGradientInstalled) return;
  const stock = tf.getGradient('Relu');
  if (!stock) return;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const grad = dy as tf.Tensor;
      const x = saved[0]!;
      const fused =
        !Array.isArray(dy) &&
        x.dtype === 'float32' &&
        grad.dtype === 'float32' &&
        tf.engine().state.gradientDepth === 0 &&
        tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined;
      if (!fused) return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: grad, x }) as tf.Tensor };
    },
  });
  reluGradientInstalled = true;
}
