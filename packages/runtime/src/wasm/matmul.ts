/**
 * Matrix products for the wasm backend. Pure wasm: operands that are transposed are first transposed explicitly,
 * because the stock kernel's transposed path runs ~15x slower than its plain one. With the OpenBLAS addon: one
 * cblas_sgemm call working directly on the wasm heap, with bias and relu fused for _FusedMatMul.
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import { f32, type Kernel, type KernelArgs, offsetOf, sizeOf, type WasmBackend } from './backend-access.js';
import { RELU_GRAD, RELU_GRAD_SUM } from './elementwise.js';

export type StockKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

export interface MatmulDeps {
  stockMatMul: StockKernel;
  stockTranspose: StockKernel;
  blas?: BlasAddon;
}

interface Plan {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
  outShape: number[];
}

function plan(a: tf.TensorInfo, b: tf.TensorInfo, transA: boolean, transB: boolean): Plan | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = sizeOf(outerA);
  const batchB = sizeOf(outerB);
  // Only equal batch dims or a single matrix on one side; other broadcasts go to the stock kernel.
  let outer: number[];
  if (batchA === batchB && outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else return undefined;
  return { batch: Math.max(batchA, batchB), batchA, batchB, m, n, k, outShape: [...outer, m, n] };
}

/** C = op(A) @ op(B) with OpenBLAS on the heap; returns a new [..., m, n] tensor. */
export function blasMatMul(
  backend: WasmBackend,
  blas: BlasAddon,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
  p: Plan,
): tf.TensorInfo {
  const out = backend.makeOutput(p.outShape, 'float32');
  const { m, n, k } = p;
  blas.sgemm(
    backend.wasm.HEAPU8.buffer,
    transA,
    transB,
    m,
    n,
    k,
    offsetOf(backend, a) / 4,
    transA ? m : k,
    p.batchA === 1 ? 0 : m * k,
    offsetOf(backend, b) / 4,
    transB ? k : n,
    p.batchB === 1 ? 0 : k * n,
    offsetOf(backend, out) / 4,
    n,
    m * n,
    p.batch,
    1,
    0,
  );
  return out;
}

/**
 * Swaps the last two axes. float32 goes through a cache-blocked JS loop on the heap: the stock wasm Transpose is a
 * generic strided loop, ~0.5 ms for a 128x784 batch against ~0.14 ms here (it sat on every Dense weight gradient).
 */
function transposeLast2(backend: WasmBackend, stockTranspose: StockKernel, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  if (x.dtype !== 'float32') {
    const perm = [...Array(rank).keys()];
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    return stockTranspose({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
  }
  const rows = x.shape[rank - 2]!;
  const cols = x.shape[rank - 1]!;
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], 'float32');
  // Views only after the allocation (malloc may grow the heap).
  const src = f32(backend, x);
  const dst = f32(backend, out);
  const block = 16;
  const matrix = rows * cols;
  for (let base = 0; base < src.length; base += matrix) {
    for (let i0 = 0; i0 < rows; i0 += block) {
      const ie = Math.min(i0 + block, rows);
      for (let j0 = 0; j0 < cols; j0 += block) {
        const je = Math.min(j0 + block, cols);
        for (let i = i0; i < ie; i++) {
          const from = base + i * cols;
          for (let j = j0; j < je; j++) dst[base + j * rows + i] = src[from + j]!;
        }
      }
    }
  }
  return out;
}

