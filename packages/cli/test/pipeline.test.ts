/**
 * The whole MNIST pipeline through the real CLI on a small budget (1,000 examples per split, a few trials,
 * 1-3 epochs): tune -> trials -> train -> evaluate, then the exported model loads and predicts above chance.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset } from '@tuneserve/data';
import { limitSamples } from '@tuneserve/pipeline';
import { loadLayersModel } from '@tuneserve/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/program.js';
import { runCli } from './cli-helpers.js';

const SMALL = ['--limit-samples', '1000'];
let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-pipeline-'));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('tune -> trials -> train -> evaluate', () => {
  it('exports a model that loads and predicts above chance, with full metadata and a report', async () => {
    const tuned = await runCli(
      [
        'tune',
        '--space',
        'seed',
        '--tuner',
        'random',
        '--max-trials',
        '2',
        '--executions-per-trial',
        '1',
        '--epochs',
        '2',
        '--seed',
        '7',
        ...SMALL,
      ],
      cwd,
    );
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.stdout).toMatch(/#1 trial \d+ score 0\.\d+/);

    const trials = await runCli(['trials', '--json'], cwd);
    expect(trials.code, trials.stderr).toBe(0);
    const study = JSON.parse(trials.stdout) as {
      trials: { status: string; hyperparameters: Record<string, unknown> }[];
    };
    expect(study.trials).toHaveLength(2);
    for (const t of study.trials) {
      expect(t.status).toBe('COMPLETED');
      expect([16, 32, 48, 64]).toContain(t.hyperparameters.units);
      expect(['rmsprop', 'adam']).toContain(t.hyperparameters.optimizer);
    }
    const table = await runCli(['trials'], cwd);
    expect(table.stdout).toMatch(/trial\s+status\s+val_accuracy/);

    const trained = await runCli(['train', '--max-epochs', '3', '--patience', '2', ...SMALL], cwd);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stdout).toMatch(/Best epoch: [1-3]/);
    expect(trained.stdout).toMatch(/test loss: \d\.\d{4} - test accuracy: 0\.\d{4}/);

    const dir = join(cwd, 'models', 'mnist', '1');
    const metadata = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
    expect(metadata.version).toBe(1);
    expect(metadata.hyperparameters).toHaveProperty('units');
    expect(metadata.testMetrics.confusionMatrix).toHaveLength(10);
    expect(metadata.testMetrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(1000);
    expect(metadata.testMetrics.perClass).toHaveLength(10);
    expect(metadata.training.retrainEpochs).toBe(Math.max(1, Math.floor(metadata.training.bestEpoch * 1.2)));
    for (const f of ['report.html', 'trials.svg', 'best-epoch.svg', 'confusion-matrix.svg', 'best-trial-curves.svg']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('<svg');

    const model = await loadLayersModel(dir);
    const test = limitSamples(await loadDataset('mnist'), 500).test;
    const predicted = tf.tidy(() =>
      Array.from((model.predict(tf.tensor2d(test.x, [500, 784])) as tf.Tensor).argMax(-1).dataSync()),
    );
    model.dispose();
    const accuracy = predicted.filter((p, i) => p === test.y[i]).length / 500;
    expect(accuracy).toBeGreaterThan(0.5); // chance is 0.1

    const evaluated = await runCli(['evaluate', '--model', join('models', 'mnist'), '--json', ...SMALL], cwd);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const evaluation = JSON.parse(evaluated.stdout);
    expect(evaluation.accuracy).toBeCloseTo(metadata.testMetrics.accuracy, 6);
    expect(evaluation.perClass[0]).toHaveProperty('precision');
  }, 300_000);
});

describe('bad input: a clear message and exit code 2', () => {
  it('the same --seed gives the same trials and hyperparameters; another seed does not', async () => {
    const tuneWith = async (seed: string, project: string) => {
      const run = await runCli(
        [
          'tune',
          '--space',
          'default',
          '--max-trials',
          '4',
          '--executions-per-trial',
          '1',
          '--epochs',
          '1',
          '--seed',
          seed,
          '--project-name',
          project,
          '--quiet',
          '--limit-samples',
          '300',
        ],
        cwd,
      );
      expect(run.code, run.stderr).toBe(0);
      const listed = await runCli(['trials', '--json', '--project-name', project], cwd);
      expect(listed.code, listed.stderr).toBe(0);
      const study = JSON.parse(listed.stdout) as { trials: { hyperparameters: Record<string, unknown> }[] };
      expect(study.trials).toHaveLength(4);
      return study.trials.map((t) => t.hyperparameters);
    };
    const first = await tuneWith('11', 'seeded-a');
    const again = await tuneWith('11', 'seeded-b');
    const other = await tuneWith('12', 'seeded-c');
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  }, 300_000);

  it("--retrain continue keeps training the best-epoch search's model, as the reference's code does", async () => {
    const run = await runCli(
      [
        'train',
        '--hp',
        '{"units":16,"optimizer":"adam"}',
        '--space',
        'seed',
        '--retrain',
        'continue',
        '--max-epochs',
        '2',
        '--models-dir',
        'continued-models',
        ...SMALL,
      ],
      cwd,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Best epoch: [12] \(of 2 run\); continued it for [12] epochs on train\+val/);
    const model = await loadLayersModel(join(cwd, 'continued-models', 'mnist', '1'));
    const meta = JSON.parse(await readFile(join(cwd, 'continued-models', 'mnist', '1', 'metadata.json'), 'utf8')) as {
      testMetrics: { accuracy: number };
    };
    expect(meta.testMetrics.accuracy).toBeGreaterThan(0.2);
    model.dispose();
  });

  // In-process through main() (what bin.js runs), so a dozen cases do not pay a dozen process starts;
  // one case also goes through the real binary.
  async function mainCapture(args: string[], dir: string): Promise<{ code: number; stderr: string }> {
    const previous = process.cwd();
    let stderr = '';
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    }) as typeof process.stderr.write;
    process.chdir(dir);
    try {
      return { code: await main(args), stderr };
    } finally {
      process.chdir(previous);
      process.stderr.write = write;
    }
  }

  it('rejects bad flags, unknown spaces, missing studies, corrupt models and bad --hp', async () => {
    const corrupt = join(cwd, 'corrupt-model');
    await mkdir(corrupt, { recursive: true });
    await writeFile(join(corrupt, 'model.json'), '{"modelTopology": ');
    const empty = await mkdtemp(join(tmpdir(), 'tuneserve-empty-'));
    try {
      const cases: [string[], RegExp][] = [
        [['tune', '--max-trials', 'abc'], /--max-trials must be a positive integer/],
        [
          ['tune', '--tuner', 'genetic'],
          /--tuner must be one of random, grid, bayesian, hyperband, nsga2, tpe; got "genetic"/,
        ],
        [['tune', '--pruner', 'lazy'], /--pruner must be one of none, median, asha/],
        [['tune', '--space', 'huge', ...SMALL], /unknown search space "huge"/],
        [['tune', '--space', 'nope.js', ...SMALL], /search space file .*nope\.js does not exist/],
        [['tune', '--data-dir', join(empty, 'missing'), '--space', 'seed'], /missing.*(does not exist|not a data set)/],
        [['tune', '--space', 'seed', '--objective', 'val_fancy', ...SMALL], /val_fancy/],
        [['train', '--project-name', 'ghost'], /no study "ghost"/],
        [['trials', '--directory', empty], /no study "mnist"/],
        [['evaluate', '--model', corrupt, ...SMALL], /corrupt-model/],
        [['evaluate', '--model', join(empty, 'none')], /does not exist/],
        [['train', '--hp', '{units:64'], /--hp is not valid JSON/],
        [['train', '--hp', '{"units":60}', '--space', 'seed', ...SMALL], /units=60 is not a valid value/],
        [['train', '--hp', '{"width":3}', '--space', 'seed', ...SMALL], /"width" is not part of the seed space/],
        [['train', '--name', '../escape', '--hp', '{}'], /--name must be a plain folder name/],
        [['train', '--retrain', 'sideways', '--hp', '{}'], /--retrain.*sideways.*fresh, continue/s],
      ];
      for (const [args, message] of cases) {
        const r = await mainCapture(args, empty);
        expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /); // no stack trace
      }
      const real = await runCli(['train', '--project-name', 'ghost'], empty);
      expect(real.code).toBe(2);
      expect(real.stderr).toMatch(/tuneserve: no study "ghost"/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  }, 300_000);
});
