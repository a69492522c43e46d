/**
 * Read-only view of a study for the CLI and the dashboard: trials with their values, status,
 * score (and each objective's value in a multi-objective study), times and per-epoch curves
 * averaged over executions. Opening never creates or changes
 * anything, so it is safe beside a running search.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { StudyJson, TrialJson } from '@tuneserve/client';
import { meanOverExecutions, stdName } from './engine/metrics.js';
import { type ImportanceProvider, inlineImportance } from './importance-service.js';
import { type Direction, objectiveFromSpec, paretoObjectives, scoreOf } from './objective.js';
import { openStorage } from './storage/registry.js';
import type { EpochMetric } from './storage/types.js';
import type { TrialStatus } from './trial.js';

/** A trial of the wire type (packages/client) plus its final metrics, which the CLI's table shows. */
export interface StudyTrialView extends TrialJson {
  status: TrialStatus;
  /** Final metrics (best epoch of each execution, averaged). */
  finalMetrics: Record<string, number>;
}

export interface StudyView extends Omit<StudyJson, 'trials' | 'objective' | 'importance'> {
  objective: { name: string; direction: Direction };
  trials: StudyTrialView[];
  /** Hyperparameter importance for the (first) objective over the completed trials (see importance.ts). */
  importance: Record<string, number>;
}

export interface LoadStudyOptions {
  directory?: string;
  projectName: string;
  /** Storage URL (default 'sqlite:'). */
  storage?: string;
  /** Where the importance comes from (default: computed at once; a server passes a BackgroundImportance). */
  importance?: ImportanceProvider;
}

/** The study, or undefined when none exists yet. */
export async function loadStudy(options: LoadStudyOptions): Promise<StudyView | undefined> {
  const directory = options.directory ?? '.';
  const url = options.storage ?? 'sqlite:';
  if (/^sqlite:(\/\/)?$/i.test(url) && !existsSync(path.resolve(directory, options.projectName, 'study.db'))) {
    return undefined;
  }
  const storage = await openStorage(url, {
    directory,
    projectName: options.projectName,
    overwrite: false,
    readOnly: true,
  });
  try {
    const study = await storage.getStudy();
    if (!study) return undefined;
    const [trials, rows] = await Promise.all([storage.listTrials(), storage.listMetrics()]);
    const curves = averageCurves(rows);
    const objective = objectiveFromSpec(study.objective);
    const objectives = paretoObjectives(objective);
    const views = trials.map((t) => {
      const end = t.endedAt ?? (t.status === 'RUNNING' ? Date.now() : null);
      const view: StudyTrialView = {
        trialId: t.trialId,
        status: t.status,
        hyperparameters: t.values,
        ...scoreOf(t, objective),
        bestStep: t.bestStep,
        startedAt: t.startedAt === null ? null : new Date(t.startedAt).toISOString(),
        endedAt: t.endedAt === null ? null : new Date(t.endedAt).toISOString(),
        durationMs: t.startedAt === null || end === null ? null : end - t.startedAt,
        finalMetrics: t.metrics,
        metrics: curves.get(t.trialId) ?? {},
      };
      // The score is the (first) objective's value; its spread over executions is stored beside it.
      const spread = t.metrics[stdName(objective.name)];
      if (spread !== undefined) view.scoreStd = spread;
      if (t.message) view.message = t.message;
      return view;
    });
    const provider = options.importance ?? inlineImportance;
    const names = (objectives ?? [objective]).map((o) => o.name);
    const importance = provider.importanceOf(`${directory}\n${url}\n${options.projectName}`, views, names);
    return {
      name: options.projectName,
      tuner: study.tuner,
      objective: { name: objective.name, direction: objective.direction },
      ...(objectives ? { objectives: objectives.map((o) => ({ name: o.name, direction: o.direction })) } : {}),
      maxTrials: study.maxTrials,
      trials: views,
      importance: importance.byObjective[objective.name] ?? {},
      importanceByObjective: importance.byObjective,
      importanceStatus: importance.status,
    };
  } finally {
    await storage.close();
  }
}

/** Per trial, each metric's curve averaged over executions (NaN points left out, so charts stay drawable). */
function averageCurves(rows: EpochMetric[]): Map<string, Record<string, { step: number; value: number }[]>> {
  const out = new Map<string, Record<string, { step: number; value: number }[]>>();
  for (const [trialId, steps] of meanOverExecutions(rows.filter((r) => !Number.isNaN(r.value)))) {
    const curves: Record<string, { step: number; value: number }[]> = {};
    for (const [step, rec] of steps) {
      for (const [name, value] of Object.entries(rec)) {
        const curve = curves[name] ?? [];
        curve.push({ step, value });
        curves[name] = curve;
      }
    }
    out.set(trialId, curves);
  }
  return out;
}
