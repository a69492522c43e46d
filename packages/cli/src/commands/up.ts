/**
 * `tuneserve up` (= `npm start`): when no model exists, tune and train one on a quick budget, then serve it with
 * the web page, the study dashboard and test-set samples. A second run serves at once.
 */
import { join } from 'node:path';
import { type Dataset, idxLoader } from '@tuneserve/data';
import { ModelRepository } from '@tuneserve/runtime';
import type { Command } from 'commander';
import { addDataOptions, type DataFlags, loadData } from '../adapters/data.js';
import { nonNegativeInt, positiveInt } from '../adapters/flags.js';
import { SplitSampleSource, studySourceFor } from '../adapters/sources.js';
import { startServe } from './serve.js';
import { resolveServeOptions } from './serve-options.js';
import { train } from './train.js';
import {
  addSearchControlOptions,
  addStudyOptions,
  nameForData,
  type StudyFlags,
  type TuneFlags,
  tune,
  tuneDataSpec,
} from './tune.js';

interface UpFlags extends StudyFlags, DataFlags, Pick<TuneFlags, 'cv' | 'timeout' | 'enqueue'> {
  modelsDir: string;
  /** Default: named after the data. */
  name?: string;
  host?: string;
  port?: number;
  serve: boolean;
  maxTrials: number;
  epochs?: number;
  maxEpochs?: number;
  seed?: number;
}

/**
 * The quick budget. On MNIST (about 2-3 minutes on 2 idle cores with the runtime's wasm fixes and OpenBLAS): the
 * MLP-only default space, 3 Bayesian trials x 1 execution x 2 epochs, then a best-epoch search of at most 10 epochs
 * (patience 2) and the retrain on train+val (at most 12 epochs). Smaller data sets get more epochs (below).
 */
export const QUICK_BUDGET = {
  space: 'mlp',
  maxTrials: 3,
  executionsPerTrial: 1,
  epochs: 2,
  maxEpochs: 10,
  patience: 2,
};

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(v)));

/**
 * Epochs for `trainCount` training examples: about 100k examples seen per trial and up to 500k in the best-epoch
 * search, so a 150-row table trains for tens of epochs while MNIST keeps its 2 and 10.
 */
export function quickEpochs(trainCount: number): { epochs: number; maxEpochs: number; patience: number } {
  const maxEpochs = clamp(500_000 / trainCount, QUICK_BUDGET.maxEpochs, 200);
  return {
    epochs: clamp(100_000 / trainCount, QUICK_BUDGET.epochs, 50),
    maxEpochs,
    patience: clamp(maxEpochs / 10, QUICK_BUDGET.patience, 10),
  };
}

export function registerUp(program: Command): void {
  const cmd = program
    .command('up')
    .description(
      'Tune and train a model if none exists yet (quick budget, about 2-3 minutes on 2 cores), then serve it',
    )
    .option('--models-dir <dir>', 'where model versions are stored', 'models')
    .option('--name <name>', 'model name, a folder under --models-dir (default: named after the data)')
    .option('--host <host>', 'address to listen on (default: HOST env, else 127.0.0.1 without API keys, else 0.0.0.0)')
    .option('--port <n>', "port to listen on (default: serve's, PORT env or 8080)", nonNegativeInt('--port'))
    .option('--no-serve', 'stop after making sure a model exists')
    .option('--max-trials <n>', 'quick-budget trials', positiveInt('--max-trials'), QUICK_BUDGET.maxTrials)
    .option(
      '--epochs <n>',
      'quick-budget epochs per trial (default: 2 on MNIST, more on smaller data)',
      positiveInt('--epochs'),
    )
    .option(
      '--max-epochs <n>',
      'quick-budget bound of the best-epoch search (default: 10 on MNIST, more on smaller data)',
      positiveInt('--max-epochs'),
    )
    .option('--seed <n>', 'random seed of the split, the quick search and the training', nonNegativeInt('--seed'));
  addSearchControlOptions(cmd);
  addStudyOptions(cmd);
  addDataOptions(cmd);
  cmd.action(async (o: UpFlags) => {
    await up(o);
  });
}

const log = (line: string) => process.stdout.write(`${line}\n`);

export async function up(o: UpFlags): Promise<void> {
  const spec = tuneDataSpec(o, o.seed);
  const name = o.name ?? nameForData(spec.path);
  const projectName = o.projectName ?? name;
  const repo = new ModelRepository(join(o.modelsDir, name));
  const latest = await repo.latestVersion();
  let data: Dataset | undefined;
  if (latest !== undefined) {
    log(`model ${name} version ${latest} found in ${repo.versionDir(latest)}; serving it`);
  } else {
    log(
      `no model in ${repo.root} yet: tuning and training one on the quick budget (about 2-3 minutes on 2 cores for MNIST)`,
    );
    data = await quickPipeline({ ...o, projectName }, name);
  }
  if (!o.serve) return;
  const serveOptions = resolveServeOptions({
    model: join(o.modelsDir, name),
    host: o.host ?? (process.env.HOST?.trim() || (keysConfigured() ? undefined : '127.0.0.1')),
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
  const study = { directory: o.directory, projectName, ...(o.storage ? { storage: o.storage } : {}) };
  const handle = await startServe(serveOptions, {
    study: studySourceFor(study, { onError: (line) => process.stderr.write(`tuneserve: ${line}\n`) }),
    samples: testSamples(data ?? (await loadData(spec))),
  });
  const where = ['0.0.0.0', '::'].includes(serveOptions.host) ? 'every interface' : serveOptions.host;
  log(`tuneserve is up: open ${handle.url}/ (listening on ${where}; Ctrl-C stops)`);
  await handle.closed;
}

/** The data's test examples with its schema, so the page can show a table row as named values and its answer. */
function testSamples(data: Dataset): SplitSampleSource {
  return new SplitSampleSource(data.test, data.input, data.output);
}

async function quickPipeline(o: UpFlags & { projectName: string }, name: string): Promise<Dataset> {
  const spec = tuneDataSpec(o, o.seed);
  const data = await loadData(spec);
  // IDX digits keep the measured MNIST quick space; other data get the default space of their kind.
  const digits = await idxLoader.accepts(spec.path);
  const budget = quickEpochs(data.train.count);
  const common = {
    directory: o.directory,
    projectName: o.projectName,
    ...(o.storage ? { storage: o.storage } : {}),
  };
  await tune(
    {
      ...o,
      ...common,
      space: digits ? QUICK_BUDGET.space : 'auto',
      tuner: 'bayesian',
      maxTrials: o.maxTrials,
      executionsPerTrial: QUICK_BUDGET.executionsPerTrial,
      epochs: o.epochs ?? budget.epochs,
      batchSize: 128,
      overwrite: false,
      pruner: 'none',
    },
    log,
    data,
  );
  await train(
    {
      ...common,
      top: 1,
      maxEpochs: o.maxEpochs ?? budget.maxEpochs,
      patience: budget.patience,
      retrain: 'fresh',
      modelsDir: o.modelsDir,
      name,
      ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}),
    },
    log,
  );
  return data;
}

/**
 * Without keys every route is open, so `up` (a laptop's quick start) listens on loopback unless told otherwise;
 * containers run `serve` with HOST set, and a keyed `up` keeps serve's default of every interface.
 */
const keysConfigured = (): boolean => Boolean(process.env.API_KEYS?.trim() || process.env.API_KEY_FILE?.trim());
