/** JSON is the only body type: every predict route answers anything else with 415, as docs/server.md says. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

let server: Running;

beforeAll(async () => {
  const root = await freshDir('content-types');
  await writeModel(join(root, 'mnist', '1'), 'identity');
  server = await start({ modelDir: join(root, 'mnist') });
});
afterAll(async () => server?.close());

const ROUTES = ['/predict', '/v1/models/mnist:predict', '/v2/models/mnist/infer'];

describe('request content types', () => {
  it.each(['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded'])(
    '%s is a 415 with a JSON error on every route',
    async (type) => {
      const doc = JSON.stringify({ instances: [image(3)] });
      for (const route of ROUTES) {
        const res = await http(`${server.url}${route}`, { raw: doc, headers: { 'content-type': type } });
        expect(res.status, `${route}: ${res.text}`).toBe(415);
        expect(res.json()).toEqual({ error: 'unsupported content type: send application/json' });
      }
    },
  );

  it('application/json holding the document as a JSON string (the reference client) still works', async () => {
    const inner = JSON.stringify({ instances: image(3) });
    const res = await http(`${server.url}/predict`, { raw: JSON.stringify(inner) });
    expect(res.status).toBe(200);
    expect(res.text).toBe('This number is a 3');
  });
});
