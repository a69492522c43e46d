import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { registerMnistSpaces } from '@tuneserve/mnist';
import {
  buildReport,
  type DataSpec,
  exportModel,
  hyperparametersFor,
  type PipelineInfo,
  type RankedConfiguration,
  rankTrials,
  readPipelineInfo,
  requireStudy,
  resolveSpace,
  trainFinalModel,
} from '@tuneserve/pipeline';
import { initBackend } from '@tuneserve/runtime';
import type { StudyView } from '@tuneserve/tuner';
import { type Command, Option } from 'commander';
import { addDataOptions, type DataFlags, dataSpecFrom, loadData } from '../adapters/data.js';
import { nonNegativeInt, positiveInt } from '../adapters/flags.js';
import { type HpValues, hpValues, parseJson } from '../adapters/hp-json.js';
import { exitOnInterrupt, toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';
import { createProgress } from '../progress.js';
import { addStudyOptions, nameForData, type StudyFlags, spaceContext } from './tune.js';

export interface TrainFlags extends StudyFlags, DataFlags {
  top: number;
  hp?: string;
  space?: string;
  batchSize?: number;
  maxEpochs: number;
  patience: number;
  modelsDir: string;
  /** Default: the data set's name. */
  name?: string;
  retrain: 'fresh' | 'continue';
  seed?: number;
}

export interface TrainedVersion {
  version: number;
  dir: string;
  /** Multi-objective studies: the version label (accurate, fast, small, front_<k>). */
  label?: string;
  loss: number;
  /** Classification. */
  accuracy?: number;
  /** Regression, in the target's units. */
  mae?: number;
  rmse?: number;
  r2?: number;
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description(
      'Train the best configurations of a study (or --hp): best epoch by early stopping, retrain on train+val, evaluate, export',
    )
    .option(
      '--top <n>',
      'how many of the best configurations to train (several objectives: Pareto front members, each exported with a version label: accurate, fast, small, front_<k>)',
      positiveInt('--top'),
      1,
    )
    .option(
      '--hp <json>',
      'train these hyperparameters instead of the study\'s best, e.g. \'{"units":64,"optimizer":"adam"}\'',
    )
    .option('--space <name|file>', 'search space that builds the model (default: the one the study was tuned with)')
    .option(
      '--batch-size <n>',
      "batch size when the space does not tune it (default: the study's)",
      positiveInt('--batch-size'),
    )
    .option('--max-epochs <n>', 'upper bound of the best-epoch search', positiveInt('--max-epochs'), 100)
    .option('--patience <n>', 'early-stopping patience on val_loss', positiveInt('--patience'), 10)
    .addOption(
      new Option(
        '--retrain <mode>',
        "fresh: train a new model on train+val; continue: keep training the best-epoch search's model (what the reference's code does)",
      )
        .choices(['fresh', 'continue'])
        .default('fresh'),
    )
    .option('--models-dir <dir>', 'where model versions are stored', 'models')
    .option('--name <name>', 'model name, a folder under --models-dir (default: named after the data)')
    .option(
      '--seed <n>',
      "seed of initial weights, shuffles and dropout (default: the study's; with --data, also the split's)",
      nonNegativeInt('--seed'),
    );
  addStudyOptions(cmd);
  addDataOptions(cmd, { recorded: true });
  cmd.action(async (o: TrainFlags) => {
    await train(o);
  });
}

function parseHp(text: string): HpValues {
  return hpValues(parseJson(text, '--hp'), '--hp');
}

/**
 * The data `train` uses: the flags' when --data is given (a fresh split), else the study's recorded data and split,
 * else MNIST (studies from before data specs: their data folder and sample limit).
 */
export function trainDataSpec(o: DataFlags, info: PipelineInfo | undefined, seed?: number): DataSpec {
  const given = dataSpecFrom(o, seed);
  if (given) return given;
  if (info?.data) return { ...info.data, ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}) };
  const limit = o.limitSamples ?? info?.limitSamples;
  return { path: info?.dataDir ?? 'mnist', ...(limit ? { limitSamples: limit } : {}) };
}

