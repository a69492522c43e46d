/**
 * The tuning dashboard in Chromium against a real server on 127.0.0.1 serving several models, each showing the
 * study it was tuned in (the CLI's study source reading real SQLite studies): importance, parallel coordinates,
 * every trial's learning curves with pruned trials marked, the cross-validation spread, the top-K filter, and the
 * Pareto front of a multi-objective study.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StudyJson } from '@tuneserve/client';
import { createServer, type TuneServer } from '@tuneserve/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { studySourceFor } from '../../cli/src/adapters/sources.js';
import { freshDir, writeModel } from '../../server/test/fixtures.js';
import { writeShade, writeWine } from '../../server/test/schema-fixtures.js';
import { buildBundle, launchChromium, SCREENSHOTS } from './support/browser.js';
import { PARETO_FRONT, writeMultiObjectiveStudy, writeSingleObjectiveStudy } from './support/studies.js';

const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

/** Records in the model's metadata the study it was tuned in, as `tuneserve train` does. */
async function recordStudy(versionDir: string, projectName: string): Promise<void> {
  const file = join(versionDir, 'metadata.json');
  const metadata = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  metadata.training = { study: { projectName, trialId: '05', score: 0.95, tuner: 'RandomSearch' } };
  await writeFile(file, JSON.stringify(metadata));
}

