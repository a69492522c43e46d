/**
 * The training report: SVG charts rendered headlessly with Vega-Lite (a declarative, well-kept chart library
 * that renders to SVG in Node without a browser or canvas) and one self-contained report.html.
 */
import { curveMetrics, parallelCoordinates, paretoFront, trialCurves } from '@tuneserve/client';
import type * as vl from 'vega-lite';
import type { Evaluation, RegressionMetrics } from './metrics.js';
import type { History } from './training.js';

export interface ReportTrial {
  trialId: string;
  status: string;
  score: number | null;
  hyperparameters: Record<string, number | string | boolean>;
  durationMs: number | null;
  metrics: Record<string, { step: number; value: number }[]>;
  /** Multi-objective studies: each objective's value, in `objectives` order. */
  values?: number[] | null;
  /** The score's spread over cross-validation folds (or executions). */
  scoreStd?: number | null;
}

export interface ReportInput {
  title: string;
  objective?: { name: string; direction: 'min' | 'max' };
  /** Present for a multi-objective (Pareto) study. */
  objectives?: { name: string; direction: 'min' | 'max' }[];
  trials: ReportTrial[];
  /** Hyperparameter importance (share of the objective's variance), from the study view. */
  importance?: Record<string, number>;
  /** Each objective's importance by name (multi-objective studies: one set of bars per objective). */
  importanceByObjective?: Record<string, Record<string, number>>;
  bestTrialId?: string;
  bestEpochHistory?: History;
  bestEpoch?: number;
  retrainEpochs: number;
  hyperparameters: Record<string, number | string | boolean>;
  test: Evaluation;
}

export interface Report {
  /** File name -> contents: report.html plus one SVG per chart. */
  files: Record<string, string>;
}

async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  // Loaded on first use: Vega is large and most commands never draw a chart.
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function objectiveChart(input: ReportInput): vl.TopLevelSpec | undefined {
  const done = input.trials
    .map((t, i) => ({ ...t, n: i + 1 }))
    .filter((t) => t.score !== null && Number.isFinite(t.score));
  if (done.length === 0 || !input.objective) return undefined;
  const better = input.objective.direction === 'min' ? Math.min : Math.max;
  let best: number | undefined;
  const values = done.map((t) => {
    best = best === undefined ? (t.score as number) : better(best, t.score as number);
    return { trial: t.n, score: t.score, bestSoFar: best, status: t.status };
  });
  const name = input.objective.name;
  return {
    title: `Objective (${name}) per trial, with the best so far`,
    width: 520,
    height: 260,
    data: { values },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'trial', type: 'quantitative', title: 'trial', axis: { tickMinStep: 1 } },
          y: { field: 'score', type: 'quantitative', title: name, scale: { zero: false } },
          color: { field: 'status', type: 'nominal' },
        },
      },
      {
        mark: { type: 'line', interpolate: 'step-after', color: '#d62728' },
        encoding: {
          x: { field: 'trial', type: 'quantitative' },
          y: { field: 'bestSoFar', type: 'quantitative' },
        },
      },
    ],
  };
}

/** Importance bars: one chart, or with several objectives one per objective, stacked and titled by it. */
function importanceChart(input: ReportInput): vl.TopLevelSpec | undefined {
  const title = "Hyperparameter importance (share of the objective's variance, fANOVA on a random forest)";
  const bars = (importance: Record<string, number> | undefined, subtitle?: string) => {
    const values = Object.entries(importance ?? {}).map(([hyperparameter, share]) => ({ hyperparameter, share }));
    if (values.length === 0) return undefined;
    return {
      title: subtitle ?? title,
      width: 420,
      height: { step: 22 },
      data: { values },
      mark: { type: 'bar', color: '#1f5fbf' },
      encoding: {
        y: { field: 'hyperparameter', type: 'nominal', sort: '-x', title: null },
        x: { field: 'share', type: 'quantitative', axis: { format: '.0%' }, title: 'importance' },
        tooltip: [{ field: 'hyperparameter' }, { field: 'share', format: '.1%' }],
      },
    } satisfies vl.TopLevelSpec;
  };
  const objectives = input.objectives;
  if (!objectives || !input.importanceByObjective) return bars(input.importance);
  const charts = objectives.flatMap((o) => {
    const chart = bars(input.importanceByObjective?.[o.name], `${o.name} (${o.direction})`);
    return chart ? [chart] : [];
  });
  if (charts.length === 0) return undefined;
  return { title: "Hyperparameter importance (share of each objective's variance, fANOVA)", vconcat: charts };
}

