/**
 * Bring your own data, through the real CLI on data the test generates: a CSV classification with a categorical
 * column, a CSV regression and a colour image folder with three classes — tune on a tiny budget, train, evaluate,
 * export, load, predict above the trivial baseline — plus seeded reproducibility and bad-data errors.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelMetadataJson } from '@tuneserve/client';
import { loadDataset, type SplitRecord } from '@tuneserve/data';
import { type DataSpec, evaluateModel } from '@tuneserve/pipeline';
import { initBackend, loadLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourFolder, flowerRows, regressionRows, writeLines } from '../../data/test/fixtures.js';
import { runCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  await initBackend({ log: false });
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-own-data-'));
  await writeLines(cwd, 'flowers.csv', flowerRows(300));
  await writeLines(cwd, 'more-flowers.csv', flowerRows(90, 7));
  await writeLines(cwd, 'prices.csv', regressionRows(400));
  await colourFolder(join(cwd, 'colours'), 20);
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const TINY = ['--tuner', 'random', '--max-trials', '2', '--executions-per-trial', '1', '--quiet'];

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args, cwd);
  expect(r.code, `tuneserve ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

async function metadataOf(dir: string): Promise<ModelMetadataJson> {
  return JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as ModelMetadataJson;
}

/** The exported model predicts the recorded test split as evaluate says, loaded the way a user would. */
async function reloadAndScore(dir: string) {
  const meta = await metadataOf(dir);
  const training = meta.training as { data: DataSpec; split: SplitRecord };
  const { path, limitSamples: _limit, ...options } = training.data;
  const data = await loadDataset(join(cwd, path), { ...options, split: training.split });
  const model = await loadLayersModel(dir);
  try {
    return { meta, data, evaluation: evaluateModel(model, data.test, meta.output!) };
  } finally {
    model.dispose();
  }
}

describe('a CSV classification with a categorical column', () => {
  it('tunes, trains, exports with its schema, evaluates above the majority class, and evaluates other files', async () => {
    const tuned = await cli(['tune', '--data', 'flowers.csv', '--epochs', '15', '--seed', '3', ...TINY]);
    expect(tuned).toMatch(/flowers\.csv: 300 rows/);
    expect(tuned).toMatch(/tuning space "tabular"/);
    expect(tuned).toMatch(/objective val_accuracy/);
    const trained = await cli(['train', '--project-name', 'flowers', '--max-epochs', '30', '--patience', '5']);
    expect(trained).toMatch(/test accuracy: [01]\.\d{4}/);
    expect(trained).toMatch(/exported flowers version 1/);

    const dir = join(cwd, 'models', 'flowers', '1');
    const { meta, data, evaluation } = await reloadAndScore(dir);
    expect(meta.input?.kind).toBe('tabular');
    expect(meta.output).toEqual({ task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] });
    expect(meta.labels).toEqual(['setosa', 'versicolor', 'virginica']);
    const colour = meta.input?.kind === 'tabular' ? meta.input.features.find((f) => f.name === 'colour') : undefined;
    expect(colour?.type).toBe('category');
    expect(meta.testMetrics?.perClass?.[0]).toHaveProperty('f1');
    expect(existsSync(join(dir, 'confusion-matrix.svg'))).toBe(true);
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('F1');

    // The majority class of the test split is the trivial baseline.
    const counts = [0, 0, 0];
    for (const y of data.test.y) counts[y]!++;
    const majority = Math.max(...counts) / data.test.count;
    expect(evaluation.task).toBe('classification');
    if (evaluation.task !== 'classification') return;
    expect(evaluation.accuracy).toBeGreaterThan(majority + 0.25);
    expect(evaluation.accuracy).toBeCloseTo(meta.testMetrics?.accuracy ?? -1, 6);

    const evaluated = JSON.parse(await cli(['evaluate', '--model', join('models', 'flowers'), '--json']));
    expect(evaluated.accuracy).toBeCloseTo(evaluation.accuracy, 6);
    expect(evaluated.confusionMatrix).toHaveLength(3);
    // Another file of the same schema: encoded with the model's own preprocessing, classes matched by name.
    const other = JSON.parse(
      await cli(['evaluate', '--model', join('models', 'flowers'), '--data', 'more-flowers.csv', '--json']),
    );
    expect(other.accuracy).toBeGreaterThan(0.6);
  }, 300_000);

  it('the same --seed gives the same trials and the same test accuracy; train --hp uses the study space', async () => {
    const run = async (project: string) => {
      await cli(['tune', '--data', 'flowers.csv', '--project-name', project, '--epochs', '5', '--seed', '9', ...TINY]);
      const trials = JSON.parse(await cli(['trials', '--project-name', project, '--json'])) as {
        trials: { hyperparameters: Record<string, unknown>; score: number }[];
      };
      await cli(['train', '--project-name', project, '--name', project, '--max-epochs', '8', '--patience', '3']);
      const meta = await metadataOf(join(cwd, 'models', project, '1'));
      return { trials: trials.trials.map((t) => [t.hyperparameters, t.score]), test: meta.testMetrics };
    };
    const a = await run('seeded-a');
    const b = await run('seeded-b');
    expect(b.trials).toEqual(a.trials);
    expect(b.test).toEqual(a.test);

    // --hp on this study is checked against its recorded space (tabular), not MNIST's default.
    const manual = await cli([
      'train',
      '--project-name',
      'seeded-a',
      '--name',
      'manual',
      '--hp',
      '{"layers":1,"units":32,"optimizer":"adam"}',
      '--max-epochs',
      '3',
    ]);
    expect(manual).toMatch(/"units":32/);
    expect((await metadataOf(join(cwd, 'models', 'manual', '1'))).input?.kind).toBe('tabular');
  }, 300_000);
});

