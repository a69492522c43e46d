/**
 * The host inference path for convolutional stacks, as hostDensePlan is for Dense ones: a Sequential model of
 * Conv2D, MaxPooling2D / AveragePooling2D, Flatten, Reshape, Dropout and Dense layers (the shapes the search spaces
 * produce) runs on a copy of its weights in one Float32Array, with no TF.js tensor or engine per batch. Each
 * convolution is im2col plus one OpenBLAS product, [rows*outH*outW, fh*fw*ci] @ [fh*fw*ci, co], whose result is
 * already the NHWC output; bias and relu follow in float32. Shapes and padding come from TF.js's own geometry
 * helpers, so 'same' and 'valid', strides and pooling windows agree with the layers by construction.
 * Any other layer (or channels-first data, dilation, other activations) means no plan.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostConv, HostGemm } from '../native/accelerator.js';
import { geometry as addonGeometry } from '../wasm/conv.js';
import { finishLayer, type HostLayer, type HostPlan } from './dense-plan.js';

type ConvInfo = tf.backend_util.Conv2DInfo;

interface ConvStep {
  kind: 'conv';
  info: ConvInfo; // for one example (batchSize 1)
  layer: HostLayer; // the product's shape, bias and activation (inputs = fh*fw*ci, units = co)
}
interface PoolStep {
  kind: 'max' | 'avg';
  info: ConvInfo;
}
interface DenseStep {
  kind: 'dense';
  layer: HostLayer;
}
type Step = (ConvStep | PoolStep | DenseStep) & { inSize: number; outSize: number };

interface LayerConfig {
  activation?: string;
  useBias?: boolean;
  dataFormat?: string;
  dilationRate?: number | number[];
  strides?: number | number[];
  padding?: string;
  poolSize?: number | number[];
}

const ACTIVATIONS = new Set(['linear', 'relu', 'softmax']);

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The host plan for a Sequential conv/pool/dense stack, or undefined for any other model (including plain Dense
 * stacks, which hostDensePlan serves). The workspace holds the weights, then for `capacity` rows the input, every
 * step's output and one im2col scratch matrix; it grows when a larger batch comes. With `native` (the OpenBLAS addon)
 * convolutions (im2col, product, bias and relu band by band, in cache) and max pooling run in C on the same workspace.
 */
