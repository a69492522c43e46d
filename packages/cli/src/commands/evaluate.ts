import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelMetadataJson, OutputSchema } from '@tuneserve/client';
import type { SplitRecord } from '@tuneserve/data';
import {
  adaptSplit,
  type DataSpec,
  type Evaluation,
  evaluateModel,
  metricsSummary,
  modelInputShape,
} from '@tuneserve/pipeline';
import { initBackend, loadLayersModel, ModelRepository } from '@tuneserve/runtime';
import type { Command } from 'commander';
import { addDataOptions, type DataFlags, dataSpecFrom, loadData } from '../adapters/data.js';
import { toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';

interface EvaluateFlags extends DataFlags {
  model: string;
  json?: boolean;
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description(
      'Test metrics of a saved model on data of its schema: accuracy, per-class precision/recall/F1 and the confusion matrix, or MAE/RMSE/R²',
    )
    .requiredOption('--model <dir>', 'a model version directory (or a model folder: its latest version is used)')
    .option('--json', 'print JSON instead of tables', false);
  addDataOptions(cmd, { recorded: true });
  cmd.action(async (o: EvaluateFlags) => {
    await evaluate(o);
  });
}

/** A version directory as given, or the latest version inside a model folder (models/mnist). */
async function modelDir(given: string): Promise<string> {
  if (existsSync(join(given, 'model.json')) || /^[a-z]+:\/\//i.test(given)) return given;
  if (!existsSync(given)) throw new UsageError(`model directory ${given} does not exist`);
  const latest = await new ModelRepository(given).latestVersion();
  if (latest === undefined) throw new UsageError(`${given} holds no model.json and no model versions`);
  return join(given, String(latest));
}

async function readMetadata(dir: string): Promise<Partial<ModelMetadataJson>> {
  try {
    return JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as Partial<ModelMetadataJson>;
  } catch {
    return {};
  }
}

/**
 * The data to evaluate on: --data when given (its own split's test part), else the data the model was trained on
 * with its recorded split (so the test set is the one training never saw), else MNIST (models from before).
 */
function evaluationData(
  o: EvaluateFlags,
  metadata: Partial<ModelMetadataJson>,
): { spec: DataSpec; split?: SplitRecord } {
  const given = dataSpecFrom(o);
  if (given) return { spec: given };
  const training = (metadata.training ?? {}) as { data?: DataSpec; split?: SplitRecord };
  const limit = o.limitSamples ? { limitSamples: o.limitSamples } : {};
  if (training.data) {
    return { spec: { ...training.data, ...limit }, ...(training.split ? { split: training.split } : {}) };
  }
  return { spec: { path: 'mnist', ...limit } };
}

export async function evaluate(o: EvaluateFlags, out: (text: string) => void = (t) => process.stdout.write(t)) {
  const dir = await modelDir(o.model);
  await initBackend({ log: false });
  const metadata = await readMetadata(dir);
  const model = await loadLayersModel(dir).catch(toUsageError);
  try {
    const { spec, split } = evaluationData(o, metadata);
    // Images are decoded at the model's size, so a folder of other-sized photos still fits.
    const imageSize =
      metadata.input?.kind === 'image' && spec.imageSize === undefined
        ? { imageSize: { width: metadata.input.width, height: metadata.input.height } }
        : {};
    const data = await loadData({ ...spec, ...imageSize }, split);
    // Models exported before schemas take a plain tensor and name their classes in `labels`.
    const output: OutputSchema = metadata.output ?? {
      task: 'classification',
      labels: metadata.labels ?? (data.output.task === 'classification' ? data.output.labels : []),
    };
    const inputSize = modelInputShape(model).reduce((a, b) => a * b, 1);
    const test = adaptSplit(data.test, data, {
      ...(metadata.input ? { input: metadata.input } : {}),
      output,
      inputSize,
    });
    const result = evaluateModel(model, test, output);
    out(
      o.json
        ? `${JSON.stringify({ model: dir, data: spec.path, ...metricsSummary(result) }, null, 2)}\n`
        : formatEvaluation(dir, result),
    );
    return result;
  } catch (err) {
    return toUsageError(err);
  } finally {
    model.dispose();
  }
}

export function formatEvaluation(dir: string, r: Evaluation): string {
  if (r.task === 'regression') {
    return `${[
      `model ${dir} on ${r.count} test examples (target ${r.target})`,
      `test MAE: ${r.mae.toPrecision(4)} - RMSE: ${r.rmse.toPrecision(4)} - R²: ${r.r2.toFixed(4)} (loss ${r.loss.toFixed(4)} on the standardised target)`,
    ].join('\n')}\n`;
  }
  const width = Math.max(5, ...r.labels.map((l) => l.length));
  const lines = [
    `model ${dir} on ${r.count} test examples`,
    `test loss: ${r.loss.toFixed(4)} - test accuracy: ${r.accuracy.toFixed(4)} (${(r.accuracy * 100).toFixed(2)}%)`,
    '',
    `${'label'.padStart(width)}  precision  recall      F1  support`,
    ...r.perClass.map(
      (c) =>
        `${c.label.padStart(width)}  ${c.precision.toFixed(4).padStart(9)}  ${c.recall.toFixed(4).padStart(6)}  ${c.f1.toFixed(4).padStart(6)}  ${String(c.support).padStart(7)}`,
    ),
    '',
    'confusion matrix (rows: true label, columns: predicted)',
    `${' '.repeat(width)} ${r.labels.map((l) => l.padStart(width)).join(' ')}`,
    ...r.confusionMatrix.map(
      (row, i) =>
        `${(r.labels[i] ?? String(i)).padStart(width)} ${row.map((n) => String(n).padStart(width)).join(' ')}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
