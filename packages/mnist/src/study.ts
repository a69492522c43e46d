/** What `train` needs from a finished `tune`: the best configurations and how the study was run. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadStudy, rankTrials as rankByObjective, type StudyView } from '@tuneserve/tuner';

/** No study under the given directory/project/storage. */
export class StudyNotFoundError extends Error {
  override name = 'StudyNotFoundError';
}

/** Settings of the tune run, kept beside the study so `train` rebuilds models from the same space. */
export interface PipelineInfo {
  space: string;
  batchSize: number;
  epochs: number;
  tuner: string;
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
