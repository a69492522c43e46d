/**
 * The tuning dashboard of the chosen model's study: trials table, objective and hyperparameter charts,
 * importance, parallel coordinates, every trial's learning curves, the Pareto front of a
 * multi-objective study, filtered to the top K (all redrawn on every `study` server-sent event), and
 * the model's metadata with its test confusion matrix.
 */
import { HttpError, type ServedModel, type StudyJson, type TuneserveClient } from '@tuneserve/client';
import { describeError } from '../messages.js';
import {
  curvesChart,
  followResize,
  objectiveChart,
  paretoChart,
  scatterChart,
  showEmpty,
  trialCurvesChart,
} from './charts.js';
import { disposeParallel, parallelChart } from './parallel.js';
import {
  bestTrial,
  curveMetrics,
  formatDuration,
  formatValue,
  frontIds,
  hpPoints,
  hyperparameterNames,
  importanceNote,
  importanceSets,
  parallelCoordinates,
  paretoPoints,
  runningBest,
  scored,
  scoreSpread,
  topTrials,
  trialCurves,
} from './study-math.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export class Dashboard {
  private study: StudyJson | undefined;
  private live: AbortController | undefined;
  private retryTimer: number | undefined;

  constructor(
    private readonly client: () => TuneserveClient,
    /** The model whose study and metadata the dashboard shows (undefined: the server's default). */
    private readonly model: () => string | undefined = () => undefined,
  ) {
    $('hp-select').addEventListener('change', () => this.renderScatter());
    $('curve-metric').addEventListener('change', () => this.study && this.renderTrialCurves(this.study));
    for (const id of ['pareto-x', 'pareto-y'])
      $(id).addEventListener('change', () => this.study && this.renderPareto(this.study));
    const topK = $<HTMLInputElement>('top-k');
    topK.addEventListener('input', () => this.study && this.render(this.study));
    $('study-controls').addEventListener('submit', (e) => e.preventDefault());
    followResize(
      ['chart-objective', 'chart-scatter', 'chart-curves', 'chart-trial-curves', 'chart-pareto'].map((id) => $(id)),
    );
  }

  /** The K of "show the best K" (0: all). */
  private topK(): number {
    const k = Number($<HTMLInputElement>('top-k').value);
    return Number.isInteger(k) && k > 0 ? k : 0;
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
    const model = this.model();
    try {
      this.render(await client.study(model));
      this.setLive('live');
      await client.watchStudy((study) => this.render(study), controller.signal, model);
      failures = 0;
    } catch (error) {
      if (controller.signal.aborted) return;
      failures++;
      if (error instanceof HttpError && error.status === 404) {
        this.summary(
          model
            ? `No tuning study found for model “${model}”: ${error.message}`
            : 'No tuning study is attached to this server. Start it with a study (e.g. `tuneserve up`).',
        );
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

  private render(full: StudyJson): void {
    this.study = full;
    const done = full.trials.filter((t) => t.status === 'COMPLETED').length;
    const running = full.trials.filter((t) => t.status === 'RUNNING').length;
    const pruned = full.trials.filter((t) => t.status === 'PRUNED').length;
    const best = bestTrial(full);
    const of = full.maxTrials === null ? '' : ` of ${full.maxTrials}`;
    const objectives = full.objectives
      ? `objectives ${full.objectives.map((o) => `${o.name} (${o.direction})`).join(', ')} · ${frontIds(full).size} on the Pareto front`
      : `objective ${full.objective.name} (${full.objective.direction})`;
    const spread = best ? scoreSpread(best) : undefined;
    this.summary(
      `Study “${full.name}” (${full.tuner}): ${full.trials.length}${of} trials, ${done} completed` +
        (pruned ? `, ${pruned} pruned` : '') +
        (running ? `, ${running} running` : '') +
        ` · ${objectives}` +
        (best
          ? ` · best ${full.objectives ? `${full.objective.name} ` : ''}${formatValue(best.score)}${spread === undefined ? '' : ` ± ${formatValue(spread)}`} in trial ${best.trialId}`
          : ''),
    );
    // The top-K filter narrows every trial view; the importance stays the whole study's.
    const k = this.topK();
    const shown = topTrials(full, k);
    $('top-k-count').textContent = k ? `showing ${shown.length} of ${full.trials.length}` : '';
    const study: StudyJson = { ...full, trials: shown };
    this.renderTable(study, best?.trialId, frontIds(full));
    this.renderObjective(study);
    this.fillHpSelect(study);
    this.renderScatter();
    this.renderCurves(full);
    this.renderImportance(full);
    void this.renderParallel(study);
    this.renderTrialCurves(full);
    this.renderPareto(full);
  }

  private renderTable(study: StudyJson, bestId: string | undefined, front: Set<string>): void {
    const table = $<HTMLTableElement>('trials-table');
    const hps = hyperparameterNames(study);
    const objectiveColumns = study.objectives?.map((o) => `${o.name} (${o.direction})`) ?? [
      `Score (${study.objective.name})`,
    ];
    const head = document.createElement('tr');
    for (const title of ['Trial', 'Status', ...hps, ...objectiveColumns, 'Best step', 'Duration']) {
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
        tr.classList.add('best');
        tr.title = 'best trial';
      }
      if (front.has(t.trialId)) {
        tr.classList.add('front');
        tr.title = tr.title ? `${tr.title}, on the Pareto front` : 'on the Pareto front';
      }
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = t.trialId;
      const cells = [
        t.status,
        ...hps.map((h) => formatValue(t.hyperparameters[h])),
        ...(study.objectives ? study.objectives.map((_, i) => formatValue(t.values?.[i])) : [scoreText(study, t)]),
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

  /** One set of bars per objective (headed by its name when there are several), and the computation's state. */
  private renderImportance(study: StudyJson): void {
    const sets = importanceSets(study);
    const note = importanceNote(study);
    const parts = sets.map(({ objective, bars }) => {
      const list = document.createElement('ol');
      list.className = 'bars importance';
      list.dataset.objective = objective.name;
      list.setAttribute('aria-label', `Hyperparameter importance for ${objective.name}`);
      if (bars.length === 0 && !note) {
        const li = document.createElement('li');
        li.className = 'empty';
        li.textContent = 'Needs two completed trials.';
        list.append(li);
      }
      list.append(
        ...bars.map(([name, share]) => {
          const li = document.createElement('li');
          const label = document.createElement('span');
          label.textContent = name;
          const track = document.createElement('span');
          track.className = 'track';
          const fill = document.createElement('span');
          fill.className = 'fill';
          fill.style.width = `${(share * 100).toFixed(1)}%`;
          track.append(fill);
          const pct = document.createElement('span');
          pct.className = 'pct';
          pct.textContent = `${(share * 100).toFixed(1)}%`;
          li.append(label, track, pct);
          li.setAttribute('aria-label', `${name}: ${(share * 100).toFixed(1)}%`);
          return li;
        }),
      );
      if (sets.length === 1) return list;
      const section = document.createElement('section');
      const heading = document.createElement('h4');
      heading.textContent = `${objective.name} (${objective.direction})`;
      section.append(heading, list);
      return section;
    });
    const status = document.createElement('p');
    status.className = 'importance-status';
    status.dataset.testid = 'importance-status';
    status.dataset.state = study.importanceStatus?.state ?? 'ready';
    status.textContent = note;
    status.hidden = !note;
    $('importance').replaceChildren(...parts, status);
  }

  private async renderParallel(study: StudyJson): Promise<void> {
    const container = $('chart-parallel');
    const { axes, colourAxis, lines } = parallelCoordinates(study, study.trials);
    if (lines.length === 0 || colourAxis === 0) {
      disposeParallel(container);
      showEmpty(container, 'No finished trial yet.');
      return;
    }
    await parallelChart(container, axes, lines, colourAxis, study.objective.direction);
  }

  private renderTrialCurves(study: StudyJson): void {
    const select = $<HTMLSelectElement>('curve-metric');
    const metrics = curveMetrics(study.trials, study.objective.name);
    fillSelect(select, metrics);
    const container = $('chart-trial-curves');
    const shown = topTrials(study, this.topK());
    const curves = select.value ? trialCurves(shown, select.value) : [];
    if (curves.length === 0) {
      showEmpty(container, 'No learning curves yet.');
      return;
    }
    trialCurvesChart(container, curves, select.value, bestTrial(study)?.trialId);
  }

  private renderPareto(study: StudyJson): void {
    const objectives = study.objectives;
    $('pareto-panel').hidden = !objectives;
    if (!objectives) return;
    const names = objectives.map((o) => `${o.name} (${o.direction})`);
    const x = $<HTMLSelectElement>('pareto-x');
    const y = $<HTMLSelectElement>('pareto-y');
    if (fillSelect(x, names)) x.value = names[0]!;
    if (fillSelect(y, names)) y.value = names[1]!;
    const xi = names.indexOf(x.value);
    const yi = names.indexOf(y.value);
    const points = paretoPoints(study, xi, yi);
    if (points.length === 0) {
      showEmpty($('chart-pareto'), 'No completed trial yet.');
      return;
    }
    paretoChart($('chart-pareto'), points, names[xi]!, names[yi]!);
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
    fillSelect($<HTMLSelectElement>('hp-select'), hyperparameterNames(study));
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
    const name = this.model();
    try {
      renderModel(await (name ? client.model(name) : client.servedModel()));
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

/** The score, with its spread over cross-validation folds when the trial has one. */
function scoreText(study: StudyJson, t: StudyJson['trials'][number]): string {
  const spread = scoreSpread(t);
  return spread === undefined ? formatValue(t.score) : `${formatValue(t.score)} ± ${formatValue(spread)}`;
}

/** Replaces a select's options when the list changed (keeping the choice); true when it did. */
function fillSelect(select: HTMLSelectElement, names: string[]): boolean {
  const current = [...select.options].map((o) => o.value);
  if (current.join('\n') === names.join('\n')) return false;
  const keep = select.value;
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(keep)) select.value = keep;
  return true;
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
