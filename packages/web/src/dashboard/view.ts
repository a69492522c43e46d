/**
 * The tuning dashboard: trials table, objective and hyperparameter charts, the best trial's
 * learning curves (all redrawn on every `study` server-sent event), and the served model's
 * metadata with its test confusion matrix.
 */
import { HttpError, type ServedModel, type StudyJson, type TuneserveClient } from '@tuneserve/client';
import { describeError } from '../messages.js';
import { curvesChart, followResize, objectiveChart, scatterChart, showEmpty } from './charts.js';
import {
  bestTrial,
  formatDuration,
  formatValue,
  hpPoints,
  hyperparameterNames,
  runningBest,
  scored,
} from './study-math.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export class Dashboard {
  private study: StudyJson | undefined;
  private live: AbortController | undefined;
  private retryTimer: number | undefined;

  constructor(private readonly client: () => TuneserveClient) {
    $('hp-select').addEventListener('change', () => this.renderScatter());
    followResize(['chart-objective', 'chart-scatter', 'chart-curves'].map((id) => $(id)));
  }

  /** Starts (or restarts) loading and following the study; called when the view opens. */
  start(): void {
    this.stop();
    const controller = new AbortController();
    this.live = controller;
    void this.loadModel();
    void this.follow(controller, 0);
  }

  stop(): void {
    this.live?.abort();
    this.live = undefined;
    window.clearTimeout(this.retryTimer);
  }

  private async follow(controller: AbortController, failures: number): Promise<void> {
    const client = this.client();
    try {
      this.render(await client.study());
      this.setLive('live');
      await client.watchStudy((study) => this.render(study), controller.signal);
      failures = 0;
    } catch (error) {
      if (controller.signal.aborted) return;
      failures++;
      if (error instanceof HttpError && error.status === 404) {
        this.summary('No tuning study is attached to this server. Start it with a study (e.g. `tuneserve up`).');
      } else {
        this.summary(describeError(error, client.apiKey !== undefined).text);
      }
    }
    if (controller.signal.aborted) return;
    this.setLive('reconnecting');
    const delay = Math.min(10_000, 1000 * 2 ** Math.min(failures, 4));
    this.retryTimer = window.setTimeout(() => void this.follow(controller, failures), delay);
  }

  private setLive(state: 'live' | 'reconnecting'): void {
    $('study-summary').dataset.live = state;
  }

  private summary(text: string): void {
    $('study-summary').textContent = text;
  }

  private render(study: StudyJson): void {
    this.study = study;
    const done = study.trials.filter((t) => t.status === 'COMPLETED').length;
    const running = study.trials.filter((t) => t.status === 'RUNNING').length;
    const best = bestTrial(study);
    const of = study.maxTrials === null ? '' : ` of ${study.maxTrials}`;
    this.summary(
      `Study “${study.name}” (${study.tuner}): ${study.trials.length}${of} trials, ${done} completed` +
        (running ? `, ${running} running` : '') +
        ` · objective ${study.objective.name} (${study.objective.direction})` +
        (best ? ` · best ${formatValue(best.score)} in trial ${best.trialId}` : ''),
    );
    this.renderTable(study, best?.trialId);
    this.renderObjective(study);
    this.fillHpSelect(study);
    this.renderScatter();
    this.renderCurves(study);
  }

  private renderTable(study: StudyJson, bestId: string | undefined): void {
    const table = $<HTMLTableElement>('trials-table');
    const hps = hyperparameterNames(study);
    const head = document.createElement('tr');
    for (const title of ['Trial', 'Status', ...hps, `Score (${study.objective.name})`, 'Best step', 'Duration']) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = title;
      head.append(th);
    }
    table.tHead!.replaceChildren(head);
    const rows = study.trials.map((t) => {
      const tr = document.createElement('tr');
      tr.dataset.status = t.status;
      if (t.trialId === bestId) {
        tr.className = 'best';
        tr.title = 'best trial';
      }
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = t.trialId;
      const cells = [
        t.status,
        ...hps.map((h) => formatValue(t.hyperparameters[h])),
        formatValue(t.score),
        t.bestStep === null ? '–' : String(t.bestStep),
        formatDuration(t.durationMs),
      ];
      tr.append(
        th,
        ...cells.map((text) => {
          const td = document.createElement('td');
          td.textContent = text;
          return td;
        }),
      );
      if (t.message) tr.cells[1]!.title = t.message;
      return tr;
    });
    table.tBodies[0]!.replaceChildren(...rows);
  }

  private renderObjective(study: StudyJson): void {
    const scores = scored(study).map((t) => t.score!);
    if (scores.length === 0) {
      showEmpty($('chart-objective'), 'No finished trial yet.');
      return;
    }
    objectiveChart($('chart-objective'), scores, runningBest(scores, study.objective.direction), study.objective.name);
  }

  private fillHpSelect(study: StudyJson): void {
    const select = $<HTMLSelectElement>('hp-select');
    const names = hyperparameterNames(study);
    const current = [...select.options].map((o) => o.value);
    if (current.join('\n') === names.join('\n')) return;
    const keep = select.value;
    select.replaceChildren(
      ...names.map((n) => {
        const option = document.createElement('option');
        option.value = n;
        option.textContent = n;
        return option;
      }),
    );
    if (names.includes(keep)) select.value = keep;
  }

  private renderScatter(): void {
    const study = this.study;
    const name = $<HTMLSelectElement>('hp-select').value;
    if (!study || !name) {
      showEmpty($('chart-scatter'), 'No hyperparameters yet.');
      return;
    }
    const { points, categories } = hpPoints(study, name);
    if (points.length === 0) {
      showEmpty($('chart-scatter'), 'No finished trial yet.');
      return;
    }
    scatterChart($('chart-scatter'), points, name, study.objective.name, categories);
  }

  private renderCurves(study: StudyJson): void {
    const best = bestTrial(study);
    const curves = best?.metrics ?? {};
    $('curves-caption').textContent = best
      ? `Learning curves of the best trial (${best.trialId})`
      : 'Learning curves of the best trial';
    if (!best || Object.keys(curves).length === 0) {
      showEmpty($('chart-curves'), 'No learning curves yet.');
      return;
    }
    curvesChart($('chart-curves'), curves);
  }

  private async loadModel(): Promise<void> {
    const client = this.client();
    try {
      renderModel(await client.servedModel());
    } catch (error) {
      const p = document.createElement('p');
      p.className = 'empty';
      p.textContent =
        error instanceof HttpError && error.status === 404
          ? 'No model is being served.'
          : describeError(error, client.apiKey !== undefined).text;
      $('model-meta').replaceChildren(p);
      $('confusion').replaceChildren();
    }
  }
}

