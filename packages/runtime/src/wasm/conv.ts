/**
 * Convolution forward (accelerated only) and gradients for the wasm backend (NHWC, any strides, same/valid/explicit padding, dilation 1), as
 * im2col/col2im around one matrix product:
 *   filter gradient  dW[K, Co] = cols[P, K]^T @ dy[P, Co]
 *   input gradient   dcols[P, K] = dy[P, Co] @ W[K, Co]^T, then col2im scatter-adds dcols into dx
 * with P = batch*outH*outW and K = filterH*filterW*inChannels (the filter's own memory layout).
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import { f32, type Kernel, type WasmBackend, withTemps } from './backend-access.js';
import { RELU_GRAD, RELU_GRAD_SUM } from './elementwise.js';
import { ForwardCache, recordingGradients } from './forward-cache.js';
import { type MatmulDeps, matMul, type StockKernel } from './matmul.js';

type ConvInfo = tf.backend_util.Conv2DInfo;

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown> | undefined,
  kernel: string,
): ConvInfo {
  const dataFormat = (attrs?.dataFormat as string | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm supports only NHWC data, got ${dataFormat}`);
  const dilations = attrs?.dilations as number | [number, number] | undefined;
  const dil = dilations === undefined ? [1, 1] : typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (dil[0] !== 1 || dil[1] !== 1) throw new Error(`${kernel} on wasm supports only dilation 1`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs?.strides as number | [number, number],
    1,
    attrs?.pad as 'same' | 'valid' | number,
    attrs?.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
}

/**
 * Fills colsT[K, P] (the transpose of im2col's matrix): row (kh, kw, i) holds input channel i at that tap for every
 * output position; each output row's in-bounds run is one strided copy.
 */
function im2colT(x: Float32Array, colsT: Float32Array, c: ConvInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, filterHeight, filterWidth } = c;
  const { strideHeight: sh, strideWidth: sw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  let dst = 0;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      // output columns whose input column ow*sw + kw - left is inside the image
      const owStart = Math.min(outWidth, Math.max(0, Math.ceil((left - kw) / sw)));
      const owEnd = Math.max(owStart, Math.min(outWidth, Math.floor((inWidth - 1 + left - kw) / sw) + 1));
      for (let i = 0; i < ci; i++) {
        for (let n = 0; n < batchSize; n++) {
          for (let oh = 0; oh < outHeight; oh++, dst += outWidth) {
            const ih = oh * sh + kh - top;
            if (ih < 0 || ih >= inHeight) {
              colsT.fill(0, dst, dst + outWidth);
              continue;
            }
            if (owStart > 0) colsT.fill(0, dst, dst + owStart);
            if (owEnd < outWidth) colsT.fill(0, dst + owEnd, dst + outWidth);
            // a plain loop: a subarray per run costs more than copying its few floats
            const step = sw * ci;
            let src = ((n * inHeight + ih) * inWidth + owStart * sw + kw - left) * ci + i;
            for (let ow = owStart; ow < owEnd; ow++, src += step) colsT[dst + ow] = x[src]!;
          }
        }
      }
    }
  }
}

/** dx = sum over windows of dcols[P, K] (dx zeroed first). */
function col2im(cols: Float32Array, dx: Float32Array, c: ConvInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, filterHeight, filterWidth } = c;
  const { strideHeight: sh, strideWidth: sw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  dx.fill(0);
  let src = 0;
  for (let n = 0; n < batchSize; n++) {
    const xn = n * inHeight * inWidth * ci;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * sh + kh - top;
          if (ih < 0 || ih >= inHeight) {
            src += filterWidth * ci;
            continue;
          }
          const xr = xn + ih * inWidth * ci;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * sw + kw - left;
            if (iw >= 0 && iw < inWidth) {
              const d = xr + iw * ci;
              for (let i = 0; i < ci; i++) dx[d + i]! += cols[src + i]!;
            }
            src += ci;
          }
        }
      }
    }
  }
}

