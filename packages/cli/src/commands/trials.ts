import { requireStudy } from '@tuneserve/pipeline';
import { rankTrials, type StudyView } from '@tuneserve/tuner';
import type { Command } from 'commander';
import { positiveInt } from '../adapters/flags.js';
import { toUsageError } from '../adapters/pipeline-errors.js';
import { addStudyOptions, type StudyFlags } from './tune.js';

interface TrialsFlags extends StudyFlags {
  json?: boolean;
  best?: number;
}

export function registerTrials(program: Command): void {
  const cmd = program
    .command('trials')
    .description("Summarize a study's trials (a table; --json for machines)")
    .option('--json', 'print the whole study as JSON', false)
    .option('--best <n>', 'only the n best completed trials', positiveInt('--best'));
  addStudyOptions(cmd);
  cmd.action(async (o: TrialsFlags) => {
    const study = await requireStudy({
      directory: o.directory,
      projectName: o.projectName ?? 'mnist',
      ...(o.storage ? { storage: o.storage } : {}),
    }).catch(toUsageError);
    const shown = o.best ? bestTrials(study, o.best) : study;
    process.stdout.write(o.json ? `${JSON.stringify(shown, null, 2)}\n` : formatTrials(shown, study));
  });
}

function bestTrials(study: StudyView, n: number): StudyView {
  return { ...study, trials: rankTrials(study.trials, study.objective.direction).slice(0, n) };
}

/** A fixed-width table: one row per trial of `study`, one column per hyperparameter; counts from `whole`. */
export function formatTrials(study: StudyView, whole: StudyView = study): string {
  const hpNames = [...new Set(study.trials.flatMap((t) => Object.keys(t.hyperparameters)))];
  // The spread over folds (--cv) or executions, when the study has one.
  const spread = study.trials.some((t) => typeof t.scoreStd === 'number');
  const header = [
    'trial',
    'status',
    study.objective.name,
    ...(spread ? ['± std'] : []),
    'best epoch',
    'seconds',
    ...hpNames,
  ];
  const rows = study.trials.map((t) => [
    t.trialId,
    t.status,
    t.score === null ? '-' : t.score.toFixed(4),
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
  return [
    `study ${whole.name}: ${whole.tuner}, objective ${whole.objective.name} (${whole.objective.direction}), ` +
      `${whole.trials.length} trial${whole.trials.length === 1 ? '' : 's'} (${done} completed${whole.maxTrials ? ` of max ${whole.maxTrials}` : ''})${shown}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n');
}