/**
 * Parallel coordinates: each axis scaled to [0, 1] here (log axes in decades, categories evenly spaced), lines
 * coloured by the (first) objective, each axis labelled with its range or its categories.
 */
function parallelChart(input: ReportInput): vl.TopLevelSpec | undefined {
  if (!input.objective) return undefined;
  const study = { objective: input.objective, ...(input.objectives ? { objectives: input.objectives } : {}) };
  const { axes, colourAxis, lines } = parallelCoordinates(study, input.trials);
  if (lines.length === 0 || colourAxis === 0) return undefined;
  const rows: { trial: string; axis: string; y: number; score: number }[] = [];
  const labels: { axis: string; y: number; text: string }[] = [];
  axes.forEach((axis, i) => {
    const column = lines.map((l) => l.values[i] ?? null);
    let place: (v: number | string) => number;
    if (axis.categories) {
      const k = axis.categories.length;
      place = (v) => (k === 1 ? 0.5 : axis.categories!.indexOf(String(v)) / (k - 1));
      for (const c of axis.categories) labels.push({ axis: axis.name, y: place(c), text: c });
    } else {
      const f = (v: number) => (axis.log ? Math.log10(v) : v);
      const nums = column.filter((v): v is number => typeof v === 'number');
      const lo = Math.min(...nums.map(f));
      const hi = Math.max(...nums.map(f));
      place = (v) => (hi > lo ? (f(v as number) - lo) / (hi - lo) : 0.5);
      const show = (v: number) => String(Number(v.toPrecision(3)));
      labels.push({ axis: axis.name, y: 0, text: show(Math.min(...nums)) });
      if (hi > lo) labels.push({ axis: axis.name, y: 1, text: show(Math.max(...nums)) });
    }
    lines.forEach((l, j) => {
      const v = column[j];
      if (v !== null && v !== undefined) rows.push({ trial: l.trialId, axis: axis.name, y: place(v), score: l.score });
    });
  });
  const order = axes.map((a) => a.name);
  const x = {
    field: 'axis',
    type: 'nominal' as const,
    sort: order,
    title: null,
    axis: { labelAngle: 0, orient: 'top' as const },
  };
  const colourName = axes[colourAxis]!.name;
  return {
    title: `Parallel coordinates: hyperparameters → objective (colour: ${colourName})`,
    width: Math.max(420, 120 * axes.length),
    height: 260,
    layer: [
      {
        data: { values: order.map((axis) => ({ axis })) },
        mark: { type: 'rule', color: '#555' },
        encoding: { x },
      },
      {
        data: { values: rows },
        mark: { type: 'line', strokeWidth: 1.5, opacity: 0.8 },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', axis: null, scale: { domain: [0, 1] } },
          detail: { field: 'trial', type: 'nominal' },
          color: {
            field: 'score',
            type: 'quantitative',
            title: colourName,
            scale: { scheme: 'turbo', reverse: input.objective.direction === 'min' },
          },
          tooltip: [{ field: 'trial' }, { field: 'score' }],
        },
      },
      {
        data: { values: labels },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#333' },
        encoding: { x, y: { field: 'y', type: 'quantitative' }, text: { field: 'text' } },
      },
    ],
  };
}