describe('a CSV regression', () => {
  it('trains a linear-output model on the standardised target and beats the mean baseline', async () => {
    const tuned = await cli(['tune', '--data', 'prices.csv', '--epochs', '15', '--seed', '1', ...TINY]);
    expect(tuned).toMatch(/objective val_loss/);
    const trained = await cli(['train', '--project-name', 'prices', '--max-epochs', '40', '--patience', '5']);
    expect(trained).toMatch(/test MAE: [\d.]+ - RMSE: [\d.]+ - R²: 0\.\d{4}/);

    const dir = join(cwd, 'models', 'prices', '1');
    const { meta, evaluation } = await reloadAndScore(dir);
    expect(meta.output?.task).toBe('regression');
    expect(evaluation.task).toBe('regression');
    if (evaluation.task !== 'regression') return;
    // Predicting the mean gives R² = 0; y = 3a - 2b + 5 [north] + noise is easy to learn.
    expect(evaluation.r2).toBeGreaterThan(0.8);
    expect(existsSync(join(dir, 'predicted-vs-actual.svg'))).toBe(true);
    const evaluated = JSON.parse(await cli(['evaluate', '--model', join('models', 'prices'), '--json']));
    for (const key of ['mae', 'rmse', 'r2']) expect(evaluated[key]).toBeCloseTo(meta.testMetrics?.[key] as number, 6);
    expect(evaluated).not.toHaveProperty('accuracy');
  }, 300_000);
});

describe('a colour image folder with three classes', () => {
  it('tunes the image space, trains, and predicts well above chance', async () => {
    const tuned = await cli([
      'tune',
      '--data',
      'colours',
      '--image-size',
      '12x12',
      '--space',
      'image',
      '--epochs',
      '4',
      '--seed',
      '2',
      ...TINY,
    ]);
    expect(tuned).toMatch(/tuning space "image"/);
    await cli(['train', '--project-name', 'colours', '--max-epochs', '8', '--patience', '3']);
    const dir = join(cwd, 'models', 'colours', '1');
    const { meta, evaluation } = await reloadAndScore(dir);
    expect(meta.input).toMatchObject({ kind: 'image', width: 12, height: 12, channels: 3 });
    expect(meta.output).toEqual({ task: 'classification', labels: ['blue', 'green', 'red'] });
    if (evaluation.task !== 'classification') throw new Error('expected classification');
    expect(evaluation.accuracy).toBeGreaterThan(0.6); // chance is 1/3
  }, 300_000);
});

describe('up --data and bad data', () => {
  it('up tunes on the quick budget, trains and exports under the data name', async () => {
    const args = ['up', '--data', 'flowers.csv', '--no-serve', '--max-trials', '1', '--epochs', '5', '--seed', '4'];
    const out = await cli([...args, '--models-dir', 'up-models', '--directory', 'up-tuning']);
    expect(out).toMatch(/tuning space "tabular"/);
    expect(out).toMatch(/exported flowers version 1 to .*up-models/);
    const again = await cli([...args, '--models-dir', 'up-models', '--directory', 'up-tuning']);
    expect(again).toMatch(/model flowers version 1 found/);
  }, 300_000);

  it('bad data: one line naming file, line and column, exit code 2', async () => {
    await writeFile(join(cwd, 'ragged.csv'), 'a,b,label\n1,2,x\n3,4\n');
    // Text after the rows that decided the column is numeric.
    const rows = Array.from({ length: 1200 }, (_, i) => `${i},${i === 1100 ? 'oops' : i},${i % 2 ? 'x' : 'y'}`);
    await writeFile(join(cwd, 'text.csv'), `a,b,label\n${rows.join('\n')}\n`);
    for (const [file, pattern] of [
      ['ragged.csv', /ragged\.csv:3/],
      ['text.csv', /text\.csv:1102, column 'b'/],
    ] as const) {
      const r = await runCli(['tune', '--data', file, '--max-trials', '1'], cwd);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const missing = await runCli(['tune', '--data', 'flowers.csv', '--target', 'nope'], cwd);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope/);
  }, 120_000);
});
