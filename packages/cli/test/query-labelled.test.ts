/**
 * `tuneserve query` (the built CLI) against a real server on 127.0.0.1 that serves a tabular
 * classifier, a regressor and an image classifier: --features, --csv (a CSV of predictions back,
 * a bad row named by file and line), --image with class names, --top-k, --format json.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createServer, type TuneServer } from '@tuneserve/server';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir } from '../../server/test/fixtures.js';
import { png, writePrice, writeShade, writeWine } from '../../server/test/schema-fixtures.js';

const BIN = resolve(import.meta.dirname, '../dist/bin.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TuneServer;
let url: string;
let dir: string;

function query(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.TUNESERVE_API_KEY;
    execFile(
      process.execPath,
      [BIN, 'query', '--url', url, ...args],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  dir = await freshDir('query-labelled');
  const root = join(dir, 'models');
  await writeWine(root);
  await writePrice(root);
  await writeShade(root);
  server = await createServer({
    modelRoot: root,
    pollIntervalMs: 0,
    logger: { level: 'silent' },
    defaultMetrics: false,
  });
  url = await server.listen(0, '127.0.0.1');
});
afterAll(async () => {
  await server?.close();
});

describe('tuneserve query for models with a schema', () => {
  it('--features answers with class names (text and JSON, --top-k) and regression values', async () => {
    const text = await query('--model', 'wine', '--features', '{"alcohol": 14.2, "colour": "red"}');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^fine {2}100\.0%/);
    expect(text.stdout).toMatch(/Model: {3}wine version 1/);
    const json = await query(
      '--model',
      'wine',
      '--features',
      '{"alcohol": 12, "colour": "white"}',
      '--top-k',
      '1',
      '--format',
      'json',
    );
    const answer = JSON.parse(json.stdout) as { predictions: { label: string; top_k: unknown[] }[] };
    expect(answer.predictions[0]?.label).toBe('cheap');
    expect(answer.predictions[0]?.top_k).toHaveLength(1);
    const value = await query('--model', 'price', '--features', '{"alcohol": 14.5, "colour": "red"}');
    expect(value.stdout).toMatch(/^price: 115(\.0+\d*)?$/m);
  });

  it('--csv writes a CSV of predictions; a bad row is named by file and line', async () => {
    const rows = join(dir, 'rows.csv');
    await writeFile(rows, 'alcohol,colour\n14,red\n12,white\n13.5,white\n');
    const out = join(dir, 'predictions.csv');
    const run = await query('--model', 'wine', '--csv', rows, '--out', out);
    expect(run.code, run.stderr).toBe(0);
    const written = parse(await readFile(out, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(written.map((r) => [r.alcohol, r.colour, r.prediction])).toEqual([
      ['14', 'red', 'fine'],
      ['12', 'white', 'cheap'],
      ['13.5', 'white', 'fine'],
    ]);
    expect(Number(written[0]?.score)).toBeGreaterThan(0.99);

    const priced = await query('--model', 'price', '--csv', rows);
    expect(priced.code, priced.stderr).toBe(0);
    const values = parse(priced.stdout, { columns: true }) as Record<string, string>[];
    expect(values.map((r) => Math.round(Number(r.price)))).toEqual([110, 90, 105]);

    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'alcohol,colour\n14,red\n12,rose\n');
    const failed = await query('--model', 'wine', '--csv', bad);
    expect(failed.code).toBe(2);
    expect(failed.stderr.trim()).toMatch(/bad\.csv:3: .*colour/);
    const missing = await query('--model', 'wine', '--csv', join(dir, 'nope.csv'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
  });

  it('--image sends a photo to an image model and prints its classes; bad input exits 2 with one line', async () => {
    const photo = join(dir, 'photo.png');
    await writeFile(photo, await png(40, 30, 240));
    const run = await query('--model', 'shade', '--image', photo, '--top-k', '2');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^light {2}\d+\.\d%$/);
    expect(run.stdout).toMatch(/ {2}dark /);

    const broken = join(dir, 'broken.png');
    await writeFile(broken, 'not a picture');
    const failed = await query('--model', 'shade', '--image', broken);
    expect(failed.code).toBe(2);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toMatch(/HTTP 400.*not a PNG, JPEG or WebP/);
    const badJson = await query('--model', 'wine', '--features', '{alcohol: 1}');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/--features is not valid JSON/);
    const unknown = await query('--model', 'nosuch', '--features', '{"a": 1}');
    expect(unknown.stderr).toMatch(/no model "nosuch" \(it serves: price, shade, wine\)/);
  });
});
