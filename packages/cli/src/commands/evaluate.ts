import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIGIT_LABELS, type Evaluation, evaluateModel } from '@tuneserve/mnist';
import { initBackend, loadLayersModel, ModelRepository } from '@tuneserve/runtime';
import type { Command } from 'commander';
import { toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';
import { addDataOptions, type DataFlags, loadData } from './tune.js';

interface EvaluateFlags extends DataFlags {
  model: string;
  json?: boolean;
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('Test loss, accuracy, per-class precision/recall and the confusion matrix of a saved model')
    .requiredOption('--model <dir>', 'a model version directory (or a model folder: its latest version is used)')
    .option('--json', 'print JSON instead of tables', false);
  addDataOptions(cmd);
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

export async function evaluate(o: EvaluateFlags, out: (text: string) => void = (t) => process.stdout.write(t)) {
  const dir = await modelDir(o.model);
  await initBackend({ log: false });
  const model = await loadLayersModel(dir).catch(toUsageError);
  try {
    const data = await loadData(o).catch(toUsageError);
    const inputSize = Number(model.inputs[0]?.shape.at(-1));
    const pixels = data.test.rows * data.test.cols;
    if (inputSize !== pixels) {
      throw new UsageError(`${dir}: the model takes ${inputSize} inputs but the test images have ${pixels} pixels`);
    }
    const result = evaluateModel(model, data.test, DIGIT_LABELS);
    out(o.json ? `${JSON.stringify({ model: dir, ...result }, null, 2)}\n` : formatEvaluation(dir, result));
    return result;
  } finally {
    model.dispose();
  }
}

export function formatEvaluation(dir: string, r: Evaluation): string {
  const lines = [
    `model ${dir} on ${r.count} test images`,
    `test loss: ${r.loss.toFixed(4)} - test accuracy: ${r.accuracy.toFixed(4)} (${(r.accuracy * 100).toFixed(2)}%)`,
    '',
    'label  precision  recall',
    ...r.perClass.map(
      (c) => `${c.label.padStart(5)}  ${c.precision.toFixed(4).padStart(9)}  ${c.recall.toFixed(4).padStart(6)}`,
    ),
    '',
    'confusion matrix (rows: true label, columns: predicted)',
    `      ${r.perClass.map((c) => c.label.padStart(5)).join('')}`,
    ...r.confusionMatrix.map(
      (row, i) =>
        `${(r.perClass[i]?.label ?? String(i)).padStart(5)} ${row.map((n) => String(n).padStart(5)).join('')}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
