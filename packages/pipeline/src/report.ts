/**
 * The training report: SVG charts rendered headlessly with Vega-Lite (a declarative, well-kept chart library
 * that renders to SVG in Node without a browser or canvas) and one self-contained report.html.
 */
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
}

export interface ReportInput {
  title: string;
  objective?: { name: string; direction: 'min' | 'max' };
  trials: ReportTrial[];
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
  const trialRows = input.trials
    .map(
      (t) =>
        `<tr${t.trialId === input.bestTrialId ? ' class="best"' : ''}><td>${escapeHtml(t.trialId)}</td><td>${escapeHtml(t.status)}</td>` +
        `<td>${fmt(t.score)}</td>${hpNames.map((n) => `<td>${escapeHtml(String(t.hyperparameters[n] ?? '–'))}</td>`).join('')}` +
        `<td>${t.durationMs === null ? '–' : (t.durationMs / 1000).toFixed(1)}</td></tr>`,
    )
    .join('\n');
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
<section><h2>Trials${input.objective ? ` (objective ${escapeHtml(input.objective.name)}, ${input.objective.direction})` : ''}</h2>
<table><thead><tr><th>trial</th><th>status</th><th>score</th>${hpNames.map((n) => `<th>${escapeHtml(n)}</th>`).join('')}<th>seconds</th></tr></thead>
<tbody>${trialRows || '<tr><td colspan="4">no tuning study (fixed hyperparameters)</td></tr>'}</tbody></table></section>
${perClassSection}
</body></html>
`;
  return { files };
}
