/** Debian's Chromium driven by playwright-core (never a downloaded browser) and a fresh web bundle. */
import { mkdtempSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';

export const WEB_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Screenshots go to a temp folder, so a test run leaves the checkout clean; with
 * UPDATE_SCREENSHOTS=1 they refresh the README's pictures in docs/screenshots.
 */
export const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? resolve(WEB_ROOT, '../../docs/screenshots')
    : mkdtempSync(join(tmpdir(), 'tuneserve-screenshots-'));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Builds the page from its current sources into a temp folder, so the suite never tests a stale dist. */
export async function buildBundle(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'tuneserve-web-dist-'));
  await build({ root: WEB_ROOT, configFile: join(WEB_ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir } });
  return outDir;
}
