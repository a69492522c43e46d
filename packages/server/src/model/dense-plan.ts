/**
 * A direct inference path for the commonest served model: a Sequential stack of Dense layers (with Dropout,
 * Flatten or an InputLayer between them) on 2-D input. `LayersModel.execute` spends about 70 µs per call on graph
 * bookkeeping (feed dicts, topological order, symbolic tensors) before and around the few kernels such a model
 * needs, which is most of a micro-batch's cost at low concurrency. The plan calls the same ops the Dense layers
 * call (one fused matMul + bias + activation per layer, softmax separately), on the layers' own weight tensors,
 * so it computes the same values. Any other model gets no plan and keeps `execute`.
 */
import * as tf from '@tensorflow/tfjs';

type FusedActivation = 'linear' | 'relu';
type Step =
  | { kind: 'dense'; kernel: tf.Tensor2D; bias?: tf.Tensor1D; fused: FusedActivation; softmax: boolean }
  | { kind: 'flatten' };

/** The activations the plan reproduces as the Dense layer computes them: fused into the matMul, or softmax after. */
const FUSED: Record<string, FusedActivation> = { linear: 'linear', relu: 'relu' };

/** Runs x [batch, ...exampleShape] through the model. */
export type DensePlan = (x: tf.Tensor) => tf.Tensor;

/** The plan for a plain Dense stack, or undefined for any other model. */
export function denseInferencePlan(model: tf.LayersModel): DensePlan | undefined {
  if (!(model instanceof tf.Sequential) && model.getClassName() !== 'Sequential') return undefined;
  const steps: Step[] = [];
  // Dense on a rank > 2 input works on the last axis; the plan only handles [batch, features]
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
    if (!kernel || kernel.rank !== 2 || weights.length > (config.useBias === false ? 1 : 2)) return undefined;
    steps.push({
      kind: 'dense',
      kernel: kernel as tf.Tensor2D,
      ...(bias ? { bias: bias as tf.Tensor1D } : {}),
      fused,
      softmax,
    });
  }
  if (!steps.some((s) => s.kind === 'dense')) return undefined;
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