/** The objective's per-epoch curve of every trial (intermediate values): pruned ones dashed, colour by score. */
function trialCurvesChart(input: ReportInput): vl.TopLevelSpec | undefined {
  if (!input.objective) return undefined;
  const metric = curveMetrics(input.trials, input.objective.name)[0];
  if (!metric) return undefined;
  const scores = new Map(input.trials.map((t) => [t.trialId, t.score]));
  const values = trialCurves(input.trials, metric).flatMap((c) =>
    c.points.map((p) => ({
      trial: c.trialId,
      epoch: p.step + 1,
      value: p.value,
      status: c.pruned ? 'pruned' : 'not pruned',
      score: scores.get(c.trialId) ?? null,
    })),
  );
  if (values.length === 0) return undefined;
  return {
    title: `${metric} per epoch of every trial (pruned trials dashed)`,
    width: 520,
    height: 260,
    data: { values },
    mark: { type: 'line', point: values.length < 200 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title: metric, scale: { zero: false } },
      detail: { field: 'trial', type: 'nominal' },
      color: {
        field: 'score',
        type: 'quantitative',
        title: input.objective.name,
        scale: { scheme: 'turbo', reverse: input.objective.direction === 'min' },
      },
      strokeDash: {
        field: 'status',
        type: 'nominal',
        title: null,
        scale: {
          domain: ['not pruned', 'pruned'],
          range: [
            [1, 0],
            [5, 4],
          ],
        },
      },
      tooltip: [{ field: 'trial' }, { field: 'epoch' }, { field: 'value' }, { field: 'status' }],
    },
  };
}

/** The first two objectives of a multi-objective study: every completed trial, the Pareto front joined. */
function paretoChart(input: ReportInput): vl.TopLevelSpec | undefined {
  const objectives = input.objectives;
  if (!objectives || objectives.length < 2) return undefined;
  const front = new Set(paretoFront(input.trials, objectives).map((t) => t.trialId));
  const [xo, yo] = [objectives[0]!, objectives[1]!];
  const values = input.trials
    .filter((t) => t.status === 'COMPLETED' && Array.isArray(t.values))
    .map((t) => ({
      trial: t.trialId,
      x: t.values![0]!,
      y: t.values![1]!,
      front: front.has(t.trialId) ? 'Pareto front' : 'dominated',
    }));
  if (values.length === 0) return undefined;
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: `${xo.name} (${xo.direction})`,
    scale: { zero: false },
  };
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    title: `${yo.name} (${yo.direction})`,
    scale: { zero: false },
  };
  return {
    title: `Pareto front: ${xo.name} against ${yo.name} (${front.size} of ${values.length} trials on the front)`,
    width: 420,
    height: 300,
    data: { values },
    layer: [
      {
        transform: [{ filter: "datum.front === 'Pareto front'" }],
        mark: { type: 'line', interpolate: 'step-after', color: '#c2410c' },
        encoding: { x, y, order: { field: 'x' } },
      },
      {
        mark: { type: 'point', filled: true, size: 70 },
        encoding: {
          x,
          y,
          color: {
            field: 'front',
            type: 'nominal',
            title: null,
            scale: { domain: ['Pareto front', 'dominated'], range: ['#c2410c', '#9ca3af'] },
          },
          tooltip: [{ field: 'trial' }, { field: 'x', title: xo.name }, { field: 'y', title: yo.name }],
        },
      },
    ],
  };
}

