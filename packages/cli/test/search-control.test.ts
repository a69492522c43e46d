/**
 * How a search is run and bounded, through the real CLI on a small generated CSV: k-fold cross-validation
 * (`--cv`), a time budget (`--timeout`) and configurations queued from a file (`--enqueue`), with their
 * bad-input errors (exit 2, one line naming the flag or file).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StudyView } from '@tuneserve/tuner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colourFolder, flowerRows, writeLines } from '../../data/test/fixtures.js';
import { runCli } from './cli-helpers.js';

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-search-control-'));
  await writeLines(cwd, 'flowers.csv', flowerRows(150));
  // Three classes, one of them with 4 rows only.
  const rare = flowerRows(150, 5);
  const virginica = rare.filter((l) => l.endsWith('virginica')).slice(0, 4);
  await writeLines(cwd, 'rare.csv', [...rare.filter((l) => !l.endsWith('virginica')), ...virginica]);
  await colourFolder(join(cwd, 'photos', 'train'), 6);
  await colourFolder(join(cwd, 'photos', 'val'), 2);
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const QUICK = ['--tuner', 'random', '--epochs', '4', '--quiet'];

async function cli(args: string[]): Promise<string> {
  const r = await runCli(args, cwd);
  expect(r.code, `tuneserve ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Runs a command that must fail as bad input: exit 2, one error line matching `message` (besides the backend's line). */