export function hostConvPlan(model: tf.LayersModel, gemm: HostGemm, native?: HostConv): HostPlan | undefined {
  if (model.getClassName() !== 'Sequential' || model.inputs.length !== 1 || model.outputs.length !== 1)
    return undefined;
  const inputShape = model.inputs[0]?.shape.slice(1);
  if (!inputShape || inputShape.some((d) => d === null)) return undefined;
  let shape = inputShape as number[];
  const weights: Float32Array[] = [];
  let offset = 0;
  const keep = (w: tf.Tensor): number => {
    const at = offset;
    weights.push(w.dataSync() as Float32Array);
    offset += w.size;
    return at;
  };
  const steps: Step[] = [];
  let sawConv = false;
  for (const layer of model.layers) {
    const name = layer.getClassName();
    const config = layer.getConfig() as LayerConfig;
    if (name === 'InputLayer' || name === 'Dropout') continue;
    if (name === 'Flatten') {
      shape = [sizeOf(shape)];
      continue;
    }
    if (name === 'Reshape') {
      const out = layer.computeOutputShape([null, ...shape]) as (number | null)[];
      shape = out.slice(1) as number[];
      continue;
    }
    if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') return undefined;
    const inSize = sizeOf(shape);
    if (name === 'Conv2D') {
      const dilation = config.dilationRate ?? 1;
      if ((Array.isArray(dilation) ? dilation : [dilation]).some((d) => d !== 1) || shape.length !== 3) {
        return undefined;
      }
      const activation = config.activation ?? 'linear';
      if (activation !== 'linear' && activation !== 'relu') return undefined;
      const [kernel, bias] = layer.weights.map((w) => w.read());
      if (kernel?.rank !== 4) return undefined;
      const padding = config.padding === 'same' ? 'same' : config.padding === 'valid' ? 'valid' : undefined;
      if (!padding) return undefined;
      const info = tf.backend_util.computeConv2DInfo(
        [1, ...(shape as [number, number, number])],
        kernel.shape as [number, number, number, number],
        config.strides as number | [number, number],
        1,
        padding,
      );
      const k = info.filterHeight * info.filterWidth * info.inChannels;
      const layerPlan: HostLayer = {
        inputs: k,
        units: info.outChannels,
        kernel: keep(kernel), // [fh, fw, ci, co] is already the [K, co] operand
        bias: bias ? keep(bias) : undefined,
        relu: activation === 'relu',
        softmax: false,
      };
      shape = [info.outHeight, info.outWidth, info.outChannels];
      steps.push({ kind: 'conv', info, layer: layerPlan, inSize, outSize: sizeOf(shape) });
      sawConv = true;
      continue;
    }
    if (name === 'MaxPooling2D' || name === 'AveragePooling2D') {
      if (shape.length !== 3) return undefined;
      const padding = config.padding === 'same' ? 'same' : config.padding === 'valid' ? 'valid' : undefined;
      if (!padding) return undefined;
      const info = tf.backend_util.computePool2DInfo(
        [1, ...(shape as [number, number, number])],
        config.poolSize as number | [number, number],
        config.strides as number | [number, number],
        1,
        padding,
      );
      shape = [info.outHeight, info.outWidth, info.outChannels];
      steps.push({ kind: name === 'MaxPooling2D' ? 'max' : 'avg', info, inSize, outSize: sizeOf(shape) });
      continue;
    }
    if (name === 'Dense') {
      if (shape.length !== 1) return undefined;
      const activation = config.activation ?? 'linear';
      if (!ACTIVATIONS.has(activation)) return undefined;
      const [kernel, bias] = layer.weights.map((w) => w.read());
      if (kernel?.rank !== 2) return undefined;
      const units = kernel.shape[1]!;
      const layerPlan: HostLayer = {
        inputs: inSize,
        units,
        kernel: keep(kernel),
        bias: bias ? keep(bias) : undefined,
        relu: activation === 'relu',
        softmax: activation === 'softmax',
      };
      shape = [units];
      steps.push({ kind: 'dense', layer: layerPlan, inSize, outSize: units });
      continue;
    }
    return undefined;
  }
  if (!sawConv || steps.length === 0) return undefined;

  const weightCount = offset;
  const inputSize = sizeOf(inputShape as number[]);
  // per row: the input, every step's output, and the largest im2col matrix
  const scratchPerRow = Math.max(
    0,
    ...steps.map((s) => (s.kind === 'conv' ? s.info.outHeight * s.info.outWidth * s.layer.inputs : 0)),
  );
  const rowFloats = inputSize + steps.reduce((sum, s) => sum + s.outSize, 0) + scratchPerRow;
  let capacity = 0;
  let ws = new Float32Array(0);
  const grow = (rows: number) => {
    capacity = Math.max(rows, capacity * 2, 16);
    const next = new Float32Array(weightCount + capacity * rowFloats);
    let at = 0;
    for (const w of weights) {
      next.set(w, at);
      at += w.length;
    }
    ws = next;
  };
  const outputSize = steps.at(-1)!.outSize;
  return (parts, rows) => {
    if (rows > capacity) grow(rows);
    const scratch = ws.length - capacity * scratchPerRow;
    let x = weightCount;
    for (const part of parts) {
      if (x + part.length > weightCount + rows * inputSize) throw new RangeError('more input values than rows');
      ws.set(part, x);
      x += part.length;
    }
    x = weightCount;
    for (const step of steps) {
      const out = x + rows * step.inSize;
      if (step.kind === 'conv' && native) {
        const { layer } = step;
        native.conv2d(
          ws,
          x,
          layer.kernel,
          out,
          addonGeometry(step.info, rows),
          layer.units,
          layer.bias ?? -1,
          layer.relu,
        );
      } else if (step.kind === 'max' && native) {
        native.maxPool(ws, x, out, addonGeometry(step.info, rows));
      } else if (step.kind === 'conv') {
        const p = step.info.outHeight * step.info.outWidth;
        im2col(ws, x, scratch, step.info, rows);
        gemm(ws, rows * p, step.layer.units, step.layer.inputs, scratch, step.layer.kernel, out);
        finishLayer(ws, step.layer, out, rows * p);
      } else if (step.kind === 'dense') {
        gemm(ws, rows, step.layer.units, step.layer.inputs, x, step.layer.kernel, out);
        finishLayer(ws, step.layer, out, rows);
      } else {
        pool(ws, x, out, step.info, rows, step.kind);
      }
      x = out;
    }
    return ws.slice(x, x + rows * outputSize);
  };
}