/** The addon's convolution kernels (on heap offsets in floats). */
export type ConvNative = Pick<BlasAddon, 'im2col' | 'col2im' | 'conv2d' | 'conv2dInputGrad' | 'conv2dFilterGrad'>;

/**
 * Whether a training-time forward pass keeps its window matrix for the filter gradient: only for an addon without
 * conv2dFilterGrad. With it, the forward pass runs the direct convolution (no window matrix at all) and the filter
 * gradient lays out its windows band by band in cache.
 */
function keepsCols(native: ConvNative): boolean {
  return typeof native.conv2dFilterGrad !== 'function' && recordingGradients(tf.engine());
}

/**
 * Conv2D as im2col + OpenBLAS sgemm: y[P, Co] = cols[P, K] @ W[K, Co] is already NHWC. Only registered with the
 * accelerator (XNNPACK's convolution is the better pure-wasm choice); other cases go to the stock kernel.
 */
export function conv2dKernel(native: ConvNative, stockConv: StockKernel): Kernel {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const dataFormat = (attrs?.dataFormat as string | undefined) ?? 'NHWC';
    const dilations = attrs?.dilations as number | [number, number] | undefined;
    const dilated =
      dilations !== undefined && (typeof dilations === 'number' ? dilations !== 1 : dilations.some((d) => d !== 1));
    if (dataFormat !== 'NHWC' || dilated || x.dtype !== 'float32' || filter.dtype !== 'float32') return stockConv(args);
    const c = convInfo(x.shape, filter.shape, attrs, 'Conv2D');
    const p = c.batchSize * c.outHeight * c.outWidth;
    const k = c.filterHeight * c.filterWidth * c.inChannels;
    // one fused pass: each band of images is laid out and multiplied while its windows are in cache
    const cols = keepsCols(native) ? backend.makeOutput([p, k], 'float32') : undefined;
    const y = backend.makeOutput([c.batchSize, c.outHeight, c.outWidth, c.outChannels], 'float32');
    native.conv2d(
      backend.wasm.HEAPU8.buffer,
      offsetF(backend, x),
      offsetF(backend, filter),
      offsetF(backend, y),
      cols ? offsetF(backend, cols) : -1,
      geometry(c),
      c.outChannels,
      -1,
      false,
    );
    if (cols) colsCache.put(backend, x, geometryKey(c), cols);
    return y;
  };
}

function geometryKey(c: ConvInfo): string {
  return geometry(c).join(',');
}

/** im2col matrices of recent training-time Conv2D forward passes, for Conv2DBackpropFilter on the same input. */
const colsCache = new ForwardCache(4);

/**
 * Geometry array shared with the native addon (conv and pool infos have the same fields): batch, inH, inW, inC,
 * outH, outW, fH, fW, strideH, strideW, padTop, padLeft. `batch` overrides the info's (the server plans per example).
 */
export function geometry(c: ConvInfo, batch = c.batchSize): Int32Array {
  return Int32Array.from([
    batch,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
  ]);
}

function offsetF(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
}

/**
 * Pure wasm, stride 1 and at least 8 input channels: the filter gradient as one XNNPACK convolution,
 *   dW = conv(x as [ci, h, w, batch], dy as an [oh, ow, batch, co] filter) = [ci, fh, fw, co], transposed to
 *   [fh, fw, ci, co]: batch plays the channels' part, and the reduction over batch and positions is the
 *   convolution's own. It replaces im2col, a transpose of the [P, K] window matrix and a product whose right operand
 *   the stock kernel repacks on every call (second layer of the reference CNN: 42 -> 32 CPU-ms). With few input
 *   channels (a first layer) the convolution has only fh*fw*ci output rows and was slower, so im2col + matMul stays.
 */
function filterGradAsConv(c: ConvInfo): boolean {
  return c.strideHeight === 1 && c.strideWidth === 1 && c.inChannels >= 8;
}

