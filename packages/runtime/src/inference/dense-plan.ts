/**
 * Direct inference paths for the commonest served model: a Sequential stack of Dense layers (with Dropout, Flatten
 * or an InputLayer between them) on 2-D input. `LayersModel.execute` spends about 70 µs per call on graph
 * bookkeeping (feed dicts, topological order, symbolic tensors) before and around the few kernels such a model
 * needs, which is most of a micro-batch's cost at low concurrency. Two plans skip it:
 * - the TF.js plan calls the ops the Dense layers call (one fused matMul + bias + activation per layer, softmax
 *   separately) on the layers' own weight tensors, so it computes the same values;
 * - the host plan, when the OpenBLAS addon is loaded, runs the same products on a copy of the weights in one
 *   Float32Array, with bias, relu and softmax in float32 arithmetic here: no tensors, no engine, ~40 µs less per
 *   call. Its products are the ones the accelerated backend computes; only softmax may differ, by a float32 ulp
 *   or two (the wasm kernel has its own exp).
 * Any other model gets no plan and keeps `execute`.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostGemm } from '../native/accelerator.js';

type FusedActivation = 'linear' | 'relu';
interface DenseStep {
  kernel: tf.Tensor2D;
  bias?: tf.Tensor1D;
  fused: FusedActivation;
  softmax: boolean;
}
type Step = ({ kind: 'dense' } & DenseStep) | { kind: 'flatten' };

/** The activations the plans reproduce as the Dense layer computes them: fused into the matMul, or softmax after. */
const FUSED: Record<string, FusedActivation> = { linear: 'linear', relu: 'relu' };

/** Runs x [batch, ...exampleShape] through the model. */
export type DensePlan = (x: tf.Tensor) => tf.Tensor;

/** Runs `rows` examples, held row-major by `parts` in order; returns rows x outputSize floats the caller owns. */
export type HostPlan = (parts: readonly Float32Array[], rows: number) => Float32Array;

/** The layers of a plain Dense stack as steps, or undefined for any other model. */
function denseSteps(model: tf.LayersModel): Step[] | undefined {
  if (!(model instanceof tf.Sequential) && model.getClassName() !== 'Sequential') return undefined;
  const steps: Step[] = [];
  // Dense on a rank > 2 input works on the last axis; the plans only handle [batch, features]
  let rank = model.inputs[0]?.shape.length ?? 0;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  for (const layer of model.layers) {
    const name = layer.getClassName();
    if (name === 'InputLayer' || name === 'Dropout') continue;
    if (name === 'Flatten') {
      steps.push({ kind: 'flatten' });
      rank = 2;
      continue;
    }
    if (name !== 'Dense' || rank !== 2) return undefined;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const activation = config.activation ?? 'linear';
    const softmax = activation === 'softmax';
    const fused = softmax ? 'linear' : FUSED[activation];
    if (!fused) return undefined;
    const weights = layer.weights.map((w) => w.read());
    const [kernel, bias] = weights;
    if (kernel?.rank !== 2 || weights.length > (config.useBias === false ? 1 : 2)) return undefined;
    steps.push({
      kind: 'dense',
      kernel: kernel as tf.Tensor2D,
      ...(bias ? { bias: bias as tf.Tensor1D } : {}),
      fused,
      softmax,
    });
  }
  return steps.some((s) => s.kind === 'dense') ? steps : undefined;
}

/** The TF.js plan for a plain Dense stack, or undefined for any other model. */
export function denseInferencePlan(model: tf.LayersModel): DensePlan | undefined {
  const steps = denseSteps(model);
  if (!steps) return undefined;
  return (x) =>
    tf.tidy(() => {
      let h: tf.Tensor = x;
      for (const step of steps) {
        if (step.kind === 'flatten') {
          h = h.reshape([h.shape[0] ?? -1, -1]);
          continue;
        }
        h = tf.fused.matMul({
          a: h as tf.Tensor2D,
          b: step.kernel,
          ...(step.bias ? { bias: step.bias } : {}),
          activation: step.fused,
        });
        if (step.softmax) h = tf.softmax(h);
      }
      return h;
    });
}