/** cols[rows*outH*outW, fh*fw*ci] from `rows` NHWC images at `src` (zeros where a window covers padding). */
function im2col(ws: Float32Array, src: number, cols: number, c: ConvInfo, rows: number): void {
  const { inHeight: ih, inWidth: iw, inChannels: ci, outHeight: oh, outWidth: ow } = c;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  const image = ih * iw * ci;
  let dst = cols;
  for (let n = 0; n < rows; n++) {
    const base = src + n * image;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const x0 = x * sw - left;
        for (let kh = 0; kh < fh; kh++) {
          const r = y * sh + kh - top;
          if (r < 0 || r >= ih) {
            ws.fill(0, dst, dst + fw * ci);
            dst += fw * ci;
            continue;
          }
          const row = base + r * iw * ci;
          if (x0 >= 0 && x0 + fw <= iw) {
            // the window's row is one contiguous run of fw*ci floats
            const from = row + x0 * ci;
            const len = fw * ci;
            for (let i = 0; i < len; i++) ws[dst + i] = ws[from + i]!;
            dst += len;
            continue;
          }
          for (let kw = 0; kw < fw; kw++) {
            const col = x0 + kw;
            if (col < 0 || col >= iw) ws.fill(0, dst, dst + ci);
            else for (let i = 0; i < ci; i++) ws[dst + i] = ws[row + col * ci + i]!;
            dst += ci;
          }
        }
      }
    }
  }
}

/** Max or average pooling of `rows` NHWC images; padding never wins a max and does not count in an average. */
function pool(ws: Float32Array, src: number, dst: number, c: ConvInfo, rows: number, kind: 'max' | 'avg'): void {
  const { inHeight: ih, inWidth: iw, inChannels: ch, outHeight: oh, outWidth: ow } = c;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  let o = dst;
  for (let n = 0; n < rows; n++) {
    const base = src + n * ih * iw * ch;
    for (let y = 0; y < oh; y++) {
      const r0 = Math.max(0, y * sh - top);
      const r1 = Math.min(ih, y * sh - top + fh);
      for (let x = 0; x < ow; x++) {
        const c0 = Math.max(0, x * sw - left);
        const c1 = Math.min(iw, x * sw - left + fw);
        const count = (r1 - r0) * (c1 - c0);
        for (let k = 0; k < ch; k++) {
          let acc = kind === 'max' ? Number.NEGATIVE_INFINITY : 0;
          for (let r = r0; r < r1; r++) {
            let at = base + (r * iw + c0) * ch + k;
            for (let q = c0; q < c1; q++, at += ch) {
              const v = ws[at]!;
              if (kind === 'max') acc = Math.max(v, acc);
              else acc = Math.fround(acc + v);
            }
          }
          ws[o++] = kind === 'max' ? acc : acc / count;
        }
      }
    }
  }
}