describe.skipIf(!hasSystem('chromium'))('tuning dashboard in Chromium', () => {
  let webRoot: string;
  let browser: Browser;
  let server: TuneServer;
  let url: string;
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    const dir = await freshDir('web-dashboard');
    const root = join(dir, 'models');
    const tuning = join(dir, 'tuning');
    await writeModel(join(root, 'mnist', '1'), 'identity'); // no training record, no study of its name
    await recordStudy(await writeWine(root), 'wine-search');
    await recordStudy(await writeShade(root), 'shade-pareto');
    await writeSingleObjectiveStudy(tuning, 'wine-search');
    await writeMultiObjectiveStudy(tuning, 'shade-pareto');
    [webRoot, browser] = await Promise.all([buildBundle(), launchChromium()]);
    server = await createServer({
      modelRoot: root,
      webRoot,
      study: studySourceFor({ directory: tuning }),
      pollIntervalMs: 0,
      logger: { level: 'error' },
      defaultMetrics: false,
    });
    url = await server.listen(0, '127.0.0.1');
  });
  afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  async function open(model: string, width = 1200, height = 2200): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e));
    await page.goto(`${url}/#/tuning`);
    await poll(() => page.getByTestId('model-select').locator('option').count()).toBe(3);
    await page.getByTestId('model-select').selectOption(model);
    return page;
  }

  it('shows the chosen model study: importance, parallel coordinates, every curve, the CV spread', async () => {
    const page = await open('wine');
    const summary = page.getByTestId('study-summary');
    await poll(() => summary.textContent()).toMatch(/Study “wine-search”/);
    expect(await summary.textContent()).toMatch(
      /14 of 14 trials, 10 completed, 3 pruned · objective val_accuracy \(max\) · best 0\.9538 ± 0\.009 in trial 05/,
    );

    // Importance: one bar per hyperparameter, the optimizer first (it drives the objective), shares summing to 100%.
    const bars = page.getByTestId('importance').locator('li');
    await poll(() => bars.count()).toBe(5);
    const labels = await bars.evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label') ?? ''));
    expect(labels[0]).toMatch(/^optimizer: \d+\.\d%$/);
    expect(labels[1]).toMatch(/^learning_rate: /);
    const total = labels.reduce((s, l) => s + Number.parseFloat(l.split(': ')[1]!), 0);
    expect(total).toBeGreaterThan(99.5);
    expect(total).toBeLessThan(100.5);

    // Parallel coordinates: an axis per hyperparameter plus the objective, a line per scored trial (13).
    const parallel = page.getByTestId('parallel');
    await poll(() => parallel.locator('svg').count()).toBe(1);
    const axisNames = await parallel.locator('svg text').allTextContents();
    for (const name of ['layers', 'learning_rate', 'optimizer', 'units', 'units_2', 'val_accuracy']) {
      expect(axisNames).toContain(name);
    }
    expect(axisNames).toEqual(expect.arrayContaining(['adam', 'rmsprop', 'sgd', '0.0001', '0.1'])); // log axis
    expect(axisNames).not.toContain('1.5'); // integer axes tick on integers
    // Trial lines are the series' translucent strokes (axes and ticks are opaque).
    const lineCount = () => parallel.locator('svg path[stroke-opacity="0.75"]').count();
    await poll(lineCount).toBe(13);

    // Every trial's curves: 13 series (the failed trial has none), the 3 pruned ones labelled as such.
    const curves = page.getByTestId('trial-curves');
    await poll(() => curves.locator('.u-legend .u-series').count()).toBe(14); // x + 13 trials
    const legend = await curves.locator('.u-legend .u-series .u-label').allTextContents();
    expect(legend.filter((l) => l.endsWith('(pruned)'))).toEqual([
      'trial 04 (pruned)',
      'trial 09 (pruned)',
      'trial 13 (pruned)',
    ]);
    expect(await page.getByTestId('curve-metric').locator('option').allTextContents()).toEqual([
      'val_accuracy',
      'val_loss',
    ]);

    // The table shows the score with its spread over folds.
    const best = page.locator('#trials-table tr.best');
    expect(await best.locator('th').textContent()).toBe('05');
    expect(await best.locator('td').allTextContents()).toContain('0.9538 ± 0.009');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-study.png'), fullPage: true });

    // Top K: the table, the parallel coordinates and the curves narrow to the 4 best completed trials.
    await page.getByTestId('top-k').fill('4');
    await poll(() => page.getByTestId('trials-table').locator('tbody tr').count()).toBe(4);
    expect(await page.getByTestId('top-k-count').textContent()).toBe('showing 4 of 14');
    expect(await page.locator('#trials-table tbody th').allTextContents()).toEqual(['05', '06', '02', '03']);
    await poll(lineCount).toBe(4);
    await poll(() => curves.locator('.u-legend .u-series').count()).toBe(5);
    await page.getByTestId('top-k').fill('');
    await poll(() => page.getByTestId('trials-table').locator('tbody tr').count()).toBe(14);
    expect(await page.getByTestId('pareto-panel').isVisible()).toBe(false);
    await page.context().close();
  });

  it('marks the Pareto front of a multi-objective study in the chart and the table', async () => {
    const page = await open('shade');
    const summary = page.getByTestId('study-summary');
    await poll(() => summary.textContent()).toMatch(/Study “shade-pareto”/);
    expect(await summary.textContent()).toMatch(
      /objectives val_accuracy \(max\), latency_ms \(min\) · 5 on the Pareto front/,
    );
    await poll(() => page.getByTestId('pareto-panel').isVisible()).toBe(true);
    expect(await page.getByTestId('pareto-x').inputValue()).toBe('val_accuracy (max)');
    expect(await page.getByTestId('pareto-y').inputValue()).toBe('latency_ms (min)');
    await poll(() => page.getByTestId('pareto').locator('.uplot').count()).toBe(1);
    expect(await page.getByTestId('pareto').locator('.u-legend .u-label').allTextContents()).toEqual(
      expect.arrayContaining(['Pareto front', 'other trials']),
    );
    expect(await page.locator('#trials-table tr.front th').allTextContents()).toEqual(PARETO_FRONT);
    // Parallel coordinates get an axis per objective.
    await poll(() => page.getByTestId('parallel').locator('svg path[stroke-opacity="0.75"]').count()).toBe(10);
    expect(await page.getByTestId('parallel').locator('svg text').allTextContents()).toEqual(
      expect.arrayContaining(['units', 'learning_rate', 'val_accuracy', 'latency_ms']),
    );
    const head = await page.locator('#trials-table thead th').allTextContents();
    expect(head).toEqual(expect.arrayContaining(['val_accuracy (max)', 'latency_ms (min)']));
    // Importance: one set of bars per objective, headed by it, showing the route's numbers once computed.
    const importance = page.getByTestId('importance');
    await poll(() => importance.locator('ol[data-objective] li[aria-label]').count()).toBe(4);
    expect(await importance.locator('h4').allTextContents()).toEqual(['val_accuracy (max)', 'latency_ms (min)']);
    const route = (await (await fetch(`${url}/api/models/shade/study`)).json()) as StudyJson;
    expect(route.importanceStatus?.state).toBe('ready');
    for (const objective of ['val_accuracy', 'latency_ms']) {
      const shown = await importance
        .locator(`ol[data-objective="${objective}"] li`)
        .evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label')));
      const expected = Object.entries(route.importanceByObjective?.[objective] ?? {}).map(
        ([name, share]) => `${name}: ${(share * 100).toFixed(1)}%`,
      );
      expect(shown).toEqual(expected);
      expect(shown[0]).toMatch(/^units: /); // the model's size drives both accuracy and latency
    }
    expect(await page.getByTestId('importance-status').isVisible()).toBe(false);
    // Top 3 of a multi-objective study: front members first.
    await page.getByTestId('top-k').fill('3');
    await poll(() => page.locator('#trials-table tbody th').allTextContents()).toEqual(['00', '03', '05']);
    await page.getByTestId('top-k').fill('');
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-pareto.png'), fullPage: true });
    await page.context().close();
  });

  it('follows the model picker: a model without a study says so, and the next model shows its own', async () => {
    const page = await open('mnist');
    const summary = page.getByTestId('study-summary');
    await poll(() => summary.textContent()).toMatch(/No tuning study found for model “mnist”/);
    await page.getByTestId('model-select').selectOption('wine');
    await poll(() => summary.textContent()).toMatch(/Study “wine-search”/);
    await poll(() => page.getByTestId('model-meta').textContent()).toMatch(/Namewine/);
    await page.getByTestId('model-select').selectOption('shade');
    await poll(() => summary.textContent()).toMatch(/Study “shade-pareto”/);
    await poll(() => page.getByTestId('model-meta').textContent()).toMatch(/Nameshade/);
    await page.context().close();
  });
});