/** Where a layer's weights and output live in the host plan's workspace (element offsets). */
export interface HostLayer {
  inputs: number;
  units: number;
  kernel: number;
  bias: number | undefined;
  relu: boolean;
  softmax: boolean;
}

/**
 * The host plan for a plain Dense stack, or undefined for any other model. The weights are copied once (a served
 * version's weights never change); the workspace after them holds the input and every layer's output for `capacity`
 * rows and grows when a larger batch comes.
 */
export function hostDensePlan(model: tf.LayersModel, gemm: HostGemm): HostPlan | undefined {
  const steps = denseSteps(model);
  if (!steps) return undefined;
  const layers: HostLayer[] = [];
  const weights: Float32Array[] = [];
  let offset = 0;
  for (const step of steps) {
    if (step.kind === 'flatten') continue; // row-major rows are already flat
    const [inputs, units] = step.kernel.shape;
    const layer: HostLayer = {
      inputs,
      units,
      kernel: offset,
      bias: undefined,
      relu: step.fused === 'relu',
      softmax: step.softmax,
    };
    weights.push(step.kernel.dataSync() as Float32Array);
    offset += inputs * units;
    if (step.bias) {
      layer.bias = offset;
      weights.push(step.bias.dataSync() as Float32Array);
      offset += units;
    }
    layers.push(layer);
  }
  const weightCount = offset;
  const rowFloats = (layers[0]?.inputs ?? 0) + layers.reduce((sum, l) => sum + l.units, 0);
  let capacity = 0;
  let ws = new Float32Array(0);
  const grow = (rows: number) => {
    capacity = Math.max(rows, capacity * 2, 64);
    const next = new Float32Array(weightCount + capacity * rowFloats);
    if (ws.length > 0) next.set(ws.subarray(0, weightCount));
    else {
      let at = 0;
      for (const w of weights) {
        next.set(w, at);
        at += w.length;
      }
    }
    ws = next;
  };
  const inputWidth = layers[0]?.inputs ?? 0;
  return (parts, rows) => {
    if (rows > capacity) grow(rows);
    let x = weightCount;
    for (const part of parts) {
      if (x + part.length > weightCount + rows * inputWidth) throw new RangeError('more input values than rows');
      ws.set(part, x);
      x += part.length;
    }
    x = weightCount;
    let out = x;
    for (const l of layers) {
      out = x + rows * l.inputs;
      gemm(ws, rows, l.units, l.inputs, x, l.kernel, out);
      finishLayer(ws, l, out, rows);
      x = out;
    }
    const last = layers[layers.length - 1];
    return ws.slice(out, out + rows * (last?.units ?? 0));
  };
}

/** Bias, relu and softmax on one layer's output block, each result rounded to float32 as the kernels round it. */
export function finishLayer(ws: Float32Array, l: HostLayer, out: number, rows: number): void {
  const n = l.units;
  const end = out + rows * n;
  if (l.bias !== undefined || l.relu) {
    const bias = l.bias;
    for (let r = out; r < end; r += n) {
      for (let j = 0; j < n; j++) {
        let v = ws[r + j] as number;
        if (bias !== undefined) v = Math.fround(v + (ws[bias + j] as number));
        ws[r + j] = l.relu && v < 0 ? 0 : v;
      }
    }
  }
  if (!l.softmax) return;
  for (let r = out; r < end; r += n) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < n; j++) max = Math.max(max, ws[r + j] as number);
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.fround(Math.exp(Math.fround((ws[r + j] as number) - max)));
      ws[r + j] = e;
      sum = Math.fround(sum + e);
    }
    for (let j = 0; j < n; j++) ws[r + j] = (ws[r + j] as number) / sum;
  }
}
