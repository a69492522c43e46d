/**
 * The page with several models, in Chromium against a real server on 127.0.0.1: the model picker,
 * a form generated from a tabular model's schema, a photo by upload and by drag-and-drop for an
 * image model, a regression value, and the draw pad kept for the MNIST-like model.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type TuneServer } from '@tuneserve/server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { freshDir, writeModel } from '../../server/test/fixtures.js';
import { png, writePrice, writeShade, writeWine } from '../../server/test/schema-fixtures.js';
import { buildBundle, launchChromium, SCREENSHOTS } from './support/browser.js';

const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 20_000, interval: 100 });

describe.skipIf(!hasSystem('chromium'))('model picker and schema-driven inputs in Chromium', () => {
  let webRoot: string;
  let browser: Browser;
  let server: TuneServer;
  let url: string;
  let dir: string;
  const pageErrors: Error[] = [];

  beforeAll(async () => {
    dir = await freshDir('web-models');
    const root = join(dir, 'models');
    await writeModel(join(root, 'mnist', '1'), 'identity');
    await writeWine(root);
    await writePrice(root);
    await writeShade(root);
    [webRoot, browser] = await Promise.all([buildBundle(), launchChromium()]);
    server = await createServer({
      modelRoot: root,
      webRoot,
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

  async function newPage(width = 1100, height = 820): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e));
    return page;
  }

  it('lists the models, keeps the draw pad for mnist and builds a form for a tabular model', async () => {
    const page = await newPage();
    await page.goto(url);
    await poll(async () => (await page.getByTestId('model-select').locator('option').allTextContents()).join(',')).toBe(
      'mnist,price,shade,wine',
    );
    expect(await page.getByTestId('model-select').inputValue()).toBe('mnist');
    expect(await page.getByTestId('draw-canvas').isVisible()).toBe(true);
    expect(await page.getByTestId('panel-tabular').isVisible()).toBe(false);

    await page.getByTestId('model-select').selectOption('wine');
    expect(await page.getByTestId('draw-canvas').isVisible()).toBe(false);
    expect(await page.getByTestId('panel-tabular').isVisible()).toBe(true);
    const alcohol = page.getByTestId('feature-alcohol');
    expect(await alcohol.getAttribute('type')).toBe('number');
    expect(await alcohol.getAttribute('title')).toBe('training range 11 – 15');
    expect(await page.getByTestId('feature-colour').locator('option').allTextContents()).toEqual(['red', 'white']);
    await alcohol.fill('14.2');
    await page.getByTestId('feature-colour').selectOption('white');
    const sent = page.waitForRequest((r) => r.url().includes('/api/models/wine/predict'));
    await page.getByTestId('features-submit').click();
    expect(JSON.parse((await sent).postData() ?? '{}')).toEqual({
      instances: [{ alcohol: 14.2, colour: 'white' }],
      top_k: 5,
    });
    await poll(() => page.getByTestId('prediction').textContent()).toBe('fine');
    expect(await page.getByTestId('probabilities').locator('li').count()).toBe(2);
    await page.screenshot({ path: join(SCREENSHOTS, 'tabular.png') });

    await page.getByTestId('model-select').selectOption('price');
    await page.getByTestId('feature-alcohol').fill('14.5');
    await page.getByTestId('features-submit').click();
    await poll(() => page.getByTestId('prediction').textContent()).toBe('115.0');
  });

  it('sends a photo by upload and by drag-and-drop and shows the top-k bars', async () => {
    const page = await newPage();
    await page.goto(url);
    await poll(() => page.getByTestId('model-select').locator('option').count()).toBe(4);
    await page.getByTestId('model-select').selectOption('shade');
    expect(await page.getByTestId('panel-image').isVisible()).toBe(true);
    expect(await page.getByTestId('image-camera').getAttribute('capture')).toBe('environment');

    const light = join(dir, 'light.png');
    await import('node:fs/promises').then(async (fs) => fs.writeFile(light, await png(64, 48, 235)));
    await page.getByTestId('image-file').setInputFiles(light);
    await poll(() => page.getByTestId('prediction').textContent()).toBe('light');
    expect(await page.getByTestId('image-preview').isVisible()).toBe(true);
    expect(await page.getByTestId('probabilities').locator('li').first().getAttribute('aria-label')).toMatch(
      /^light: \d/,
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'image.png') });

    // Drag-and-drop: a real DataTransfer carrying a dark PNG dropped on the zone.
    const dark = (await png(20, 20, 15)).toString('base64');
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'dark.png', { type: 'image/png' }));
      const zone = document.querySelector('[data-testid="drop-zone"]');
      zone?.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      zone?.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, dark);
    await poll(() => page.getByTestId('prediction').textContent()).toBe('dark');

    // A broken file gets the server's message, not a blank page.
    const broken = join(dir, 'broken.png');
    await import('node:fs/promises').then((fs) => fs.writeFile(broken, 'not an image'));
    await page.getByTestId('image-file').setInputFiles(broken);
    await poll(() => page.getByTestId('notice').textContent()).toMatch(/not a PNG, JPEG or WebP/);
    expect((await readFile(light)).length).toBeGreaterThan(0);
  });

  it('works on a phone-sized screen', async () => {
    const page = await newPage(390, 844);
    await page.goto(url);
    await poll(() => page.getByTestId('model-select').locator('option').count()).toBe(4);
    await page.getByTestId('model-select').selectOption('shade');
    await page
      .getByTestId('image-file')
      .setInputFiles({ name: 'p.png', mimeType: 'image/png', buffer: await png(30, 30, 240) });
    await poll(() => page.getByTestId('prediction').textContent()).toBe('light');
    await page.screenshot({ path: join(SCREENSHOTS, 'image-phone.png'), fullPage: true });
  });
});
