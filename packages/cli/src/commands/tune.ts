import { basename, extname, join } from 'node:path';
import type { Dataset } from '@tuneserve/data';
import { registerMnistSpaces } from '@tuneserve/mnist';
import {
  type DataSpec,
  defaultObjective,
  describeObjective,
  EnqueueError,
  type ObjectiveChoice,
  PRUNER_KINDS,
  type PrunerKind,
  readPipelineInfo,
  resolveSpace,
  runTune,
  spaceNames,
  TUNER_KINDS,
  type TunerKind,
  writePipelineInfo,
} from '@tuneserve/pipeline';
import { initBackend } from '@tuneserve/runtime';
import { HyperParameterError, inferDirection } from '@tuneserve/tuner';
import type { Command } from 'commander';
import { addDataOptions, type DataFlags, dataSpecFrom, loadData } from '../adapters/data.js';
import { integer, list, nonNegativeInt, oneOf, positiveInt } from '../adapters/flags.js';
import { readEnqueueFile } from '../adapters/hp-json.js';
import { exitOnInterrupt, toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';

export interface StudyFlags {
  directory: string;
  /** Default: named after the data (mnist, iris for iris.csv). */
  projectName?: string;
  storage?: string;
}

export interface TuneFlags extends StudyFlags, DataFlags {
  space: string;
  tuner: TunerKind;
  maxTrials: number;
  executionsPerTrial: number;
  epochs: number;
  batchSize: number;
  /**
   * `name` or `name:min|max`, repeatable (two or more: a Pareto search). Default: val_accuracy for
   * classification, val_loss for regression.
   */
  objective?: string[];
  overwrite: boolean;
  seed?: number;
  pruner: PrunerKind;
  keepCheckpoints?: number;
  quiet?: boolean;
  /** K-fold cross-validation per trial (K >= 2). */
  cv?: number;
  /** Seconds after which no new trial starts. */
  timeout?: number;
  /** A JSON file of configurations to run first. */
  enqueue?: string;
}

/** --cv, --timeout, --enqueue: how a search is run and bounded (tune and up). */
export function addSearchControlOptions(cmd: Command): Command {
  return cmd
    .option(
      '--cv <k>',
      'k-fold cross-validation: each trial trains k models, each validating on one fold of train+val (score: the mean; spread shown by `trials`); replaces --executions-per-trial',
      integer('--cv', 2),
    )
    .option(
      '--timeout <seconds>',
      'start no new trial after this many seconds (the running one finishes)',
      positiveInt('--timeout'),
    )
    .option(
      '--enqueue <file.json>',
      'configurations to run first: a JSON object of hyperparameter values, or an array of them (never run twice)',
    );
}

function otherSpace(o: TuneFlags, projectName: string, space: string, what: string): string {
  const where = o.storage ? `study "${projectName}" in ${o.storage}` : join(o.directory, projectName);
  return `${where} ${what}; to search space "${space}" add --overwrite (starts that study afresh) or --project-name <another name> (keeps both)`;
}

/** --directory, --project-name, --storage: where the study lives (shared by tune, train, trials). */
export function addStudyOptions(cmd: Command): Command {
  return cmd
    .option('--directory <dir>', 'parent folder of the study', 'tuning')
    .option('--project-name <name>', 'study name, a folder under --directory (default: named after the data)')
    .option('--storage <url>', 'study storage URL (default sqlite: under --directory; or postgres://...)');
}

/** The default study and model name for a data path: mnist, or the file/folder name without its extension. */
export function nameForData(path: string): string {
  const base = basename(path.replace(/[\\/]+$/, ''), extname(path)).replace(/[^\w.-]+/g, '_');
  return base === '' || base.startsWith('.') ? 'data' : base;
}

/** The data spec of the flags, with mnist as the default. */
export function tuneDataSpec(o: DataFlags, seed?: number): DataSpec {
  return dataSpecFrom(o, seed) ?? { path: 'mnist', ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}) };
}

/** The space context of a data set. */
export function spaceContext(data: Dataset) {
  return { inputShape: data.inputShape, input: data.input, output: data.output };
}

export function registerTune(program: Command): void {
  registerMnistSpaces();
  const cmd = program
    .command('tune')
    .description('Search hyperparameters over a search space and store the study (resumes unless --overwrite)')
    .option(
      '--space <name|file>',
      `${spaceNames().join(', ')}, or a .js/.ts file exporting buildModel (auto: default for digit images, tabular for tables, image for images)`,
      'auto',
    )
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
    .option(
      '--objective <name[:min|max]>',
      'metric to optimize, direction inferred when omitted; repeat it for a Pareto search, e.g. --objective val_accuracy:max --objective latency_ms:min (built-in: model_size, model_bytes, latency_ms) (default: val_accuracy for classification, val_loss for regression)',
      list,
    )
    .option('--overwrite', 'discard an existing study and start afresh', false)
    .option(
      '--seed <n>',
      'random seed of the split, the draws, initial weights, shuffles and dropout: the same seed gives the same run',
      nonNegativeInt('--seed'),
    )
    .option('--pruner <kind>', PRUNER_KINDS.join('|'), oneOf('--pruner', PRUNER_KINDS), 'none')
    .option(
      '--keep-checkpoints <k>',
      "keep the best K trials' checkpoints only, deleting the others as trials end (default: keep all)",
      positiveInt('--keep-checkpoints'),
    )
    .option('--quiet', 'no progress output', false);
  addSearchControlOptions(cmd);
  addStudyOptions(cmd);
  addDataOptions(cmd);
  cmd.action(async (o: TuneFlags) => {
    await tune(o);
  });
}

