/** Loads the optional OpenBLAS N-API addon (built at install by native/build.mjs); absent means pure wasm. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { booleanEnv } from '../env.js';
import { BackendError } from '../errors.js';

/**
 * The addon's convolution calls share one argument list: (heap, image, filter, rows, cols, geometry, co, bias, relu),
 * offsets in floats; `rows` is the [P, co] side (y or dy), cols/bias -1 when not used.
 */
type ConvCall = (
  heap: ArrayBufferLike,
  image: number,
  filter: number,
  rows: number,
  cols: number,
  geometry: Int32Array,
  co: number,
  bias: number,
  relu: boolean,
) => void;

/** The addon's functions; all offsets and strides are in float32 elements of the given heap buffer. */
export interface BlasAddon {
  /** Batched C[i] = alpha * op(A[i]) @ op(B[i]) + beta * C[i], row-major, in place on `heap` (offsets from its start). */
  sgemm(
    heap: ArrayBufferLike | Float32Array,
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    strideA: number,
    b: number,
    ldb: number,
    strideB: number,
    c: number,
    ldc: number,
    strideC: number,
    batch: number,
    alpha: number,
    beta: number,
  ): void;
  /** cols[P, K] from an NHWC image; geometry = batch, inH, inW, inC, outH, outW, fH, fW, strideH, strideW, padTop, padLeft. */
  im2col(heap: ArrayBufferLike, x: number, cols: number, geometry: Int32Array): void;
  /** dx (zeroed first) = scatter-add of cols[P, K]; same geometry as im2col. */
  col2im(heap: ArrayBufferLike, cols: number, dx: number, geometry: Int32Array): void;
  /**
   * y[P, co] = im2col(x) @ w[K, co] (+ bias[co] when bias >= 0, then max(0, .) when relu), band by band of images
   * (a band's windows and outputs stay in cache); with cols >= 0 the whole window matrix is also kept there.
   */
  conv2d: ConvCall;
  /** out[i] = scale where the i-th xoshiro128** draw (seeded from seed) is >= threshold, else 0, over n floats. */
  dropoutMask(heap: ArrayBufferLike, out: number, n: number, threshold: number, scale: number, seed: number): void;
  /** dx = col2im(dy[P, co] @ w[K, co]^T), called as (heap, dx, w, dy, -1, geometry, co, -1, false). */
  conv2dInputGrad: ConvCall;
  /**
   * dw[K, co] = im2col(x)^T @ dy[P, co], band by band of images with per-part sums added in order, called as
   * (heap, x, dw, dy, -1, geometry, co, -1, false); absent in addons built before it.
   */
  conv2dFilterGrad?: ConvCall;
  /** dx (zeroed first) for max pooling; geometry as im2col with the pool size as filter size. */
  maxPoolGrad(heap: ArrayBufferLike, x: number, dy: number, dx: number, geometry: Int32Array): void;
  /** y = window maxima; with argmax >= 0 also each window's first-maximum offset into x as int32 (-1 skips it). */
  maxPool(heap: ArrayBufferLike, x: number, y: number, argmax: number, geometry: Int32Array): void;
  /** dx (size floats, zeroed first) += dy[i] at int32 index[i]; each of `images` parts scatters within its own part. */
  scatterAdd(
    heap: ArrayBufferLike,
    dy: number,
    index: number,
    dx: number,
    n: number,
    size: number,
    images: number,
  ): void;
  /** out[r, j] = x[r, j] + bias[j] over rows x inner floats. */
  addBias(heap: ArrayBufferLike, x: number, bias: number, out: number, rows: number, inner: number): void;
  /** dx = x > 0 ? dy : 0 over n floats. */
  reluGrad(heap: ArrayBufferLike, dy: number, x: number, dx: number, n: number): void;
  /** dx = dy * step(y) over rows x inner floats and sums[j] = sum over rows of dx[r, j] (double accumulation). */
  reluGradSum(
    heap: ArrayBufferLike,
    dy: number,
    y: number,
    dx: number,
    sums: number,
    rows: number,
    inner: number,
  ): void;
  /** One RMSprop step over n floats (offsets: out, value, gradient, mean square, moment); state in place. */
  rmsprop(
    heap: ArrayBufferLike,
    n: number,
    out: number,
    value: number,
    gradient: number,
    meanSquare: number,
    moment: number,
    lr: number,
    decay: number,
    momentum: number,
    epsilon: number,
  ): void;
  /** One Adam step over n floats (offsets: out, value, gradient, m, v); c1/c2 are the bias corrections. */
  adam(
    heap: ArrayBufferLike,
    n: number,
    out: number,
    value: number,
    gradient: number,
    m: number,
    v: number,
    lr: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    c1: number,
    c2: number,
  ): void;
  /** out[j] = sum over r < rows of x[r * inner + j] (double accumulation). */
  sumRows(heap: ArrayBufferLike, x: number, out: number, rows: number, inner: number): void;
  /** Most threads a GEMM may use; only large products (convolutions) use more than one. */
  setThreads(n: number): void;
  /** The kernel set OpenBLAS picked at load ("Haswell", "SkylakeX", ...); absent in addons built before it. */
  blasCore?(): string;
  /** Inference (native/tuneserve_infer.c, calling thread only): y = relu?(conv(x, w) + bias), direct, NHWC. */
  inferConv2d?(
    ws: Float32Array,
    x: number,
    w: number,
    y: number,
    geometry: Int32Array,
    co: number,
    bias: number,
    relu: boolean,
  ): void;
  /** Inference: y = window maxima of NHWC images. */
  inferMaxPool?(ws: Float32Array, x: number, y: number, geometry: Int32Array): void;
  /** Inference: C[m, n] = A[m, k] @ B[k, n] row-major, register-blocked for a few rows. */
  inferDense?(ws: Float32Array, m: number, n: number, k: number, a: number, b: number, c: number): void;
  /** Inference: the kernel set in use ("avx512" | "avx2" | "baseline"); with a name this CPU runs, switches first. */
  inferIsa?(name?: string): string;
}

