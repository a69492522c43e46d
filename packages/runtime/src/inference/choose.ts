/**
 * How a served model runs one batch: a host plan (OpenBLAS, no TF.js engine: Dense stacks, or conv/pool/dense stacks),
 * the TF.js Dense plan, or the model's own graph, whichever is the fastest that computes this model.
 */
import * as tf from '@tensorflow/tfjs';
import { hostConv, hostGemm } from '../native/accelerator.js';
import { hostConvPlan } from './conv-plan.js';
import { denseInferencePlan, hostDensePlan } from './dense-plan.js';

/**
 * Runs `rows` examples through the model; `parts` hold them row-major, in order (one part per request of a batch,
 * so the host path copies each straight into its workspace). Returns rows x outputSize floats.
 */
export type Inference = (parts: readonly Float32Array[], rows: number) => Float32Array;

export type InferencePath = 'host-dense' | 'host-conv' | 'tfjs-dense' | 'graph';

export function chooseInference(
  model: tf.LayersModel,
  exampleShape: number[],
  options: { host?: boolean } = {},
): { path: InferencePath; run: Inference } {
  const gemm = options.host === false ? undefined : hostGemm();
  const host = gemm ? hostDensePlan(model, gemm) : undefined;
  if (host) return { path: 'host-dense', run: host };
  const conv = gemm ? hostConvPlan(model, gemm, hostConv()) : undefined;
  if (conv) return { path: 'host-conv', run: conv };
  const [output] = model.outputs;
  if (!output || model.outputs.length !== 1) throw new Error('the model must have exactly one output');
  const plan = denseInferencePlan(model);
  // execute runs the graph once on the whole batch: predict would split it into chunks of 32, and predictOnBatch
  // adds a slice-and-concat pass that costs ~30% at our batch sizes.
  const forward = plan ?? ((x: tf.Tensor) => model.execute(x, output.name) as tf.Tensor);
  return {
    path: plan ? 'tfjs-dense' : 'graph',
    run: (parts, rows) => {
      const input = parts.length === 1 && parts[0] ? parts[0] : concat(parts);
      const result = tf.tidy(() => forward(tf.tensor(input, [rows, ...exampleShape], 'float32')));
      try {
        return result.dataSync() as Float32Array;
      } finally {
        result.dispose();
      }
    },
  };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const all = new Float32Array(length);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}