export async function train(
  o: TrainFlags,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<TrainedVersion[]> {
  if (o.name !== undefined && (!/^[\w.-]+$/.test(o.name) || o.name.startsWith('.'))) {
    throw new UsageError(`--name must be a plain folder name (letters, digits, _ . -), got "${o.name}"`);
  }
  const stopInterrupt = exitOnInterrupt('train', 'no model version was published; run the command again');
  try {
    registerMnistSpaces();
    const givenData = dataSpecFrom(o);
    const projectName = o.projectName ?? nameForData(givenData?.path ?? 'mnist');
    const where = { directory: o.directory, projectName, ...(o.storage ? { storage: o.storage } : {}) };
    // The study's settings apply to --hp too (issue: `train --hp` on a `--space seed` study must use that space).
    const info = await readPipelineInfo(o.directory, projectName);
    let configs: RankedConfiguration[];
    let study: StudyView | undefined;
    if (o.hp) {
      configs = [{ trialId: 'manual', score: Number.NaN, values: parseHp(o.hp) }];
    } else {
      study = await requireStudy(where).catch(toUsageError);
      configs = rankTrials(study).slice(0, o.top);
      if (configs.length === 0) {
        throw new UsageError(`study "${projectName}" has no completed trial yet; run \`tuneserve tune\` first`);
      }
    }
    const seed = o.seed ?? info?.seed;
    const spec = trainDataSpec(o, info, seed);
    // The recorded split when the data is the study's, so the test set is the one tuning never saw.
    const data = await loadData(spec, !givenData && info?.data ? info.split : undefined);
    // The backend before the space: the default spaces ask the active backend whether it can train convolutions.
    const backend = await initBackend();
    log(data.summary);
    const space = await resolveSpace(o.space ?? info?.space ?? 'auto', spaceContext(data)).catch(toUsageError);
    const name = o.name ?? data.name;
    const results: TrainedVersion[] = [];
    for (const [rank, config] of configs.entries()) {
      const hp = await hyperparametersFor(space, config.values).catch(toUsageError);
      const settings = space.trainingSettings(hp);
      const batchSize = settings.batchSize ?? o.batchSize ?? info?.batchSize ?? 128;
      const { augmentation, schedule } = settings;
      const recipe = [augmentation?.description, schedule?.description].filter(Boolean).join(', ');
      const trade =
        config.label && study?.objectives ? `, label ${config.label}: ${describeValues(study, config)}` : '';
      log(
        `training #${rank + 1}${config.trialId === 'manual' ? '' : ` (trial ${config.trialId}, score ${config.score.toFixed(4)}${trade})`}: ` +
          `${JSON.stringify(hp.values)} batch ${batchSize}${recipe ? `, ${recipe}` : ''}`,
      );
      const progress = createProgress();
      let result: Awaited<ReturnType<typeof trainFinalModel>>;
      try {
        result = await trainFinalModel({
          build: () => space.hypermodel.build(hp),
          data,
          batchSize,
          ...(augmentation ? { augmentation } : {}),
          ...(schedule ? { schedule } : {}),
          maxEpochs: o.maxEpochs,
          patience: o.patience,
          retrain: o.retrain,
          ...(seed !== undefined ? { seed: seed + rank } : {}),
          listener: progress,
        }).catch(toUsageError);
      } finally {
        progress.stop();
      }
      log(
        `Best epoch: ${result.bestEpoch?.bestEpoch} (of ${result.bestEpoch?.epochsRun} run); ${o.retrain === 'continue' ? 'continued it' : 'retrained a fresh model'} for ${result.retrainEpochs} epochs on train+val`,
      );
      const ev = result.evaluation;
      log(
        ev.task === 'classification'
          ? `test loss: ${ev.loss.toFixed(4)} - test accuracy: ${ev.accuracy.toFixed(4)} (${(ev.accuracy * 100).toFixed(2)}%)`
          : `test MAE: ${fmt(ev.mae)} - RMSE: ${fmt(ev.rmse)} - R²: ${ev.r2.toFixed(4)} (${ev.target}; loss ${ev.loss.toFixed(4)} on the standardised target)`,
      );
      const saved = await exportModel(result, {
        modelsDir: o.modelsDir,
        name,
        hyperparameters: hp.values,
        input: data.input,
        output: data.output,
        backend,
        training: {
          space: space.name,
          batchSize,
          ...(augmentation ? { augmentation: augmentation.description } : {}),
          ...(schedule ? { schedule: schedule.description } : {}),
          ...(hp.values.augment_shift !== undefined ? { augmentShift: hp.values.augment_shift } : {}),
          ...(seed !== undefined ? { seed: seed + rank } : {}),
          study: study
            ? {
                projectName,
                trialId: config.trialId,
                score: config.score,
                tuner: study.tuner,
                ...(config.label && study.objectives
                  ? { label: config.label, objectives: study.objectives, values: config.objectiveValues }
                  : {}),
              }
            : null,
          data: spec,
          split: data.split,
          dataSamples: { train: data.train.count, val: data.val.count, test: data.test.count },
        },
      });
      const report = await buildReport({
        title: `${name} version ${saved.version}`,
        ...(study ? { objective: study.objective, bestTrialId: config.trialId, importance: study.importance } : {}),
        ...(study?.objectives ? { objectives: study.objectives } : {}),
        ...(study?.importanceByObjective ? { importanceByObjective: study.importanceByObjective } : {}),
        trials: study?.trials ?? [],
        ...(result.bestEpoch
          ? { bestEpochHistory: result.bestEpoch.history, bestEpoch: result.bestEpoch.bestEpoch }
          : {}),
        retrainEpochs: result.retrainEpochs,
        hyperparameters: hp.values,
        test: result.evaluation,
      });
      for (const [file, text] of Object.entries(report.files)) await writeFile(join(saved.dir, file), text);
      result.model.dispose();
      log(`exported ${name} version ${saved.version} to ${saved.dir} (report: ${join(saved.dir, 'report.html')})`);
      results.push({
        version: saved.version,
        dir: saved.dir,
        ...(config.label ? { label: config.label } : {}),
        loss: ev.loss,
        ...(ev.task === 'classification' ? { accuracy: ev.accuracy } : { mae: ev.mae, rmse: ev.rmse, r2: ev.r2 }),
      });
    }
    const labelled = results.filter((r) => r.label);
    if (labelled.length > 0) await writeFrontConfig(o.modelsDir, name, labelled, log);
    return results;
  } finally {
    stopInterrupt();
  }
}

/** `accuracy 0.9712, latency_ms 0.0410`: a front member's objective values. */
function describeValues(study: StudyView, config: RankedConfiguration): string {
  return (study.objectives ?? [])
    .map((o, k) => `${o.name} ${Number((config.objectiveValues?.[k] ?? Number.NaN).toPrecision(4))}`)
    .join(', ');
}

/**
 * Front members exported as labelled versions: a model config for the server (its version labels,
 * TF Serving's /labels/<label> routes), and the equivalent flags.
 */
async function writeFrontConfig(
  modelsDir: string,
  name: string,
  versions: TrainedVersion[],
  log: (line: string) => void,
): Promise<void> {
  const labels = Object.fromEntries(versions.map((v) => [v.label as string, v.version]));
  const file = join(modelsDir, `${name}.front.json`);
  const config = {
    models: [{ name, base_path: name, version_policy: { specific: versions.map((v) => v.version) }, labels }],
  };
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  const flags = Object.entries(labels)
    .map(([l, v]) => `--label ${l}=${v}`)
    .join(' ');
  log(
    `Pareto front versions ${Object.entries(labels)
      .map(([l, v]) => `${l}=${v}`)
      .join(', ')}; serve them side by side: tuneserve serve --config ${file} ` +
      `(or --model ${join(modelsDir, name)} --keep-versions ${versions.length} ${flags}), then ` +
      `POST /v1/models/${name}/labels/<label>:predict`,
  );
}

/** Four significant digits: regression targets come in any unit. */
function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}
