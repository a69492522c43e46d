/**
 * MaxPoolGrad for the wasm backend. The stock wasm kernel returns wrong gradients when a window's values are all
 * negative (e.g. MaxPooling after BatchNormalization); this one routes each output gradient to the first maximum of
 * its window, as the cpu backend does.
 */
import * as tf from '@tensorflow/tfjs';
import type { Kernel } from './backend-access.js';
import { geometry } from './conv.js';

export interface PoolNative {
  maxPoolGrad(heap: ArrayBufferLike, x: number, dy: number, dx: number, geometry: Int32Array): void;
}

export const maxPoolGradKernel =
  (native?: PoolNative): Kernel =>
  ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      attrs?.filterSize as number | [number, number],
      attrs?.strides as number | [number, number],
      1,
      attrs?.pad as 'same' | 'valid' | number,
      attrs?.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    );
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
