import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildReport,
  DIGIT_LABELS,
  exportModel,
  hyperparametersFor,
  type RankedConfiguration,
  rankTrials,
  readPipelineInfo,
  requireStudy,
  resolveSpace,
  trainFinalModel,
} from '@tuneserve/mnist';
import { initBackend } from '@tuneserve/runtime';
import type { StudyView } from '@tuneserve/tuner';
import { type Command, Option } from 'commander';
import { positiveInt } from '../adapters/flags.js';
import { exitOnInterrupt, toUsageError } from '../adapters/pipeline-errors.js';
import { UsageError } from '../errors.js';
import { createProgress } from '../progress.js';
import { addDataOptions, addStudyOptions, type DataFlags, loadData, type StudyFlags } from './tune.js';

export interface TrainFlags extends StudyFlags, DataFlags {
  top: number;
  hp?: string;
  space?: string;
  batchSize?: number;
  maxEpochs: number;
  patience: number;
  modelsDir: string;
  name: string;
  retrain: 'fresh' | 'continue';
}

export interface TrainedVersion {
  version: number;
  dir: string;
  accuracy: number;
  loss: number;
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description(
      'Train the best configurations of a study (or --hp): best epoch by early stopping, retrain on train+val, evaluate, export',
    )
    .option('--top <n>', 'how many of the best configurations to train', positiveInt('--top'), 1)
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
    .option('--name <name>', 'model name (a folder under --models-dir)', 'mnist');
  addStudyOptions(cmd);
  addDataOptions(cmd);
  cmd.action(async (o: TrainFlags) => {
    await train(o);
  });
}

function parseHp(text: string): Record<string, number | string | boolean> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--hp is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError('--hp must be a JSON object such as {"units":64,"optimizer":"adam"}');
  }
  for (const [k, v] of Object.entries(parsed)) {
    if (!['number', 'string', 'boolean'].includes(typeof v)) {
      throw new UsageError(`--hp value of "${k}" must be a number, string or boolean`);
    }
  }
  return parsed as Record<string, number | string | boolean>;
}

export async function train(
  o: TrainFlags,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<TrainedVersion[]> {
  if (!/^[\w.-]+$/.test(o.name) || o.name.startsWith('.')) {
    throw new UsageError(`--name must be a plain folder name (letters, digits, _ . -), got "${o.name}"`);
  }
  const stopInterrupt = exitOnInterrupt('train', 'no model version was published; run the command again');
  try {
    const where = { directory: o.directory, projectName: o.projectName, ...(o.storage ? { storage: o.storage } : {}) };
    let configs: RankedConfiguration[];
    let study: StudyView | undefined;
    const info = o.hp ? undefined : await readPipelineInfo(o.directory, o.projectName);
    if (o.hp) {
      configs = [{ trialId: 'manual', score: Number.NaN, values: parseHp(o.hp) }];
    } else {
      study = await requireStudy(where).catch(toUsageError);
      configs = rankTrials(study).slice(0, o.top);
      if (configs.length === 0) {
        throw new UsageError(`study "${o.projectName}" has no completed trial yet; run \`tuneserve tune\` first`);
      }
    }
    // The backend first: the default space asks the active backend whether it can train convolutions.
    const backend = await initBackend();
    const space = await resolveSpace(o.space ?? info?.space ?? 'default').catch(toUsageError);
    const data = await loadData({
      ...((o.dataDir ?? info?.dataDir) ? { dataDir: o.dataDir ?? info?.dataDir } : {}),
      ...(o.limitSamples ? { limitSamples: o.limitSamples } : {}),
    }).catch(toUsageError);
    const results: TrainedVersion[] = [];
    for (const [rank, config] of configs.entries()) {
      const hp = await hyperparametersFor(space, config.values).catch(toUsageError);
      const batchSize = space.batchSize(hp.values, o.batchSize ?? info?.batchSize ?? 128);
      const augmentShift = space.augmentShift(hp.values);
      log(
        `training #${rank + 1}${config.trialId === 'manual' ? '' : ` (trial ${config.trialId}, score ${config.score.toFixed(4)})`}: ` +
          `${JSON.stringify(hp.values)} batch ${batchSize}${augmentShift ? `, images shifted up to ${augmentShift} px` : ''}`,
      );
      const progress = createProgress();
      let result: Awaited<ReturnType<typeof trainFinalModel>>;
      try {
        result = await trainFinalModel({
          build: () => space.hypermodel.build(hp),
          data,
          batchSize,
          augmentShift,
          maxEpochs: o.maxEpochs,
          patience: o.patience,
          retrain: o.retrain,
          listener: progress,
        });
      } finally {
        progress.stop();
      }
      log(
        `Best epoch: ${result.bestEpoch?.bestEpoch} (of ${result.bestEpoch?.epochsRun} run); ${o.retrain === 'continue' ? 'continued it' : 'retrained a fresh model'} for ${result.retrainEpochs} epochs on train+val`,
      );
      const { loss, accuracy } = result.evaluation;
      log(`test loss: ${loss.toFixed(4)} - test accuracy: ${accuracy.toFixed(4)} (${(accuracy * 100).toFixed(2)}%)`);
      const saved = await exportModel(result, {
        modelsDir: o.modelsDir,
        name: o.name,
        hyperparameters: hp.values,
        backend,
        training: {
          space: space.name,
          batchSize,
          augmentShift,
          study: study
            ? { projectName: o.projectName, trialId: config.trialId, score: config.score, tuner: study.tuner }
            : null,
          dataSamples: { train: data.train.count, val: data.val.count, test: data.test.count },
        },
      });
      const report = await buildReport({
        title: `${o.name} version ${saved.version}`,
        ...(study ? { objective: study.objective, bestTrialId: config.trialId } : {}),
        trials: study?.trials ?? [],
        ...(result.bestEpoch
          ? { bestEpochHistory: result.bestEpoch.history, bestEpoch: result.bestEpoch.bestEpoch }
          : {}),
        retrainEpochs: result.retrainEpochs,
        hyperparameters: hp.values,
        test: result.evaluation,
        labels: DIGIT_LABELS,
      });
      for (const [file, text] of Object.entries(report.files)) await writeFile(join(saved.dir, file), text);
      result.model.dispose();
      log(`exported ${o.name} version ${saved.version} to ${saved.dir} (report: ${join(saved.dir, 'report.html')})`);
      results.push({ version: saved.version, dir: saved.dir, accuracy, loss });
    }
    return results;
  } finally {
    stopInterrupt();
  }
}