/**
 * The --objective values: one name keeps the single-objective form; each `name[:min|max]` must
 * name a direction or a metric whose direction is known (accuracy, loss, latency_ms, ...).
 */
export function parseObjectives(values: readonly string[]): string | ObjectiveChoice[] {
  const choices = values.map((value): ObjectiveChoice => {
    const [name = '', direction, extra] = value.split(':');
    if (name === '' || extra !== undefined || (direction !== undefined && direction !== 'min' && direction !== 'max')) {
      throw new UsageError(`--objective must look like val_accuracy or latency_ms:min (min or max), got "${value}"`);
    }
    if (direction === undefined && inferDirection(name) === undefined) {
      throw new UsageError(
        `--objective: cannot tell whether "${name}" should be minimized or maximized; write ${name}:min or ${name}:max`,
      );
    }
    return direction ? { name, direction } : { name };
  });
  const names = choices.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new UsageError(`--objective "${twice}" is given twice`);
  return choices.length === 1 && !choices[0]?.direction ? (choices[0]?.name as string) : choices;
}

/** Runs the search; `preloaded` is the flags' data when the caller has loaded it already (`up`). */
export async function tune(
  o: TuneFlags,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  preloaded?: Dataset,
) {
  const stopInterrupt = exitOnInterrupt('tune', 'run the same command again to resume the study');
  try {
    registerMnistSpaces();
    // The file before the data: a mistake in it ends the run at once.
    const enqueue = o.enqueue ? await readEnqueueFile(o.enqueue) : undefined;
    const spec = tuneDataSpec(o, o.seed);
    // The data before the backend, so bad data ends with its one line and nothing else.
    const data = preloaded ?? (await loadData(spec));
    // The backend before the space: the default spaces ask the active backend whether it can train convolutions.
    const backend = await initBackend();
    const space = await resolveSpace(o.space, spaceContext(data)).catch(toUsageError);
    const projectName = o.projectName ?? nameForData(spec.path);
    // A study keeps one search space: resuming it with another would mix two searches in one history.
    const previous = o.overwrite ? undefined : await readPipelineInfo(o.directory, projectName);
    if (previous && previous.space !== space.name) {
      throw new UsageError(otherSpace(o, projectName, space.name, `holds a study of space "${previous.space}"`));
    }
    if (previous && previous.cv !== o.cv) {
      // Fold means and single-split scores do not rank against each other.
      throw new UsageError(
        otherSpace(
          o,
          projectName,
          space.name,
          `was tuned ${previous.cv ? `with --cv ${previous.cv}` : 'without --cv'}`,
        ),
      );
    }
    log(data.summary);
    const objective = o.objective?.length ? parseObjectives(o.objective) : defaultObjective(data);
    const per = o.cv
      ? `${o.cv}-fold cross-validation x ${o.epochs} epochs on ${data.train.count + data.val.count} examples (train + val)`
      : `${o.executionsPerTrial} executions x ${o.epochs} epochs on ${data.train.count} examples`;
    const budget = o.timeout ? `, no new trial after ${o.timeout} s` : '';
    log(
      `tuning space "${space.name}" (${space.description}) with ${o.tuner}, objective ${describeObjective(objective)}: ${o.maxTrials} trials x ${per}${budget} (backend ${backend.name})`,
    );
    const result = await runTune({
      space,
      tuner: o.tuner,
      maxTrials: o.maxTrials,
      executionsPerTrial: o.executionsPerTrial,
      epochs: o.epochs,
      batchSize: o.batchSize,
      objective,
      directory: o.directory,
      projectName,
      overwrite: o.overwrite,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.storage ? { storage: o.storage } : {}),
      pruner: o.pruner,
      ...(o.keepCheckpoints !== undefined ? { keepCheckpoints: o.keepCheckpoints } : {}),
      data,
      ...(o.cv ? { cv: o.cv } : {}),
      ...(o.timeout ? { maxTime: o.timeout } : {}),
      ...(enqueue ? { enqueue } : {}),
      beforeSearch: () =>
        writePipelineInfo(o.directory, projectName, {
          space: space.name,
          batchSize: o.batchSize,
          epochs: o.epochs,
          tuner: o.tuner,
          objective,
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          data: spec,
          split: data.split,
          ...(o.cv ? { cv: o.cv } : {}),
        }),
      ...(o.quiet ? { verbose: 0 as const } : {}),
    }).catch((err: unknown) =>
      // Same space name, other definitions (an edited space file): the stored study disagrees.
      toUsageError(
        err instanceof EnqueueError
          ? new UsageError(`${o.enqueue}: ${err.message}`)
          : previous && err instanceof HyperParameterError
            ? new UsageError(
                otherSpace(
                  o,
                  projectName,
                  space.name,
                  `was searched with other definitions (${err.message.replace(/\.$/, '')})`,
                ),
              )
            : err,
      ),
    );
    log(
      `search finished in ${result.seconds.toFixed(1)} s${result.timedOut ? ` (--timeout ${o.timeout} s reached: no new trial started)` : ''}`,
    );
    for (const [i, best] of result.best.entries()) {
      const spread = best.scoreStd !== undefined ? ` ± ${best.scoreStd.toFixed(4)}` : '';
      log(
        `#${i + 1} trial ${best.trialId} score ${best.score?.toFixed(4) ?? '-'}${spread} ${JSON.stringify(best.values)}`,
      );
    }
    return { ...result, projectName, data };
  } finally {
    stopInterrupt();
  }
}