function renderModel(model: ServedModel): void {
  const m = model.metadata;
  const entries: [string, string][] = [
    ['Name', model.name],
    ['Version', `${model.version} (loaded: ${model.versions.join(', ')})`],
    ['Created', m.createdAt],
    ['Input shape', JSON.stringify(m.inputShape)],
  ];
  if (m.testMetrics) {
    const { accuracy, mae, rmse, r2 } = m.testMetrics;
    if (accuracy !== undefined) entries.push(['Test accuracy', `${(accuracy * 100).toFixed(2)}%`]);
    if (mae !== undefined && rmse !== undefined && r2 !== undefined) {
      entries.push(['Test MAE / RMSE / R²', `${mae.toFixed(4)} / ${rmse.toFixed(4)} / ${r2.toFixed(4)}`]);
    }
    entries.push(['Test loss', m.testMetrics.loss.toFixed(4)]);
  }
  if (m.hyperparameters) {
    entries.push([
      'Hyperparameters',
      Object.entries(m.hyperparameters)
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(', '),
    ]);
  }
  if (m.backend) entries.push(['Trained on backend', m.backend]);
  entries.push(['tuneserve', m.tuneserveVersion]);
  $('model-meta').replaceChildren(
    ...entries.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  const matrix = m.testMetrics?.confusionMatrix;
  if (!matrix) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = 'This model was saved without a confusion matrix.';
    $('confusion').replaceChildren(p);
    return;
  }
  $('confusion').replaceChildren(confusionTable(matrix, m.labels));
}

/** Rows are true labels, columns predictions; cell shade is the share of its row. */
function confusionTable(matrix: number[][], labels: string[]): HTMLTableElement {
  const table = document.createElement('table');
  const caption = table.createCaption();
  caption.textContent = 'Rows: true digit · columns: predicted digit';
  const head = table.createTHead().insertRow();
  head.append(document.createElement('td'));
  matrix.forEach((_, j) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = labels[j] ?? String(j);
    head.append(th);
  });
  const body = table.createTBody();
  matrix.forEach((row, i) => {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = labels[i] ?? String(i);
    tr.append(th);
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, j) => {
      const td = tr.insertCell();
      td.textContent = String(count);
      const share = count / total;
      td.style.setProperty('--share', share.toFixed(3));
      td.className = i === j ? 'diag' : share > 0.02 ? 'off hot' : 'off';
    });
  });
  return table;
}
