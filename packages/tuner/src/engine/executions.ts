/**
 * Running one trial's executions (build + fit, `executionsPerTrial` times) so that a killed worker
 * resumes where it stopped: finished executions are kept in progress.json, the running one restarts
 * from its last completed epoch (weights and optimizer slots), and a pruned trial stays pruned.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { hasCheckpoint, loadCheckpoint, readCheckpointState } from '../checkpoint.js';
import type { SearchDisplay } from '../display.js';
import type { FitInput } from '../hypermodel.js';
import type { HyperParameters } from '../hyperparameters/index.js';
import type { Trial, TrialResult } from '../trial.js';
import { normalizeResult } from './base-tuner.js';
import { type AggregatedMetrics, aggregateExecutions } from './metrics.js';
import type { Oracle } from './oracle.js';
import { trialCallback } from './trial-callback.js';

/** Per-epoch checkpoint of the running execution, inside the trial folder. */
export const RESUME_DIR = 'resume';
/** Best-epoch checkpoint of the trial, inside the trial folder. */
export const BEST_DIR = 'checkpoint';
const PROGRESS_FILE = 'progress.json';

interface ResumeState {
  execution: number;
  epoch: number;
  [key: string]: unknown;
}

interface ExecutionProgress {
  doneExecutions: number;
  /** Set when a pruner stopped the trial, so a resume after a kill ends it as PRUNED too. */
  pruned?: boolean;
  /** Results of executions whose fit returned a number or record instead of a History. */
  custom: Record<string, Record<string, number>>;
}

/** What the executions need from their tuner. */
export interface ExecutionHost {
  readonly oracle: Oracle;
  readonly tunerId: string;
  readonly display: SearchDisplay | undefined;
  buildModel(hp: HyperParameters): Promise<tf.LayersModel>;
  fit(hp: HyperParameters, model: tf.LayersModel, x: FitInput, y: FitInput, args: tf.ModelFitArgs): Promise<unknown>;
  markPruned(trialId: string): void;
}

/** What one execution trains on; validationData replaces fitArgs.validationData when given. */
export interface ExecutionData {
  x: FitInput;
  y: FitInput;
  validationData?: [FitInput, FitInput];
}

export interface ExecutionPlan {
  trial: Trial;
  executions: number;
  /** Train epochs [initialEpoch, epochs). */
  epochs: number;
  initialEpoch: number;
  /** A finished trial whose best weights the first epoch starts from (Hyperband's parent). */
  parentTrialId: string | undefined;
  /** Execution i's training data (and, under cross-validation, its validation data). */
  data: (execution: number) => ExecutionData | Promise<ExecutionData>;
  /** model.fit's other arguments (without epochs, initialEpoch, verbose and callbacks). */
  fitArgs: tf.ModelFitArgs;
  callbacks: tf.CustomCallback[] | tf.CustomCallbackArgs[] | tf.Callback[];
}

export async function runExecutions(host: ExecutionHost, plan: ExecutionPlan): Promise<AggregatedMetrics> {
  const { oracle, display } = host;
  const { trial, epochs } = plan;
  const hp = trial.hyperparameters;
  const dir = await oracle.trialDir(trial.trialId);
  const resumeDir = path.join(dir, RESUME_DIR);
  const bestDir = path.join(dir, BEST_DIR);
  const progressFile = path.join(dir, PROGRESS_FILE);

  const progress = (await readJson<ExecutionProgress>(progressFile)) ?? { doneExecutions: 0, custom: {} };
  const resume = await readCheckpointState<ResumeState>(resumeDir);
  let bestValue = (await readCheckpointState<{ value?: number }>(bestDir))?.value;

  if (progress.pruned) host.markPruned(trial.trialId);
  const executions = progress.pruned ? progress.doneExecutions : plan.executions;
  for (let execution = progress.doneExecutions; execution < executions; execution++) {
    const model = await host.buildModel(hp);
    let pruned = false;
    try {
      if (hp.space.length > oracle.hyperparameters.space.length) {
        await oracle.updateSpace(hp); // the build declared something new (Keras Tuner's update_space)
      }
      let initialEpoch = plan.initialEpoch;
      if (resume && resume.execution === execution && hasCheckpoint(resumeDir)) {
        await loadCheckpoint(model, resumeDir, true);
        initialEpoch = resume.epoch + 1;
      } else if (plan.parentTrialId !== undefined) {
        const parentDir = path.join(await oracle.trialDir(plan.parentTrialId), BEST_DIR);
        if (hasCheckpoint(parentDir)) await loadCheckpoint(model, parentDir);
      }
      display?.executionStart(execution, plan.executions, epochs, initialEpoch);
      const callback = trialCallback({
        oracle,
        tunerId: host.tunerId,
        trialId: trial.trialId,
        execution,
        epochs,
        model,
        bestDir,
        resumeDir,
        bestValue,
        display,
        onPruned: () => {
          pruned = true;
        },
      });
      if (initialEpoch < epochs) {
        const data = await plan.data(execution);
        const out = await host.fit(hp, model, data.x, data.y, {
          ...plan.fitArgs,
          ...(data.validationData ? { validationData: data.validationData as tf.ModelFitArgs['validationData'] } : {}),
          epochs,
          initialEpoch,
          verbose: 0,
          callbacks: [...(plan.callbacks as tf.CustomCallback[]), callback],
        });
        if (!(out instanceof tf.History) && out !== undefined) {
          progress.custom[String(execution)] = normalizeResult(out as TrialResult, oracle.objective).metrics;
        }
      }
      bestValue = (await readCheckpointState<{ value?: number }>(bestDir))?.value ?? bestValue;
    } finally {
      display?.executionEnd();
      disposeModel(model);
    }
    progress.doneExecutions = execution + 1;
    if (pruned) progress.pruned = true;
    await writeJsonAtomic(progressFile, progress);
    if (pruned) {
      host.markPruned(trial.trialId);
      break;
    }
  }
  return aggregateExecutions(await oracle.trialMetrics(trial.trialId), oracle.objective, progress.custom);
}

/** Removes a trial's resume files, so a retry starts from epoch 0. */
export async function discardResumeFiles(trialDir: string): Promise<void> {
  await rm(path.join(trialDir, RESUME_DIR), { recursive: true, force: true });
  await rm(path.join(trialDir, PROGRESS_FILE), { force: true });
}

/** Frees a model's weights and its optimizer's slots (also when the user passed an optimizer instance). */
export function disposeModel(model: tf.LayersModel): void {
  try {
    (model.optimizer as tf.Optimizer | undefined)?.dispose();
  } catch {
    // already disposed
  }
  try {
    model.dispose();
  } catch {
    // already disposed
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, file);
}
