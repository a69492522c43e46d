/** What `train` needs from a finished `tune`: the best configurations and how the study was run. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadOptions } from '@tuneserve/data';
import {
  crowdingDistances,
  loadStudy,
  paretoFront,
  rankTrials as rankByObjective,
  type StudyView,
} from '@tuneserve/tuner';
import type { SplitRecord } from './dataset.js';
import { StudyNotFoundError } from './errors.js';
import type { ObjectiveChoice } from './tune.js';

/** The data a study was tuned on, as the user named it: `--data` and the load options its flags set. */
export type DataSpec = Omit<LoadOptions, 'split' | 'onProgress'> & {
  /** 'mnist', an IDX folder, a .csv/.tsv file or an image folder (as given). */
  path: string;
  /** Only the first n examples of each split (tests and smoke runs). */
  limitSamples?: number;
};

/** Settings of the tune run, kept beside the study so `train` and `evaluate` reuse its space, data and split. */
export interface PipelineInfo {
  /** The space that was tuned (`auto` already resolved), or a space file. */
  space: string;
  batchSize: number;
  epochs: number;
  tuner: string;
  objective?: string | ObjectiveChoice[];
  /** The run's seed (also seeds `train` unless it is given another). */
  seed?: number;
  data?: DataSpec;
  /** The exact split, so `train` and `evaluate` see the same test set. */
  split?: SplitRecord;
  /** Folds of the cross-validation the trials were scored by (absent: one validation split). */
  cv?: number;
  /** Studies from before data specs: an MNIST-format folder and a sample limit. */
  dataDir?: string;
  limitSamples?: number;
}

const INFO_FILE = 'tuneserve-pipeline.json';

export async function writePipelineInfo(directory: string, projectName: string, info: PipelineInfo): Promise<void> {
  const dir = join(directory, projectName);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${INFO_FILE}.${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`);
  await rename(tmp, join(dir, INFO_FILE));
}

export async function readPipelineInfo(directory: string, projectName: string): Promise<PipelineInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(directory, projectName, INFO_FILE), 'utf8')) as PipelineInfo;
  } catch {
    return undefined;
  }
}

export interface StudyLocation {
  directory: string;
  projectName: string;
  storage?: string;
}

export async function requireStudy(at: StudyLocation): Promise<StudyView> {
  const study = await loadStudy({
    directory: at.directory,
    projectName: at.projectName,
    ...(at.storage ? { storage: at.storage } : {}),
  });
  if (!study) {
    throw new StudyNotFoundError(
      `no study "${at.projectName}" in ${at.storage ?? join(at.directory, at.projectName)}; run \`tuneserve tune\` first`,
    );
  }
  return study;
}

export interface RankedConfiguration {
  trialId: string;
  score: number;
  /** The model's hyperparameters. */
  values: Record<string, number | string | boolean>;
  /** Multi-objective studies: the trial's value of each objective (the study's order). */
  objectiveValues?: number[];
  /** Multi-objective studies: the version label its export gets (`accurate`, `fast`, `small`, `front_3`). */
  label?: string;
}

/**
 * The completed trials, best first by the study's objective. With several objectives: the members
 * of the Pareto front, the best on each objective first (labelled after it: `accurate`, `fast`, ...),
 * then the others, least crowded first (labelled `front_<k>`), so `--top N` exports the front's
 * extremes and a spread of trade-offs between them.
 */
export function rankTrials(study: StudyView): RankedConfiguration[] {
  const objectives = study.objectives;
  if (!objectives) {
    return rankByObjective(study.trials, study.objective.direction).map((t) => ({
      trialId: t.trialId,
      score: t.score as number,
      values: { ...t.hyperparameters },
    }));
  }
  const front = paretoFront(study.trials, objectives);
  const picked: { trial: (typeof front)[number]; label: string }[] = [];
  const labels = new Set<string>();
  objectives.forEach((o, k) => {
    const sign = o.direction === 'max' ? -1 : 1;
    const best = front.reduce<(typeof front)[number] | undefined>(
      (a, t) => (a === undefined || sign * (t.values?.[k] as number) < sign * (a.values?.[k] as number) ? t : a),
      undefined,
    );
    if (!best || picked.some((p) => p.trial === best)) return;
    let label = frontLabel(o.name);
    if (labels.has(label)) label = `best_${o.name.replace(/\W+/g, '_')}`.slice(0, 64);
    labels.add(label);
    picked.push({ trial: best, label });
  });
  const crowding = crowdingDistances(front.map((t) => t.values as number[]));
  const rest = front
    .map((trial, i) => ({ trial, crowding: crowding[i] as number }))
    .filter((r) => !picked.some((p) => p.trial === r.trial))
    .sort((a, b) => b.crowding - a.crowding);
  for (const r of rest) picked.push({ trial: r.trial, label: `front_${picked.length + 1}` });
  return picked.map(({ trial, label }) => ({
    trialId: trial.trialId,
    score: trial.score as number,
    values: { ...trial.hyperparameters },
    objectiveValues: trial.values as number[],
    label,
  }));
}

/** The version label of the front member best on an objective: what serving it buys. */
export function frontLabel(objective: string): string {
  const n = objective.toLowerCase().replace(/^val_/, '');
  if (/latency|time|_ms$|seconds/.test(n)) return 'fast';
  if (/size|bytes|param/.test(n)) return 'small';
  if (/acc|auc|f1|precision|recall|loss|error|mae|mse|r2/.test(n)) return 'accurate';
  return `best_${objective.replace(/\W+/g, '_')}`.slice(0, 64);
}