async function refused(args: string[], message: RegExp): Promise<void> {
  const r = await runCli(args, cwd);
  expect(r.code, `tuneserve ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(2);
  const errors = r.stderr.split('\n').filter((l) => /^(tuneserve|error): /.test(l));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(message);
}

async function studyJson(project: string): Promise<StudyView> {
  return JSON.parse(await cli(['trials', '--project-name', project, '--json'])) as StudyView;
}

describe('--cv', () => {
  it('scores each trial by the mean over k folds of train+val, stores and shows the spread, and trains after', async () => {
    const out = await cli(['tune', '--data', 'flowers.csv', '--cv', '3', '--max-trials', '2', '--seed', '4', ...QUICK]);
    expect(out).toMatch(/2 trials x 3-fold cross-validation x 4 epochs on 135 examples \(train \+ val\)/);
    expect(out).toMatch(/#1 trial \d+ score [01]\.\d{4} ± 0\.\d{4} /);

    const study = await studyJson('flowers');
    expect(study.trials).toHaveLength(2);
    for (const t of study.trials) {
      expect(t.status).toBe('COMPLETED');
      expect(typeof t.scoreStd).toBe('number');
      expect(t.finalMetrics.val_accuracy_std).toBe(t.scoreStd);
      // Three executions, one per fold, each on its own data.
      const progress = JSON.parse(
        await readFile(join(cwd, 'tuning', 'flowers', `trial_${t.trialId}`, 'progress.json'), 'utf8'),
      ) as { doneExecutions: number };
      expect(progress.doneExecutions).toBe(3);
    }
    const table = await cli(['trials', '--project-name', 'flowers']);
    expect(table).toMatch(/val_accuracy\s+± std\s+best epoch/);
    expect(table).toMatch(/COMPLETED\s+[01]\.\d{4}\s+0\.\d{4}\s+\d+/);
    const info = JSON.parse(await readFile(join(cwd, 'tuning', 'flowers', 'tuneserve-pipeline.json'), 'utf8')) as {
      cv?: number;
      split: { test: { rows: number[] } };
    };
    expect(info.cv).toBe(3);
    expect(info.split.test.rows).toHaveLength(15); // the test split is drawn as without --cv, and kept out

    // The best-epoch search and the retrain run on the study as usual.
    const trained = await cli(['train', '--project-name', 'flowers', '--max-epochs', '8', '--patience', '3']);
    expect(trained).toMatch(/test accuracy: [01]\.\d{4}/);
    expect(existsSync(join(cwd, 'models', 'flowers', '1', 'model.json'))).toBe(true);

    // Resuming the study without --cv would rank fold means against single-split scores.
    await refused(
      ['tune', '--data', 'flowers.csv', '--max-trials', '3', ...QUICK],
      /tuning[\\/]flowers was tuned with --cv 3; .*--overwrite/,
    );
  });

  it('reaches the search through `up` too', async () => {
    const out = await cli([
      'up',
      '--data',
      'flowers.csv',
      '--name',
      'flowers-up',
      '--no-serve',
      '--cv',
      '2',
      '--max-trials',
      '1',
      '--epochs',
      '3',
      '--max-epochs',
      '4',
    ]);
    expect(out).toMatch(/1 trials x 2-fold cross-validation x 3 epochs on 135 examples \(train \+ val\)/);
    expect(out).toMatch(/exported flowers-up version 1/);
    expect((await studyJson('flowers-up')).trials[0]?.scoreStd).toEqual(expect.any(Number));
  });

  it('refuses fewer than 2 folds, more folds than the smallest class, and data with its own validation split', async () => {
    await refused(['tune', '--data', 'flowers.csv', '--cv', '1'], /--cv must be an integer >= 2, got "1"/);
    await refused(
      ['tune', '--data', 'rare.csv', '--cv', '5', '--project-name', 'rare', ...QUICK],
      /rare: class "virginica" has 4 examples outside the test split, fewer than the 5 folds .*use at most 4 folds/,
    );
    expect(existsSync(join(cwd, 'tuning', 'rare', 'study.db'))).toBe(false);
    await refused(
      ['tune', '--data', 'photos', '--cv', '2', ...QUICK],
      /cross-validation draws its folds from the training data, but photos brings its own validation split/,
    );
  });
});

describe('--timeout', () => {
  it('starts no new trial once the time is up and says so', async () => {
    const out = await cli([
      'tune',
      '--data',
      'flowers.csv',
      '--project-name',
      'timed',
      '--timeout',
      '1',
      '--max-trials',
      '500',
      '--executions-per-trial',
      '1',
      ...QUICK,
    ]);
    expect(out).toMatch(/no new trial after 1 s/);
    expect(out).toMatch(/--timeout 1 s reached: no new trial started/);
    const study = await studyJson('timed');
    expect(study.trials.length).toBeGreaterThanOrEqual(1);
    expect(study.trials.length).toBeLessThan(500);
  });

  it('refuses a timeout that is not a positive integer', async () => {
    await refused(['tune', '--timeout', '0'], /--timeout must be a positive integer, got "0"/);
  });
});

describe('--enqueue', () => {
  it('runs the queued configurations first, once each, even when given again on resume', async () => {
    const first = { layers: 1, units: 32, dropout: 0, learning_rate: 0.01, optimizer: 'adam', batch_size: 16 };
    const second = { layers: 3, units: 16, optimizer: 'rmsprop' };
    await writeFile(join(cwd, 'seeds.json'), JSON.stringify([first, second]));
    const args = ['tune', '--data', 'flowers.csv', '--project-name', 'queued', '--enqueue', 'seeds.json'];
    await cli([...args, '--max-trials', '3', '--executions-per-trial', '1', ...QUICK]);
    let study = await studyJson('queued');
    expect(study.trials.map((t) => t.trialId)).toEqual(['0', '1', '2']);
    expect(study.trials[0]?.hyperparameters).toEqual(first);
    expect(study.trials[1]?.hyperparameters).toMatchObject(second);
    // Values not given take the space's defaults.
    expect(study.trials[1]?.hyperparameters).toMatchObject({ dropout: 0.1, learning_rate: 0.003, batch_size: 32 });

    await cli([...args, '--max-trials', '4', '--executions-per-trial', '1', ...QUICK]);
    study = await studyJson('queued');
    expect(study.trials).toHaveLength(4);
    // Matched on every queued value: the resumed (unseeded) random trial may draw 1 layer of 32 units by chance.
    const enqueued = study.trials.filter((t) =>
      Object.entries(first).every(([name, value]) => t.hyperparameters[name] === value),
    );
    expect(enqueued).toHaveLength(1);
  });

  it('names the file and the problem: bad JSON, a wrong shape, an unknown hyperparameter, a value out of range', async () => {
    await writeFile(join(cwd, 'broken.json'), '[{"units": 32},\n {"layers": 2,}]');
    await refused(
      ['tune', '--data', 'flowers.csv', '--enqueue', 'broken.json'],
      /broken\.json is not valid JSON \(line 2, column 15\): Expected double-quoted property name/,
    );
    await writeFile(join(cwd, 'shape.json'), '[{"units": 32}, [1, 2]]');
    await refused(
      ['tune', '--data', 'flowers.csv', '--enqueue', 'shape.json'],
      /shape\.json: entry 2 must be a JSON object/,
    );
    await writeFile(join(cwd, 'nested.json'), '{"units": {"min": 1}}');
    await refused(
      ['tune', '--data', 'flowers.csv', '--enqueue', 'nested.json'],
      /nested\.json: the value of "units" must be a number, string or boolean/,
    );
    await refused(
      ['tune', '--data', 'flowers.csv', '--enqueue', 'missing.json'],
      /missing\.json: cannot read \(ENOENT\)/,
    );
    await writeFile(join(cwd, 'unknown.json'), '[{"units": 32}, {"unit": 32}]');
    await refused(
      ['tune', '--data', 'flowers.csv', '--project-name', 'bad-queue', '--enqueue', 'unknown.json', ...QUICK],
      /unknown\.json: entry 2: hyperparameter "unit" is not part of the tabular space \(it has: layers, units, /,
    );
    await writeFile(join(cwd, 'range.json'), '{"units": 1000}');
    await refused(
      ['tune', '--data', 'flowers.csv', '--project-name', 'bad-queue', '--enqueue', 'range.json', ...QUICK],
      /range\.json: hyperparameter units=1000 is not a valid value in the tabular space/,
    );
  });
});
