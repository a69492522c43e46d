/**
 * `tuneserve up` (= `npm start`): when no model exists, tune and train one on a quick budget, then serve it with
 * the web page, the study dashboard and test-set samples. A second run serves at once.
 */
import { join } from 'node:path';
import { ModelRepository } from '@tuneserve/runtime';
import type { Command } from 'commander';
import { nonNegativeInt, positiveInt } from '../adapters/flags.js';
import { mnistSampleSource, studySourceFor } from '../adapters/sources.js';
import { startServe } from './serve.js';
import { resolveServeOptions } from './serve-options.js';
import { train } from './train.js';
import { addDataOptions, addStudyOptions, type DataFlags, type StudyFlags, tune } from './tune.js';

interface UpFlags extends StudyFlags, DataFlags {
  modelsDir: string;
  name: string;
  host?: string;
  port?: number;
  serve: boolean;
  maxTrials: number;
  epochs: number;
  maxEpochs: number;
  seed?: number;
}

/**
 * The quick budget (about 2-3 minutes on 2 idle cores with the runtime's wasm fixes and OpenBLAS): the MLP-only
 * default space, 3 Bayesian trials x 1 execution x 2 epochs, then a best-epoch search of at most 10 epochs
 * (patience 2) and the retrain on train+val (at most 12 epochs).
 */
export const QUICK_BUDGET = {
  space: 'mlp',
  maxTrials: 3,
  executionsPerTrial: 1,
  epochs: 2,
  maxEpochs: 10,
  patience: 2,
};

export function registerUp(program: Command): void {
  const cmd = program
    .command('up')
    .description(
      'Tune and train a model if none exists yet (quick budget, about 2-3 minutes on 2 cores), then serve it',
    )
    .option('--models-dir <dir>', 'where model versions are stored', 'models')
    .option('--name <name>', 'model name (a folder under --models-dir)', 'mnist')
    .option('--host <host>', 'address to listen on (default: HOST env, else 127.0.0.1 without API keys, else 0.0.0.0)')
    .option('--port <n>', "port to listen on (default: serve's, PORT env or 8080)", nonNegativeInt('--port'))
    .option('--no-serve', 'stop after making sure a model exists')
    .option('--max-trials <n>', 'quick-budget trials', positiveInt('--max-trials'), QUICK_BUDGET.maxTrials)
    .option('--epochs <n>', 'quick-budget epochs per trial', positiveInt('--epochs'), QUICK_BUDGET.epochs)
    .option(
      '--max-epochs <n>',
      'quick-budget bound of the best-epoch search',
      positiveInt('--max-epochs'),
      QUICK_BUDGET.maxEpochs,
    )
    .option('--seed <n>', 'random seed of the quick search', nonNegativeInt('--seed'));
  addStudyOptions(cmd);
  addDataOptions(cmd);
  cmd.action(async (o: UpFlags) => {
    await up(o);
  });
}

const log = (line: string) => process.stdout.write(`${line}\n`);

export async function up(o: UpFlags): Promise<void> {
  const repo = new ModelRepository(join(o.modelsDir, o.name));
  const latest = await repo.latestVersion();
  if (latest !== undefined) {
    log(`model ${o.name} version ${latest} found in ${repo.versionDir(latest)}; serving it`);
  } else {
    log(`no model in ${repo.root} yet: tuning and training one on the quick budget (about 2-3 minutes on 2 cores)`);
    await quickPipeline(o);
  }
  if (!o.serve) return;
  const serveOptions = resolveServeOptions({
    model: join(o.modelsDir, o.name),
    host: o.host ?? (process.env.HOST?.trim() || (keysConfigured() ? undefined : '127.0.0.1')),
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
  const study = { directory: o.directory, projectName: o.projectName, ...(o.storage ? { storage: o.storage } : {}) };
  const handle = await startServe(serveOptions, {
    study: studySourceFor(study),
    samples: await mnistSampleSource(o.dataDir),
  });
  const where = ['0.0.0.0', '::'].includes(serveOptions.host) ? 'every interface' : serveOptions.host;
  log(`tuneserve is up: open ${handle.url}/ (listening on ${where}; Ctrl-C stops)`);
  await handle.closed;
}

async function quickPipeline(o: UpFlags): Promise<void> {
  const common = {
    directory: o.directory,
    projectName: o.projectName,
    ...(o.storage ? { storage: o.storage } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}),
  };
  const tuneFlags = {
    ...common,
    space: QUICK_BUDGET.space,
    maxTrials: o.maxTrials,
    executionsPerTrial: QUICK_BUDGET.executionsPerTrial,
    epochs: o.epochs,
    batchSize: 128,
    objective: 'val_accuracy',
    overwrite: false,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    pruner: 'none' as const,
  };
  await tune({ ...tuneFlags, tuner: 'bayesian' }, log);
  await train(
    {
      ...common,
      top: 1,
      maxEpochs: o.maxEpochs,
      patience: QUICK_BUDGET.patience,
      retrain: 'fresh',
      modelsDir: o.modelsDir,
      name: o.name,
    },
    log,
  );
}

/**
 * Without keys every route is open, so `up` (a laptop's quick start) listens on loopback unless told otherwise;
 * containers run `serve` with HOST set, and a keyed `up` keeps serve's default of every interface.
 */
const keysConfigured = (): boolean => Boolean(process.env.API_KEYS?.trim() || process.env.API_KEY_FILE?.trim());