function curvesChart(title: string, curves: Record<string, number[]>, marker?: number): vl.TopLevelSpec | undefined {
  const rows: { epoch: number; value: number; metric: string; kind: string }[] = [];
  for (const [metric, values] of Object.entries(curves)) {
    const kind = /acc/.test(metric) ? 'accuracy' : /loss/.test(metric) ? 'loss' : metric;
    values.forEach((value, i) => {
      if (Number.isFinite(value)) rows.push({ epoch: i + 1, value, metric, kind });
    });
  }
  if (rows.length === 0) return undefined;
  const line: vl.TopLevelSpec = {
    title,
    data: { values: rows },
    facet: { column: { field: 'kind', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 300,
      height: 220,
      layer: [
        {
          mark: { type: 'line', point: rows.length < 60 },
          encoding: {
            x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
            y: { field: 'value', type: 'quantitative', scale: { zero: false } },
            color: { field: 'metric', type: 'nominal' },
          },
        },
        ...(marker
          ? [
              {
                data: { values: [{ epoch: marker }] },
                mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#555' },
                encoding: { x: { field: 'epoch', type: 'quantitative' as const } },
              },
            ]
          : []),
      ],
    },
  };
  return line;
}

function confusionChart(matrix: number[][], labels: string[]): vl.TopLevelSpec {
  const values = matrix.flatMap((row, t) =>
    row.map((count, p) => ({ truth: labels[t] ?? String(t), predicted: labels[p] ?? String(p), count })),
  );
  const max = Math.max(...values.map((v) => v.count));
  return {
    title: 'Test confusion matrix',
    width: 360,
    height: 360,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'ordinal', sort: labels },
      y: { field: 'truth', type: 'ordinal', sort: labels, title: 'true label' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: 'count', type: 'quantitative', scale: { type: 'symlog', scheme: 'blues' } },
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${max / 3}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/** Regression: every test example as a point (actual, predicted) with the y = x diagonal a perfect model lies on. */
function predictedVsActualChart(test: RegressionMetrics): vl.TopLevelSpec {
  const target = test.target;
  const values = Array.from(test.actual, (actual, i) => ({ actual, predicted: test.predicted[i] }));
  const lo = Math.min(...test.actual, ...test.predicted);
  const hi = Math.max(...test.actual, ...test.predicted);
  return {
    title: `Predicted vs actual ${target} (test set, ${test.count} examples)`,
    width: 360,
    height: 360,
    layer: [
      {
        data: { values },
        mark: { type: 'point', filled: true, opacity: 0.6, size: 30 },
        encoding: {
          x: { field: 'actual', type: 'quantitative', title: `actual ${target}`, scale: { domain: [lo, hi] } },
          y: { field: 'predicted', type: 'quantitative', title: `predicted ${target}`, scale: { domain: [lo, hi] } },
        },
      },
      {
        data: {
          values: [
            { actual: lo, predicted: lo },
            { actual: hi, predicted: hi },
          ],
        },
        mark: { type: 'line', color: '#d62728', strokeDash: [4, 4] },
        encoding: {
          x: { field: 'actual', type: 'quantitative' },
          y: { field: 'predicted', type: 'quantitative' },
        },
      },
    ],
  };
}

function pointsToArray(points: { step: number; value: number }[]): number[] {
  const out: number[] = [];
  for (const p of points) out[p.step] = p.value;
  return Array.from(out, (v) => v ?? Number.NaN);
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const fmt = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits);

/** Renders the charts and the HTML page. */
export async function buildReport(input: ReportInput): Promise<Report> {
  const files: Record<string, string> = {};
  const sections: string[] = [];
  const chart = async (file: string, heading: string, spec: vl.TopLevelSpec | undefined) => {
    if (!spec) return;
    const svg = await renderSvg(spec);
    files[file] = svg;
    sections.push(`<section><h2>${escapeHtml(heading)}</h2>${svg}</section>`);
  };

  await chart('trials.svg', 'Trials', objectiveChart(input));
  await chart('pareto-front.svg', 'Pareto front', paretoChart(input));
  await chart('importance.svg', 'Hyperparameter importance', importanceChart(input));
  await chart('parallel-coordinates.svg', 'Parallel coordinates', parallelChart(input));
  await chart('trial-curves.svg', 'Learning curves of every trial', trialCurvesChart(input));
  const bestTrial = input.trials.find((t) => t.trialId === input.bestTrialId);
  if (bestTrial) {
    const curves = Object.fromEntries(Object.entries(bestTrial.metrics).map(([k, v]) => [k, pointsToArray(v)]));
    await chart('best-trial-curves.svg', `Best trial (${bestTrial.trialId}) learning curves`, curvesChart('', curves));
  }
  if (input.bestEpochHistory) {
    await chart(
      'best-epoch.svg',
      `Best-epoch search (best epoch ${input.bestEpoch ?? '?'}, retrained for ${input.retrainEpochs} epochs)`,
      curvesChart('', input.bestEpochHistory, input.bestEpoch),
    );
  }
  const test = input.test;
  if (test.task === 'classification') {
    await chart('confusion-matrix.svg', 'Test confusion matrix', confusionChart(test.confusionMatrix, test.labels));
  } else {
    await chart('predicted-vs-actual.svg', 'Predicted vs actual (test set)', predictedVsActualChart(test));
  }

  const hpNames = [...new Set(input.trials.flatMap((t) => Object.keys(t.hyperparameters)))];
  const objectives = input.objectives;
  const front = new Set(objectives ? paretoFront(input.trials, objectives).map((t) => t.trialId) : []);
  const scoreCells = (t: ReportTrial): string => {
    if (objectives) return objectives.map((_, i) => `<td>${fmt(t.values?.[i])}</td>`).join('');
    const std = t.scoreStd;
    return `<td>${fmt(t.score)}${typeof std === 'number' ? ` ± ${fmt(std)}` : ''}</td>`;
  };
  const trialRows = input.trials
    .map((t) => {
      const classes = [t.trialId === input.bestTrialId ? 'best' : '', front.has(t.trialId) ? 'front' : ''].filter(
        Boolean,
      );
      return (
        `<tr${classes.length ? ` class="${classes.join(' ')}"` : ''}><td>${escapeHtml(t.trialId)}${front.has(t.trialId) ? ' ★' : ''}</td><td>${escapeHtml(t.status)}</td>` +
        `${scoreCells(t)}${hpNames.map((n) => `<td>${escapeHtml(String(t.hyperparameters[n] ?? '–'))}</td>`).join('')}` +
        `<td>${t.durationMs === null ? '–' : (t.durationMs / 1000).toFixed(1)}</td></tr>`
      );
    })
    .join('\n');
  const scoreHeads = objectives
    ? objectives.map((o) => `<th>${escapeHtml(o.name)} (${o.direction})</th>`).join('')
    : '<th>score</th>';
  const perClassSection =
    test.task === 'classification'
      ? `<section><h2>Per-class precision, recall and F1 (test set)</h2>
<table><thead><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody>${test.perClass
          .map(
            (c) =>
              `<tr><td>${escapeHtml(c.label)}</td><td>${fmt(c.precision)}</td><td>${fmt(c.recall)}</td><td>${fmt(c.f1)}</td><td>${c.support}</td></tr>`,
          )
          .join('\n')}</tbody></table></section>`
      : '';
  const headline =
    test.task === 'classification'
      ? `Test accuracy <strong>${(test.accuracy * 100).toFixed(2)}%</strong> · test loss ${fmt(test.loss)}`
      : `Test MAE <strong>${fmt(test.mae)}</strong> · RMSE ${fmt(test.rmse)} · R² ${fmt(test.r2)} (${escapeHtml(test.target)})`;
  const hpList = Object.entries(input.hyperparameters)
    .map(([k, v]) => `<li><code>${escapeHtml(k)}</code> = ${escapeHtml(String(v))}</li>`)
    .join('');

  files['report.html'] = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}tr.best{background:#fff5cc}section{margin:2rem 0}.big{font-size:1.4rem}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
<p class="big">${headline}</p>
<p>Hyperparameters:</p><ul>${hpList}</ul>
<p>Best epoch ${input.bestEpoch ?? '–'} · retrained on train+val for ${input.retrainEpochs} epochs.</p>
${sections.join('\n')}
<section><h2>Trials${input.objective ? ` (objective ${escapeHtml(input.objective.name)}, ${input.objective.direction})` : ''}${front.size ? ` · ★ Pareto front (${front.size})` : ''}</h2>
<table><thead><tr><th>trial</th><th>status</th>${scoreHeads}${hpNames.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}<th>seconds</th></tr></thead>
<tbody>${trialRows || '<tr><td colspan="4">no tuning study (fixed hyperparameters)</td></tr>'}</tbody></table></section>
${perClassSection}
</body></html>
`;
  return { files };
}
