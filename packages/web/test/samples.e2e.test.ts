/**
 * Test examples follow the served model's data (issue 15), in Chromium against a real server on 127.0.0.1: a
 * model trained on a CSV gets rows of that CSV's test split as named values in its form, with the true class; an
 * image model gets a test image of its folder. The samples come from the data and split the model's metadata
 * records, read by the CLI's sample source as `tuneserve serve` does.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '@tuneserve/client';
import { type Dataset, loadDataset } from '@tuneserve/data';
import { createServer, type TuneServer } from '@tuneserve/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { modelSampleSourceFor } from '../../cli/src/adapters/sources.js';
import { freshDir } from '../../server/test/fixtures.js';
import { png, writeShade, writeWine } from '../../server/test/schema-fixtures.js';
import { buildBundle, launchChromium } from './support/browser.js';

const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

/** 60 wines: fine when the alcohol is above 13 (what the fixture model computes), colour alternating. */
function wineCsv(): { text: string; rows: { alcohol: number; colour: string; quality: string }[] } {
  const rows = Array.from({ length: 60 }, (_, i) => {
    const alcohol = Number((11.05 + ((i * 37) % 60) * (3.9 / 59)).toFixed(2));
    return { alcohol, colour: i % 2 ? 'white' : 'red', quality: alcohol > 13 ? 'fine' : 'cheap' };
  });
  return {
    text: `alcohol,colour,quality\n${rows.map((r) => `${r.alcohol},${r.colour},${r.quality}`).join('\n')}\n`,
    rows,
  };
}

/** Makes the fixture model's metadata say what `train` records: the data spec, its split, and its fitted schema. */
async function recordData(versionDir: string, spec: Record<string, unknown>, data: Dataset): Promise<void> {
  const file = join(versionDir, 'metadata.json');
  const metadata = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const input = data.input.kind === 'image' ? { ...data.input, layout: 'hwc' } : data.input;
  await writeFile(
    file,
    JSON.stringify({
      ...metadata,
      input,
      output: data.output,
      training: { study: null, data: spec, split: data.split },
    }),
  );
}

describe.skipIf(!hasSystem('chromium'))("test examples of the served model's own data in Chromium", () => {
  let webRoot: string;
  let browser: Browser;
  let server: TuneServer;
  let url: string;
  let wines: ReturnType<typeof wineCsv>['rows'];
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    const dir = await freshDir('web-samples');
    const root = join(dir, 'models');
    const csv = join(dir, 'wines.csv');
    const made = wineCsv();
    wines = made.rows;
    await writeFile(csv, made.text);
    const wineSpec = { path: csv, target: 'quality', seed: 3 };
    await recordData(await writeWine(root), wineSpec, await loadDataset(csv, { target: 'quality', seed: 3 }));
    // 8x8 photos: dark/ and light/ folders of solid greys.
    const photos = join(dir, 'photos');
    for (const [shade, greys] of [
      ['dark', [10, 20, 30, 40, 50, 60, 70, 80]],
      ['light', [180, 190, 200, 210, 220, 230, 240, 250]],
    ] as const) {
      await mkdir(join(photos, shade), { recursive: true });
      for (const g of greys) await writeFile(join(photos, shade, `${g}.png`), await png(8, 8, g));
    }
    const photoSpec = {
      path: photos,
      channels: 3 as const,
      imageSize: { width: 8, height: 8 },
      seed: 1,
      testSplit: 0.25,
    };
    const { path: _p, ...photoOptions } = photoSpec;
    await recordData(await writeShade(root), photoSpec, await loadDataset(photos, photoOptions));
    [webRoot, browser] = await Promise.all([buildBundle(), launchChromium()]);
    server = await createServer({
      modelRoot: root,
      webRoot,
      defaultModel: 'wine',
      modelSamples: modelSampleSourceFor(undefined, (line) => pageErrors.push(new Error(line))),
      pollIntervalMs: 0,
      logger: { level: 'error' },
      defaultMetrics: false,
    });
    url = await server.listen(0, '127.0.0.1');
  });
  afterEach(() => {
    expect(pageErrors, 'uncaught errors in the page or the sample source').toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (webRoot) await rm(webRoot, { recursive: true, force: true });
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e));
    return page;
  }

  it('serves rows of the CSV test split as named values with their true class, over HTTP', async () => {
    const res = await fetch(`${url}/api/models/wine/samples/0`);
    expect(res.status).toBe(200);
    const sample = (await res.json()) as Sample;
    expect(Object.keys(sample.features ?? {}).sort()).toEqual(['alcohol', 'colour']);
    // The row is one of the CSV's, read back exactly, with its own class.
    const row = wines.find((w) => w.alcohol === sample.features!.alcohol && w.colour === sample.features!.colour);
    expect(row).toBeDefined();
    expect(sample.truth).toBe(row!.quality);
    expect(sample.label).toBe(['cheap', 'fine'].indexOf(row!.quality));
    expect(sample.instances).toHaveLength(3);
    const missing = await fetch(`${url}/api/models/nope/samples/random`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'model "nope" is not served here' });
    expect((await fetch(`${url}/api/models/wine/samples/999`)).status).toBe(404);
  });

  it('fills the form with a random CSV test row, predicts it and shows the true class', async () => {
    const page = await newPage();
    await page.goto(url);
    await poll(() => page.getByTestId('model-select').inputValue()).toBe('wine');
    const sent = page.waitForRequest((r) => r.url().includes('/api/models/wine/predict'));
    await page.getByTestId('features-random').click();
    const body = JSON.parse((await sent).postData() ?? '{}') as { instances: { alcohol: number; colour: string }[] };
    const [instance] = body.instances;
    const row = wines.find((w) => w.alcohol === instance!.alcohol && w.colour === instance!.colour);
    expect(row, `sent ${JSON.stringify(instance)}, a row of the CSV`).toBeDefined();
    expect(await page.getByTestId('feature-alcohol').inputValue()).toBe(String(row!.alcohol));
    expect(await page.getByTestId('feature-colour').inputValue()).toBe(row!.colour);
    await poll(() => page.getByTestId('prediction').textContent()).toBe(row!.quality);
    expect(await page.getByTestId('true-label').textContent()).toBe(row!.quality);
    expect(await page.getByTestId('true-label').getAttribute('data-verdict')).toBe('correct');
    expect(await page.getByTestId('result-meta').textContent()).toMatch(/^test example #\d+ · wine v1 .* · correct$/);
    await page.context().close();
  });

  it('sends a test image of the folder the image model was trained on, with its true class', async () => {
    const page = await newPage();
    await page.goto(url);
    await poll(() => page.getByTestId('model-select').locator('option').count()).toBe(2);
    await page.getByTestId('model-select').selectOption('shade');
    await page.getByTestId('image-random').click();
    await poll(() => page.getByTestId('true-label').textContent()).toMatch(/^(dark|light)$/);
    const truth = await page.getByTestId('true-label').textContent();
    await poll(() => page.getByTestId('prediction').textContent()).toBe(truth);
    expect(await page.getByTestId('image-preview').isVisible()).toBe(true);
    expect(await page.getByTestId('result-meta').textContent()).toMatch(/^test-\d+\.png · shade v1/);
    await page.context().close();
  });
});