type Pad = 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Explicit padding (a single number would be wrong here: TF.js sizes both axes from the filter height then). */
function padAttr(top: number, bottom: number, left: number, right: number): Pad {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return 'valid';
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

function filterGradViaConv(backend: WasmBackend, conv: StockKernel, x: tf.TensorInfo, dy: tf.TensorInfo, c: ConvInfo) {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = c;
  const { filterHeight: fh, filterWidth: fw, outChannels: co } = c;
  const { top, left } = c.padInfo;
  return withTemps(backend, (temp) => {
    const xt = temp(backend.makeOutput([ci, h, w, n], 'float32'));
    const dyt = temp(backend.makeOutput([oh, ow, n, co], 'float32'));
    {
      // views after both allocations (malloc may grow the heap)
      const xs = f32(backend, x);
      const xd = f32(backend, xt);
      const plane = h * w;
      // position-major: each position's [n, ci] block is transposed while its 2*n*ci floats are in cache
      for (let p = 0; p < plane; p++) {
        for (let b = 0; b < n; b++) {
          const src = (b * plane + p) * ci;
          for (let i = 0; i < ci; i++) xd[(i * plane + p) * n + b] = xs[src + i]!;
        }
      }
      const ys = f32(backend, dy);
      const yd = f32(backend, dyt);
      const positions = oh * ow;
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < positions; p++)
          yd.set(ys.subarray((b * positions + p) * co, (b * positions + p + 1) * co), (p * n + b) * co);
      }
    }
    const pad = padAttr(top, fh + oh - 1 - h - top, left, fw + ow - 1 - w - left);
    const g = temp(
      conv({
        inputs: { x: xt, filter: dyt },
        backend,
        attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 },
      }) as tf.TensorInfo,
    );
    // [ci, fh, fw, co] -> [fh, fw, ci, co]
    const dw = backend.makeOutput([fh, fw, ci, co], 'float32');
    const gs = f32(backend, g);
    const gd = f32(backend, dw);
    const taps = fh * fw;
    for (let i = 0; i < ci; i++) {
      for (let t = 0; t < taps; t++)
        gd.set(gs.subarray((i * taps + t) * co, (i * taps + t + 1) * co), (t * ci + i) * co);
    }
    return dw;
  });
}

/**
 * Pure wasm, stride 1: the input gradient as one XNNPACK convolution of dy, padded by fh-1-top / fw-1-left (the
 * "full" correlation), with the filter turned 180 degrees and its channel axes swapped, [fh, fw, co, ci]. Against
 * a product into a [P, K] window matrix and a JS scatter-add of it into dx: no 4*P*K-byte temporary, no JS pass,
 * and the whole gradient runs on XNNPACK's threads (reference CNN's second layer: 30 -> 26 CPU-ms).
 */
function inputGradViaConv(
  backend: WasmBackend,
  conv: StockKernel,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  c: ConvInfo,
): tf.TensorInfo {
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = c;
  const { filterHeight: fh, filterWidth: fw, outChannels: co } = c;
  const top = fh - 1 - c.padInfo.top;
  const left = fw - 1 - c.padInfo.left;
  return withTemps(backend, (temp) => {
    const turned = temp(backend.makeOutput([fh, fw, co, ci], 'float32'));
    const src = f32(backend, filter);
    const dst = f32(backend, turned);
    for (let a = 0; a < fh; a++) {
      for (let b = 0; b < fw; b++) {
        const from = ((fh - 1 - a) * fw + (fw - 1 - b)) * ci * co;
        const to = (a * fw + b) * co * ci;
        for (let i = 0; i < ci; i++) {
          for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[from + i * co + o]!;
        }
      }
    }
    const pad = padAttr(top, h + fh - 1 - oh - top, left, w + fw - 1 - ow - left);
    return conv({
      inputs: { x: dy, filter: turned },
      backend,
      attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 },
    }) as tf.TensorInfo;
  });
}

