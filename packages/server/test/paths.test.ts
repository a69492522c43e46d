/** Paths as people type them: a relative web root, and a single version folder given as the model. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

let server: Running;
let root: string;

beforeAll(async () => {
  root = await freshDir('paths');
  await writeModel(join(root, 'models', 'mnist', '1'), 'identity');
  await mkdir(join(root, 'web'));
  await writeFile(join(root, 'web', 'index.html'), '<!doctype html><title>relative</title>');
  server = await start({
    modelDir: join(root, 'models', 'mnist', '1'),
    webRoot: relative(process.cwd(), join(root, 'web')),
  });
});
afterAll(async () => server?.close());

describe('paths', () => {
  it('serves a web root given relative to the working directory', async () => {
    const page = await http(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<title>relative</title>');
  });

  it('names a model served from its version folder after the model, not the version', async () => {
    const status = await http(`${server.url}/v1/models/mnist`);
    expect(status.status, status.text).toBe(200);
    const wrong = await http(`${server.url}/v1/models/1`);
    expect(wrong.status).toBe(404);
  });
});
