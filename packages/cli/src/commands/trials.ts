import { requireStudy } from '@tuneserve/pipeline';
import { paretoFront, rankTrials, type StudyView } from '@tuneserve/tuner';
import type { Command } from 'commander';
import { positiveInt } from '../adapters/flags.js';
import { toUsageError } from '../adapters/pipeline-errors.js';
import { addStudyOptions, type StudyFlags } from './tune.js';

interface TrialsFlags extends StudyFlags {
  json?: boolean;
  best?: number;
  front?: boolean;
}

export function registerTrials(program: Command): void {
  const cmd = program
    .command('trials')
    .description("Summarize a study's trials (a table; --json for machines)")
    .option('--json', 'print the whole study as JSON', false)
    .option(
      '--best <n>',
      'only the n best completed trials (several objectives: n members of the Pareto front)',
      positiveInt('--best'),
    )
    .option('--front', 'only the Pareto front (several objectives; one objective: the best trial)', false);
  addStudyOptions(cmd);
  cmd.action(async (o: TrialsFlags) => {
    const study = await requireStudy({
      directory: o.directory,
      projectName: o.projectName ?? 'mnist',
      ...(o.storage ? { storage: o.storage } : {}),
    }).catch(toUsageError);
    const shown = o.front || o.best ? bestTrials(study, o.best ?? (study.objectives ? Infinity : 1)) : study;
    process.stdout.write(o.json ? `${JSON.stringify(shown, null, 2)}\n` : formatTrials(shown, study));
  });
}

/** The n best trials: by the objective, or with several objectives the Pareto front sorted by the first. */
function bestTrials(study: StudyView, n: number): StudyView {
  const ranked = study.objectives
    ? paretoFront(study.trials, study.objectives)
    : rankTrials(study.trials, study.objective.direction);
  return { ...study, trials: ranked.slice(0, n) };
}

/** A fixed-width table: one row per trial of `study`, one column per hyperparameter; counts from `whole`. */
export function formatTrials(study: StudyView, whole: StudyView = study): string {
  const hpNames = [...new Set(study.trials.flatMap((t) => Object.keys(t.hyperparameters)))];
  // The spread over folds (--cv) or executions, when the study has one.
  const spread = study.trials.some((t) => typeof t.scoreStd === 'number');
  // Several objectives: a column per objective and the Pareto front marked (computed over the whole study).
  const objectives = whole.objectives ?? [];
  const front = new Set(objectives.length ? paretoFront(whole.trials, objectives).map((t) => t.trialId) : []);
  const objectiveColumns = objectives.length ? ['front', ...objectives.map((o) => o.name)] : [study.objective.name];
  const header = [
    'trial',
    'status',
    ...objectiveColumns,
    ...(spread ? ['± std'] : []),
    'best epoch',
    'seconds',
    ...hpNames,
  ];
  const rows = study.trials.map((t) => [
    t.trialId,
    t.status,
    ...(objectives.length
      ? [front.has(t.trialId) ? '*' : '', ...objectives.map((_, k) => formatValue(t.values?.[k]))]
      : [t.score === null ? '-' : t.score.toFixed(4)]),
    ...(spread ? [typeof t.scoreStd === 'number' ? t.scoreStd.toFixed(4) : '-'] : []),
    t.bestStep === null ? '-' : String(t.bestStep + 1),
    t.durationMs === null ? '-' : (t.durationMs / 1000).toFixed(1),
    ...hpNames.map((n) => {
      const v = t.hyperparameters[n];
      return v === undefined ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(3) : String(v);
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const done = whole.trials.filter((t) => t.status === 'COMPLETED').length;
  const shown = study.trials.length < whole.trials.length ? `; the best ${study.trials.length}` : '';
  const objectiveText = objectives.length
    ? `objectives ${objectives.map((o) => `${o.name} (${o.direction})`).join(', ')}, Pareto front ${front.size} (*)`
    : `objective ${whole.objective.name} (${whole.objective.direction})`;
  return [
    `study ${whole.name}: ${whole.tuner}, ${objectiveText}, ` +
      `${whole.trials.length} trial${whole.trials.length === 1 ? '' : 's'} (${done} completed${whole.maxTrials ? ` of max ${whole.maxTrials}` : ''})${shown}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...importanceLine(whole),
    '',
  ].join('\n');
}

/** Which hyperparameters mattered, over the whole study (fANOVA importance), one line per objective. */
function importanceLine(study: StudyView): string[] {
  const byObjective = study.importanceByObjective ?? { [study.objective.name]: study.importance };
  const lines = (study.objectives ?? [study.objective]).flatMap((objective) => {
    const entries = Object.entries(byObjective[objective.name] ?? {});
    if (entries.length === 0) return [];
    const shares = entries.map(([name, share]) => `${name} ${(share * 100).toFixed(1)}%`).join(', ');
    return study.objectives
      ? [`  ${objective.name} (${objective.direction}): ${shares}`]
      : [`hyperparameter importance (share of the objective's variance, fANOVA): ${shares}`];
  });
  if (lines.length === 0) return [];
  return study.objectives
    ? ['', "hyperparameter importance (share of each objective's variance, fANOVA):", ...lines]
    : ['', ...lines];
}

/** An objective's value: counts (model_size, model_bytes) as integers, the rest with 4 decimals. */
function formatValue(v: number | undefined): string {
  if (v === undefined) return '-';
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}