export function conv2dBackpropFilterKernel(deps: MatmulDeps, native?: ConvNative, stockConv?: StockKernel): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const filterShape = attrs?.filterShape as number[];
    const c = convInfo(x.shape, filterShape, attrs, 'Conv2DBackpropFilter');
    if (!native && stockConv && filterGradAsConv(c) && x.dtype === 'float32' && dy.dtype === 'float32') {
      return filterGradViaConv(backend, stockConv, x, dy, c);
    }
    if (native?.conv2dFilterGrad && x.dtype === 'float32' && dy.dtype === 'float32') {
      const dw = backend.makeOutput(filterShape, 'float32');
      const at = (t: tf.TensorInfo) => offsetF(backend, t);
      native.conv2dFilterGrad(
        backend.wasm.HEAPU8.buffer,
        at(x),
        at(dw),
        at(dy),
        -1,
        geometry(c),
        c.outChannels,
        -1,
        false,
      );
      return dw;
    }
    const p = c.batchSize * c.outHeight * c.outWidth;
    const k = c.filterHeight * c.filterWidth * c.inChannels;
    return withTemps(backend, (temp) => {
      const cached = native ? colsCache.take(x, geometryKey(c)) : undefined;
      const dy2d = { dataId: dy.dataId, shape: [p, c.outChannels], dtype: dy.dtype };
      if (!native) {
        // pure wasm: lay the windows out already transposed, [K, P], for a plain product (no transpose pass)
        const colsT = temp(backend.makeOutput([k, p], 'float32'));
        im2colT(f32(backend, x), f32(backend, colsT), c);
        const dw = matMul(deps, backend, colsT, dy2d, false, false);
        return { dataId: dw.dataId, shape: filterShape, dtype: 'float32' as const };
      }
      const cols = temp(cached ?? backend.makeOutput([p, k], 'float32'));
      // unless the forward pass already laid out these windows
      if (!cached) native.im2col(backend.wasm.HEAPU8.buffer, offsetF(backend, x), offsetF(backend, cols), geometry(c));
      const dw = matMul(deps, backend, cols, dy2d, true, false);
      return { dataId: dw.dataId, shape: filterShape, dtype: 'float32' as const };
    });
  };
}

export function conv2dBackpropInputKernel(deps: MatmulDeps, native?: ConvNative, stockConv?: StockKernel): Kernel {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const inputShape = attrs?.inputShape as number[];
    const c = convInfo(inputShape, filter.shape, attrs, 'Conv2DBackpropInput');
    const p = c.batchSize * c.outHeight * c.outWidth;
    const k = c.filterHeight * c.filterWidth * c.inChannels;
    if (native && dy.dtype === 'float32' && filter.dtype === 'float32') {
      const dx = backend.makeOutput(inputShape, 'float32');
      const heap = backend.wasm.HEAPU8.buffer;
      const at = (t: tf.TensorInfo) => offsetF(backend, t);
      native.conv2dInputGrad(heap, at(dx), at(filter), at(dy), -1, geometry(c), c.outChannels, -1, false);
      return dx;
    }
    if (!native && stockConv && c.strideHeight === 1 && c.strideWidth === 1 && dy.dtype === 'float32') {
      return inputGradViaConv(backend, stockConv, dy, filter, c);
    }
    return withTemps(backend, (temp) => {
      const dy2d = { dataId: dy.dataId, shape: [p, c.outChannels], dtype: dy.dtype };
      const w2d = { dataId: filter.dataId, shape: [k, c.outChannels], dtype: filter.dtype };
      const dcols = temp(matMul(deps, backend, dy2d, w2d, false, true));
      const dx = backend.makeOutput(inputShape, 'float32');
      if (native) native.col2im(backend.wasm.HEAPU8.buffer, offsetF(backend, dcols), offsetF(backend, dx), geometry(c));
      else col2im(f32(backend, dcols), f32(backend, dx), c);
      return dx;
    });
  };
}

