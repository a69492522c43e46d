/**
 * Real components for the front-end suites: a small MLP trained on a slice of the real MNIST
 * files and saved with ModelRepository, a tiny real study written by the tuner, and a real
 * tuneserve server on 127.0.0.1 serving them (plus the web bundle).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type Dataset, loadDataset, type Split } from '@tuneserve/data';
import { initBackend, ModelRepository } from '@tuneserve/runtime';
import { type Sample, type SampleSource, type StudySource, startServer, type TuneServer } from '@tuneserve/server';
import { type HyperParameters, loadStudy, RandomSearch } from '@tuneserve/tuner';

export interface Workspace {
  dir: string;
  mnist: Dataset;
  modelRoot: string;
  /** Test accuracy of the trained model on the first 1000 test images. */
  accuracy: number;
  cleanup(): Promise<void>;
}

const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** The first n examples of a split. */
function slice(split: Split, start: number, end: number): Split {
  return { x: split.x.subarray(start * 784, end * 784), y: split.y.subarray(start, end), count: end - start };
}

/** x float32 and y as float32 labels: TF.js's sparse crossentropy floors its targets, which needs floats. */
function tensors(split: Split): { x: tf.Tensor2D; y: tf.Tensor1D } {
  return { x: tf.tensor2d(split.x, [split.count, 784]), y: tf.tensor1d(split.y, 'float32') };
}

function mlp(units: number, learningRate: number): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [784], units, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  model.compile({
    optimizer: tf.train.adam(learningRate),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

/** Trains a 64-unit MLP for 2 epochs on 8000 training images (a few seconds) and saves version 1. */
export async function prepareWorkspace(): Promise<Workspace> {
  await initBackend({ log: false });
  const dir = await mkdtemp(join(tmpdir(), 'tuneserve-web-'));
  const mnist = await loadDataset('mnist');
  const train = tensors(slice(mnist.train, 0, 8000));
  const model = mlp(64, 0.003);
  await model.fit(train.x, train.y, { epochs: 2, batchSize: 128, shuffle: true, verbose: 0 });
  const test = tensors(slice(mnist.test, 0, 1000));
  const [lossT, accT] = model.evaluate(test.x, test.y) as tf.Scalar[];
  const predicted = tf.tidy(() => (model.predict(test.x) as tf.Tensor2D).argMax(-1).dataSync());
  const truth = mnist.test.y.subarray(0, 1000);
  const confusionMatrix = LABELS.map(() => LABELS.map(() => 0));
  for (let i = 0; i < truth.length; i++) confusionMatrix[truth[i]!]![predicted[i]!]!++;
  const accuracy = (await accT!.data())[0]!;
  const loss = (await lossT!.data())[0]!;
  const modelRoot = join(dir, 'models', 'mnist');
  await new ModelRepository(modelRoot).saveVersion(model, {
    name: 'mnist',
    inputShape: [784],
    labels: LABELS,
    hyperparameters: { units: 64, learning_rate: 0.003 },
    testMetrics: { loss, accuracy, confusionMatrix },
    backend: tf.getBackend(),
  });
  tf.dispose([train.x, train.y, test.x, test.y, lossT!, accT!]);
  model.dispose();
  return { dir, mnist, modelRoot, accuracy, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface TinyStudy {
  source: StudySource;
  /** Runs one more real trial in the same study (maxTrials 3 -> 4). */
  grow(): Promise<void>;
}

/** Runs a real 3-trial random search (2 epochs each on 2000 images) into `<dir>/tuning/mnist`. */
export async function runTinyStudy(ws: Workspace): Promise<TinyStudy> {
  const directory = join(ws.dir, 'tuning');
  const build = (hp: HyperParameters) =>
    mlp(hp.int('units', { minValue: 16, maxValue: 64, step: 16 }), hp.choice('learning_rate', [0.001, 0.003, 0.01]));
  const search = async (maxTrials: number) => {
    const tuner = new RandomSearch(build, {
      objective: 'val_accuracy',
      maxTrials,
      seed: 7,
      directory,
      projectName: 'mnist',
      verbose: 0,
    });
    const train = tensors(slice(ws.mnist.train, 0, 2000));
    const val = tensors(slice(ws.mnist.val, 0, 500));
    await tuner.search(train.x, train.y, { epochs: 2, batchSize: 128, validationData: [val.x, val.y], verbose: 0 });
    tf.dispose([train.x, train.y, val.x, val.y]);
  };
  await search(3);
  return {
    source: { getStudy: () => loadStudy({ directory, projectName: 'mnist' }) },
    grow: () => search(4),
  };
}

export function sampleSource(split: Split): SampleSource {
  const size = 784;
  return {
    size: split.count,
    sample(index: number): Sample {
      return {
        index,
        label: split.y[index]!,
        instances: Array.from(split.x.subarray(index * size, (index + 1) * size)),
      };
    },
  };
}

export type RunningServer = TuneServer & { url: string };

export async function serve(
  ws: Workspace,
  options: { apiKeys?: string[]; study?: StudySource; webRoot?: string; withSamples?: boolean } = {},
): Promise<RunningServer> {
  const server = await startServer({
    modelDir: ws.modelRoot,
    modelName: 'mnist',
    pollIntervalMs: 0,
    ...(options.withSamples === false ? {} : { samples: sampleSource(ws.mnist.test) }),
    port: 0,
    host: '127.0.0.1',
    logger: { level: 'error' },
    defaultMetrics: false,
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
    ...(options.study ? { study: options.study } : {}),
    ...(options.webRoot ? { webRoot: options.webRoot } : {}),
  });
  return server;
}
