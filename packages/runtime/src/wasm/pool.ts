/**
 * Max pooling for the wasm backend. The stock wasm MaxPoolGrad returns wrong gradients when a window's values are all
 * negative (e.g. MaxPooling after BatchNormalization); this one routes each output gradient to the first maximum of
 * its window, as the cpu backend does. With the accelerator, a training-time forward pass also records each window's
 * argmax, and the gradient becomes one scatter instead of a second search through every window.
 */
import * as tf from '@tensorflow/tfjs';
import type { BlasAddon } from '../native/accelerator.js';
import type { Kernel, KernelArgs } from './backend-access.js';
import { geometry } from './conv.js';
import { ForwardCache, recordingGradients } from './forward-cache.js';

export type PoolNative = Pick<BlasAddon, 'maxPoolGrad' | 'maxPool' | 'scatterAdd'>;

type PoolInfo = tf.backend_util.Conv2DInfo;

function poolInfo(shape: number[], attrs: KernelArgs['attrs']): PoolInfo {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs?.filterSize as number | [number, number],
    attrs?.strides as number | [number, number],
    1,
    attrs?.pad as 'same' | 'valid' | number,
    attrs?.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
}

/** Argmax buffers of recent training-time MaxPool outputs, keyed by the output tensor the gradient receives. */
const argmaxCache = new ForwardCache(8);

/** MaxPool through the addon (float32 only; other dtypes go to the stock kernel). */
export const maxPoolKernel =
  (native: PoolNative, stock: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): Kernel =>
  (args) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x!;
    if (x.dtype !== 'float32' || x.shape.length !== 4) return stock(args);
    const info = poolInfo(x.shape, attrs);
    const outShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    const y = backend.makeOutput(outShape, 'float32');
    const keep = recordingGradients(tf.engine());
    const argmax = keep ? backend.makeOutput(outShape, 'int32') : undefined;
    const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
    const g = geometry(info);
    native.maxPool(backend.wasm.HEAPU8.buffer, at(x), at(y), argmax ? at(argmax) : -1, g);
    if (argmax) argmaxCache.put(backend, y, `${x.shape}|${g}`, argmax);
    return y;
  };

export const maxPoolGradKernel =
  (native?: PoolNative): Kernel =>
  ({ inputs, backend, attrs }) => {
    const { dy, input, output } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; output?: tf.TensorInfo };
    const info = poolInfo(input.shape, attrs);
    if (native && output) {
      const argmax = argmaxCache.take(output, `${input.shape}|${geometry(info)}`);
      if (argmax) {
        try {
          const dx = backend.makeOutput(input.shape, 'float32');
          const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
          const n = dy.shape.reduce((a, b) => a * b, 1);
          const size = input.shape.reduce((a, b) => a * b, 1);
          native.scatterAdd(backend.wasm.HEAPU8.buffer, at(dy), at(argmax), at(dx), n, size, input.shape[0]!);
          return dx;
        } finally {
          backend.disposeData(argmax.dataId);
        }
      }
    }
    const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = info;
    const { strideHeight: sh, strideWidth: sw } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const dx = backend.makeOutput(input.shape, 'float32');
    if (native) {
      const at = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
      native.maxPoolGrad(backend.wasm.HEAPU8.buffer, at(input), at(dy), at(dx), geometry(info));
      return dx;
    }
    const out = backend.typedArrayFromHeap(dx) as Float32Array;
    const x = backend.typedArrayFromHeap(input) as Float32Array;
    const g = backend.typedArrayFromHeap(dy) as Float32Array;
    out.fill(0);
    if (sh === filterHeight && sw === filterWidth) {
      disjointMaxPoolGrad(x, g, out, info);
      return dx;
    }
    const best = new Float32Array(c);
    const at = new Int32Array(c);
    for (let n = 0; n < batchSize; n++) {
      const xn = n * inHeight * inWidth * c;
      for (let oh = 0; oh < outHeight; oh++) {
        const h0 = oh * sh - top;
        const hStart = Math.max(0, h0);
        const hEnd = Math.min(inHeight, h0 + filterHeight);
        for (let ow = 0; ow < outWidth; ow++) {
          const w0 = ow * sw - left;
          const wStart = Math.max(0, w0);
          const wEnd = Math.min(inWidth, w0 + filterWidth);
          at.fill(-1);
          for (let h = hStart; h < hEnd; h++) {
            for (let w = wStart; w < wEnd; w++) {
              const base = xn + (h * inWidth + w) * c;
              for (let ch = 0; ch < c; ch++) {
                const v = x[base + ch]!;
                if (at[ch]! < 0 || v > best[ch]!) {
                  best[ch] = v;
                  at[ch] = base + ch;
                }
              }
            }
          }
          const gBase = ((n * outHeight + oh) * outWidth + ow) * c;
          for (let ch = 0; ch < c; ch++) {
            const i = at[ch]!;
            if (i >= 0) out[i]! += g[gBase + ch]!;
          }
        }
      }
    }
    return dx;
  };

/**
 * Pure-wasm MaxPoolGrad when windows do not overlap (stride = pool size, Keras's default): each output gradient is
 * written once to its window's first maximum (dx zeroed by the caller). Full 2x2 windows, the common case, compare
 * four registers per channel; other windows keep a running maximum per channel. Against the general search below:
 * no per-window reset, no read-modify-write of dx (the reference CNN's first pool: 18 -> ~4 ms per step).
 */
function disjointMaxPoolGrad(x: Float32Array, g: Float32Array, out: Float32Array, info: PoolInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const row = inWidth * c;
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  let gBase = 0;
  for (let n = 0; n < batchSize; n++) {
    const xn = n * inHeight * row;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * filterHeight - top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + filterHeight);
      for (let ow = 0; ow < outWidth; ow++, gBase += c) {
        const w0 = ow * filterWidth - left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + filterWidth);
        const first = xn + hStart * row + wStart * c;
        if (hEnd - hStart === 2 && wEnd - wStart === 2) {
          const p01 = first + c;
          const p10 = first + row;
          const p11 = p10 + c;
          for (let ch = 0; ch < c; ch++) {
            let m = x[first + ch]!;
            let i = first + ch;
            const b = x[p01 + ch]!;
            if (b > m) {
              m = b;
              i = p01 + ch;
            }
            const d = x[p10 + ch]!;
            if (d > m) {
              m = d;
              i = p10 + ch;
            }
            if (x[p11 + ch]! > m) i = p11 + ch;
            out[i] = g[gBase + ch]!;
          }
          continue;
        }
        if (hEnd <= hStart || wEnd <= wStart) continue;
        for (let ch = 0; ch < c; ch++) {
          best[ch] = x[first + ch]!;
          at[ch] = first + ch;
        }
        for (let h = hStart; h < hEnd; h++) {
          for (let w = h === hStart ? wStart + 1 : wStart; w < wEnd; w++) {
            const base = xn + h * row + w * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch]!;
              if (v > best[ch]!) {
                best[ch] = v;
                at[ch] = base + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) out[at[ch]!] = g[gBase + ch]!;
      }
    }
  }
}