export interface AcceleratorStatus {
  loaded: boolean;
  reason: string;
  addon?: BlasAddon;
}

export const ADDON_PATH = fileURLToPath(new URL('../../native/build/tuneserve_blas.node', import.meta.url));

let cached: AcceleratorStatus | undefined;

/** TUNESERVE_BLAS_THREADS as a thread count: unset or invalid means one per available core. */
export function blasThreadsFromEnv(value: string | undefined): number {
  const n = Math.floor(Number(value));
  return value !== undefined && value !== '' && Number.isFinite(n) && n >= 1 ? n : availableParallelism();
}

export function loadAccelerator(): AcceleratorStatus {
  if (cached) return cached;
  if (!booleanEnv('TUNESERVE_ACCELERATOR', true, (message) => new BackendError(message))) {
    cached = { loaded: false, reason: `TUNESERVE_ACCELERATOR=${process.env.TUNESERVE_ACCELERATOR}` };
  } else if (!existsSync(ADDON_PATH)) {
    cached = { loaded: false, reason: 'OpenBLAS addon not built (needs gcc and libopenblas-dev at npm install)' };
  } else {
    try {
      const addon = createRequire(import.meta.url)(ADDON_PATH) as BlasAddon;
      // Every core by default, as OpenBLAS itself does; only large products (convolutions, wide layers) and the
      // convolution's memory-bound kernels use them, so the reference MLP stays on one thread. Set
      // TUNESERVE_BLAS_THREADS=1 when one process per core already runs (several tuning workers on one machine).
      const threads = blasThreadsFromEnv(process.env.TUNESERVE_BLAS_THREADS);
      addon.setThreads(threads);
      cached = {
        loaded: true,
        reason: `OpenBLAS addon loaded${addon.blasCore ? ` (${addon.blasCore()} kernels)` : ''}${threads > 1 ? `, up to ${threads} BLAS threads for large GEMMs` : ''}`,
        addon,
      };
    } catch (e) {
      cached = { loaded: false, reason: `OpenBLAS addon failed to load: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  return cached;
}

/**
 * Sets how many threads large products (≥ 16M multiply-adds, split into row bands) and the convolution kernels may use
 * from now on; returns false when the addon is not loaded. Overrides TUNESERVE_BLAS_THREADS (the benchmark compares 1
 * and 2 threads in one run).
 */
export function setBlasThreads(threads: number): boolean {
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`BLAS threads must be an integer >= 1, got ${threads}`);
  const status = loadAccelerator();
  status.addon?.setThreads(threads);
  return status.loaded;
}

/** Row-major C[m, n] = A[m, k] @ B[k, n] on one Float32Array; a, b and c are element offsets into it. */
export type HostGemm = (ws: Float32Array, m: number, n: number, k: number, a: number, b: number, c: number) => void;

/** Serving batches up to this many rows take the addon's register-blocked product instead of OpenBLAS's. */
const FEW_ROWS = 64;

/**
 * Products on plain Float32Arrays, outside TF.js (for inference paths that call a few products on fixed weights and
 * cannot afford the engine's per-op bookkeeping); undefined when the addon is not loaded. A serving batch's few rows
 * by 16 or more columns go to the addon's inferDense: OpenBLAS packs the whole weight matrix on every call, which
 * costs more than the product at these sizes (784 x 64 layer, CPU µs per row: 11 -> 1.5 at one row, 1.2 -> 0.5 at
 * 32 rows on this project's machine). Larger products stay with OpenBLAS.
 */
export function hostGemm(): HostGemm | undefined {
  const blas = loadAccelerator().addon;
  if (!blas) return undefined;
  const dense = blas.inferDense;
  return (ws, m, n, k, a, b, c) => {
    if (dense && m <= FEW_ROWS && n >= 16) dense.call(blas, ws, m, n, k, a, b, c);
    else blas.sgemm(ws, false, false, m, n, k, a, k, 0, b, n, 0, c, n, 0, 1, 1, 0);
  };
}

/** Convolution kernels on plain Float32Arrays (offsets in floats; geometry as the addon's im2col takes it). */
export interface HostConv {
  /** y[P, co] = relu?(im2col(x) @ w[K, co] + bias) for NHWC images; bias -1 for none. */
  conv2d(
    ws: Float32Array,
    x: number,
    w: number,
    y: number,
    geometry: Int32Array,
    co: number,
    bias: number,
    relu: boolean,
  ): void;
  /** y = window maxima of NHWC images (padding never wins; an all-padding window gives 0). */
  maxPool(ws: Float32Array, x: number, y: number, geometry: Int32Array): void;
}

/**
 * The addon's direct convolution and max pool for host inference paths (native/tuneserve_infer.c); undefined when the
 * addon is not loaded or predates them. They run on the calling thread only: a server overlaps requests itself, and
 * splitting each small batch across threads cost more CPU per request under load.
 */
export function hostConv(): HostConv | undefined {
  const blas = loadAccelerator().addon;
  const conv2d = blas?.inferConv2d;
  const maxPool = blas?.inferMaxPool;
  if (!blas || !conv2d || !maxPool) return undefined;
  return {
    conv2d: (ws, x, w, y, geometry, co, bias, relu) => conv2d.call(blas, ws, x, w, y, geometry, co, bias, relu),
    maxPool: (ws, x, y, geometry) => maxPool.call(blas, ws, x, y, geometry),
  };
}
