/** What `train` needs from a finished `tune`: the best configurations and how the study was run. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadOptions } from '@tuneserve/data';
import { loadStudy, rankTrials as rankByObjective, type StudyView } from '@tuneserve/tuner';
import type { SplitRecord } from './dataset.js';
import { StudyNotFoundError } from './errors.js';

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
  objective?: string;
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
}

/** The completed trials, best first by the study's objective. */
export function rankTrials(study: StudyView): RankedConfiguration[] {
  return rankByObjective(study.trials, study.objective.direction).map((t) => ({
    trialId: t.trialId,
    score: t.score as number,
    values: { ...t.hyperparameters },
  }));
}