/** Any matmul: BLAS when available, else stock kernel on explicitly transposed operands. */
export function matMul(
  deps: MatmulDeps,
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transA: boolean,
  transB: boolean,
): tf.TensorInfo {
  const p = plan(a, b, transA, transB);
  if (deps.blas && p && a.dtype === 'float32' && b.dtype === 'float32') {
    return blasMatMul(backend, deps.blas, a, b, transA, transB, p);
  }
  if (!transA && !transB) {
    return deps.stockMatMul({
      inputs: { a, b },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
  }
  const at = transA ? transposeLast2(backend, deps.stockTranspose, a) : a;
  const bt = transB ? transposeLast2(backend, deps.stockTranspose, b) : b;
  try {
    return deps.stockMatMul({
      inputs: { a: at, b: bt },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
  } finally {
    if (at !== a) backend.disposeData(at.dataId);
    if (bt !== b) backend.disposeData(bt.dataId);
  }
}

export function batchMatMulKernel(deps: MatmulDeps): Kernel {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return deps.stockMatMul(args);
    return matMul(deps, args.backend, a, b, Boolean(args.attrs?.transposeA), Boolean(args.attrs?.transposeB));
  };
}

/** _FusedMatMul (Dense forward): BLAS product plus per-column bias and linear/relu in one pass. */
export function fusedMatMulKernel(deps: MatmulDeps, stockFused: StockKernel): Kernel {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const transA = Boolean(args.attrs?.transposeA);
    const transB = Boolean(args.attrs?.transposeB);
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    const p = a && b ? plan(a, b, transA, transB) : undefined;
    const simple =
      deps.blas &&
      p &&
      a?.dtype === 'float32' &&
      b?.dtype === 'float32' &&
      !preluActivationWeights &&
      (activation === 'linear' || activation === 'relu') &&
      (!bias || sizeOf(bias.shape) === p.n || sizeOf(bias.shape) === 1);
    if (!simple || !deps.blas || !p || !a || !b) {
      if (!transA && !transB) return stockFused(args);
      const { backend } = args;
      const at = transA ? transposeLast2(backend, deps.stockTranspose, a!) : a!;
      const bt = transB ? transposeLast2(backend, deps.stockTranspose, b!) : b!;
      try {
        return stockFused({
          ...args,
          inputs: { ...args.inputs, a: at, b: bt },
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
        });
      } finally {
        if (at !== a) backend.disposeData(at.dataId);
        if (bt !== b) backend.disposeData(bt.dataId);
      }
    }
    const { backend } = args;
    const out = blasMatMul(backend, deps.blas, a, b, transA, transB, p);
    addBiasAct(backend, out, bias, p.n, activation === 'relu');
    return out;
  };
}

/** y[r, j] = act(y[r, j] + bias[j]) in place over rows of n (bias of n values or 1; none skips the add). */
function addBiasAct(
  backend: WasmBackend,
  out: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  n: number,
  relu: boolean,
) {
  if (!bias && !relu) return;
  const y = f32(backend, out);
  if (!bias) {
    reluInPlace(y);
    return;
  }
  const bv = f32(backend, bias);
  if (bv.length === 1) {
    const b = bv[0]!;
    for (let i = 0; i < y.length; i++) {
      const v = y[i]! + b;
      y[i] = relu && v < 0 ? 0 : v;
    }
  } else if (relu) addBiasRelu(y, bv, n);
  else addBias(y, bv, n);
}

// Separate monomorphic loops: the Dense forward runs them on every step.
function reluInPlace(y: Float32Array): void {
  for (let i = 0; i < y.length; i++) if (y[i]! < 0) y[i] = 0;
}

function addBiasRelu(y: Float32Array, bias: Float32Array, n: number): void {
  for (let i = 0; i < y.length; i += n) {
    for (let j = 0; j < n; j++) {
      const v = y[i + j]! + bias[j]!;
      // biome-ignore lint/complexity/useMathMinMax: the compare runs ~20% faster here than Math.max
      y[i + j] = v < 0 ? 0 : v;
    }
  }
}

function addBias(y: Float32Array, bias: Float32Array, n: number): void {
  for (let i = 0; i < y.length; i += n) for (let j = 0; j < n; j++) y[i + j]! += bias[j]!;
}

/**
 * Keras's Dense layer in training: y = act(x @ w + bias) as one kernel. TF.js runs a non-linear fused matMul as
 * separate matMul, add and relu kernels whenever gradients are recorded (each saving its operands), and a softmax
 * layer as matMul plus a bias add; the gradient below is three kernels (relu gradient with the bias sums, and the two
 * products). Inputs: x [m, k], w [k, n], optional bias [n]; attrs: activation 'linear' | 'relu'.
 */
export const DENSE = 'TuneserveDense';

export function denseKernel(blas: BlasAddon): Kernel {
  return (args) => {
    const { x, w, bias } = args.inputs as { x: tf.TensorInfo; w: tf.TensorInfo; bias?: tf.TensorInfo };
    const p = plan(x, w, false, false);
    if (!p || x.shape.length !== 2 || w.shape.length !== 2 || (bias && sizeOf(bias.shape) !== p.n)) {
      throw new Error(`${DENSE}: expected x [m, k], w [k, n] and bias [n], got ${x.shape}, ${w.shape}, ${bias?.shape}`);
    }
    const out = blasMatMul(args.backend, blas, x, w, false, false, p);
    addBiasAct(args.backend, out, bias, p.n, args.attrs?.activation === 'relu');
    return out;
  };
}

let denseGradientInstalled = false;

/** dz = dy * step(y) (relu) or dy; dx = dz @ w^T, dw = x^T @ dz, dbias = column sums of dz. */
export function installDenseGradient(): void {
  if (denseGradientInstalled) return;
  denseGradientInstalled = true;
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
    tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;
  const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
  tf.registerGradient({
    kernelName: DENSE,
    inputsToSave: ['x', 'w'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, w, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const grad = dy as tf.Tensor;
      const relu = (attrs as { activation?: string }).activation === 'relu';
      let dz = grad;
      let dbias: tf.Tensor | undefined;
      if (relu && hasKernel(RELU_GRAD_SUM)) {
        const [masked, sums] = tf.engine().runKernel(RELU_GRAD_SUM, { dy: grad, y }) as tf.Tensor[];
        dz = masked!;
        dbias = sums;
      } else if (relu) dz = run(RELU_GRAD, { dy: grad, x: y });
      const sums = () => dbias ?? run('Sum', { x: dz }, { axis: [0], keepDims: false });
      return {
        x: () => run('BatchMatMul', { a: dz, b: w }, { transposeA: false, transposeB: true }),
        w: () => run('BatchMatMul', { a: x, b: dz }, { transposeA: true, transposeB: false }),
        bias: sums,
      };
    },
  });
}