/** Kernel name of a convolution with bias and linear/relu fused into its output, used by `tf.fused.conv2d`. */
export const CONV_BIAS_ACT = 'TuneserveConv2DBiasAct';

/**
 * Conv2D + bias + (relu): with the addon one fused pass (the epilogue runs on each band while it is in cache, and in
 * training the window matrix is kept for the filter gradient); on pure wasm the stock FusedConv2D (XNNPACK applies
 * bias and relu itself). TF.js's own fused conv2d falls back to three separate kernels (conv, add, relu) whenever
 * gradients are recorded, which is every training step.
 */
export function conv2dBiasActKernel(native: ConvNative | undefined, stockFused: StockKernel): Kernel {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias: tf.TensorInfo };
    const relu = attrs?.activation === 'relu';
    const fusedAttrs = { ...attrs, dataFormat: 'NHWC', dilations: [1, 1] };
    if (!native) return stockFused({ inputs: { x, filter, bias }, backend, attrs: fusedAttrs });
    const c = convInfo(x.shape, filter.shape, fusedAttrs, 'Conv2D');
    const p = c.batchSize * c.outHeight * c.outWidth;
    const k = c.filterHeight * c.filterWidth * c.inChannels;
    const cols = keepsCols(native) ? backend.makeOutput([p, k], 'float32') : undefined;
    const y = backend.makeOutput([c.batchSize, c.outHeight, c.outWidth, c.outChannels], 'float32');
    native.conv2d(
      backend.wasm.HEAPU8.buffer,
      offsetF(backend, x),
      offsetF(backend, filter),
      offsetF(backend, y),
      cols ? offsetF(backend, cols) : -1,
      geometry(c),
      c.outChannels,
      offsetF(backend, bias),
      relu,
    );
    if (cols) colsCache.put(backend, x, geometryKey(c), cols);
    return y;
  };
}

let gradientInstalled = false;

/**
 * The fused convolution's gradient, lazily per input (the engine asks only for the ones it needs: a first layer's
 * input gradient is never computed). The relu gradient is taken from the output (y > 0 exactly where the
 * pre-activation was), once, and shared by the three.
 */
export function installConvBiasActGradient(): void {
  if (gradientInstalled) return;
  gradientInstalled = true;
  tf.registerGradient({
    kernelName: CONV_BIAS_ACT,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const grad = dy as tf.Tensor4D;
      const { strides, pad, dimRoundingMode, activation } = attrs as {
        strides: [number, number] | number;
        pad: 'same' | 'valid' | number;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        activation: string;
      };
      // computed here, not inside the per-input closures: the engine runs each closure in its own tidy, which would
      // dispose a shared tensor made there
      const relu = activation === 'relu';
      const has = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
      // with the addon the relu gradient and the bias gradient come from one pass over dy
      const [act, biasGrad] =
        relu && has(RELU_GRAD_SUM) && grad.dtype === 'float32'
          ? (tf.engine().runKernel(RELU_GRAD_SUM, { dy: grad, y }) as [tf.Tensor, tf.Tensor])
          : [
              !relu
                ? grad
                : has(RELU_GRAD)
                  ? (tf.engine().runKernel(RELU_GRAD, { dy: grad, x: y }) as tf.Tensor)
                  : tf.mul(grad, tf.step(y)),
              undefined,
            ];
      const dyAct = () => act;
      const common = { strides, pad, dimRoundingMode, dataFormat: 'NHWC', dilations: [1, 1] };
      return {
        x: () =>
          tf.engine().runKernel('Conv2DBackpropInput', { dy: dyAct(), filter }, {
            ...common,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dyAct() }, {
            ...common,
            filterShape: filter.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        bias: () => biasGrad ?? tf.sum(dyAct(), [0, 1, 2]),
      };
    },
  });
}
