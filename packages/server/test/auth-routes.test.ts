/**
 * Deny by default, proven over every registered route: each route declares its auth, the open ones are exactly the
 * list below, and every other route answers 401 without a key however its URL is spelled (percent-encoded,
 * absolute-form, odd case, slashes, dot segments), over a raw TCP socket so the server sees the bytes as written.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../src/route-policy.js';
import type { SampleSource, StudyJson, StudySource } from '../src/sources.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { type Running, start } from './helpers.js';
import { rawRequest } from './raw-http.js';

const KEY = 'correct-horse';
const study: StudyJson = {
  name: 's',
  tuner: 'random',
  objective: { name: 'val_acc', direction: 'max' },
  maxTrials: 1,
  trials: [],
};
const studySource: StudySource = { getStudy: async () => study };
const samples: SampleSource = { size: 3, sample: (index) => ({ index, label: index, instances: image(index) }) };

/** Open by design: health probes, server metadata, the API description and its UI, the page and its files. */
const OPEN_WITHOUT_PAGE = [
  'GET /',
  'GET /v2',
  'GET /v2/health/live',
  'GET /v2/health/ready',
  'GET /openapi.json',
  // swagger-ui (its GET /docs/ twin shares the /docs route's options, so onRoute reports it once)
  'GET /docs',
  'HEAD /docs/',
  'GET /docs/static/*',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
  'GET /docs/json',
  'GET /docs/yaml',
  // @fastify/cors's catch-all: allowed preflights are answered in its hook (browsers send no key on them).
  'OPTIONS *',
];
/** @fastify/static registers one route per file of the bundle, and / for its index.html. */
const OPEN_WITH_PAGE = [...OPEN_WITHOUT_PAGE, 'GET /index.html'];

/** With the HEAD twin Fastify adds to every GET route. */
const withHead = (routes: string[]) => [
  ...routes,
  ...routes.filter((r) => r.startsWith('GET ')).map((r) => r.replace(/^GET /, 'HEAD ')),
];

/** A concrete path for a route pattern: parameters filled so that the route itself answers. */
function concrete(url: string, method: string): string {
  return url
    .replace(':name/versions/:target', 'mnist/versions/1:predict')
    .replace(':name/labels/:target', 'mnist/labels/stable:predict')
    .replace(':target', 'mnist:predict')
    .replace(':name', 'mnist')
    .replace(':version', '1')
    .replace(':label', 'stable')
    .replace(':index', '0')
    .replace(/\*$/, method === 'OPTIONS' ? 'predict' : 'index.html');
}

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
const firstLetter = /[A-Za-z0-9]/;

/** The spellings an attacker would try for one path; none of them may reach a handler without a key. */
function spellings(path: string, base: string): Record<string, string> {
  const { host } = new URL(base);
  const segments = path.split('/');
  const alternateCase = path.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
  return {
    plain: path,
    'percent-encoded first letter': path.replace(firstLetter, hex),
    'percent-encoded first letter, upper-case hex': path.replace(firstLetter, (c) => hex(c).toUpperCase()),
    'percent-encoded second character': path.replace(
      /^\/(.)([A-Za-z0-9])/,
      (_m, a: string, b: string) => `/${a}${hex(b)}`,
    ),
    'percent-encoded every letter': path.replace(/[A-Za-z0-9]/g, hex),
    'percent-encoded letter in the last segment': [
      ...segments.slice(0, -1),
      (segments.at(-1) ?? '').replace(firstLetter, hex),
    ].join('/'),
    'percent-encoded slash': `/${segments.slice(1).join('%2F')}`,
    'leading double slash': `/${path}`,
    'inner double slash': path.replace(/\/([^/]*)\//, '/$1//'),
    'trailing slash': `${path}/`,
    'upper case': path.toUpperCase(),
    'mixed case': alternateCase,
    'dot segment': `/.${path}`,
    'dot-dot segment': `/x/..${path}`,
    'with a query': `${path}?x=1`,
    'with a matrix parameter': `${path};x=1`,
    'absolute-form': `http://${host}${path}`,
    'absolute-form, another host': `http://evil.example${path}`,
    'absolute-form, percent-encoded': `http://${host}${path.replace(firstLetter, hex)}`,
  };
}

async function serverWithEverything(withPage: boolean): Promise<Running> {
  const dir = await freshDir('auth-routes');
  const modelDir = join(dir, 'mnist');
  await writeModel(join(modelDir, '1'), 'identity');
  let webRoot: string | undefined;
  if (withPage) {
    webRoot = join(dir, 'web');
    await mkdir(webRoot);
    await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>page</title>');
  }
  return start({
    modelDir,
    apiKeys: [KEY],
    labels: { stable: 1 },
    study: studySource,
    samples,
    corsOrigins: ['http://good.example'],
    ...(webRoot ? { webRoot } : {}),
  });
}

for (const withPage of [false, true]) {
  describe(`every route ${withPage ? 'with' : 'without'} the web page`, () => {
    let server: Running;
    let routes: RouteEntry[];
    beforeAll(async () => {
      server = await serverWithEverything(withPage);
      routes = [...server.routes.routes];
    });
    afterAll(async () => server.close());

    it('declares its auth on every route', () => {
      expect(routes.length).toBeGreaterThan(30);
      const undeclared = routes.filter((r) => !r.declared).map((r) => `${r.method} ${r.url}`);
      expect(undeclared).toEqual([]);
    });

    it('opens exactly the routes open by design', () => {
      const open = routes.filter((r) => r.auth === 'open').map((r) => `${r.method} ${r.url}`);
      expect([...new Set(open)].sort()).toEqual(withHead(withPage ? OPEN_WITH_PAGE : OPEN_WITHOUT_PAGE).sort());
    });

    it('answers 401 without a key on every other route, however the URL is spelled', async () => {
      const failures: string[] = [];
      let checked = 0;
      // Hundreds of requests, none with a wrong key: the lock-out of guessing addresses stays out of the way.
      for (const route of routes.filter((r) => r.auth === 'key')) {
        const path = concrete(route.url, route.method);
        for (const [how, target] of Object.entries(spellings(path, server.url))) {
          const body = route.method === 'POST' ? '{}' : undefined;
          const res = await rawRequest(server.url, route.method, target, body === undefined ? {} : { body });
          checked++;
          if (res.status !== 401) failures.push(`${route.method} ${target} (${how}): ${res.status}`);
        }
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThan(400);
    });

    it('lets the same routes through with the key, so the paths above really name them', async () => {
      const failures: string[] = [];
      for (const route of routes.filter((r) => r.auth === 'key')) {
        const path = concrete(route.url, route.method);
        const body = route.method === 'POST' ? JSON.stringify({ instances: [image(1)] }) : undefined;
        const headers = { authorization: `Bearer ${KEY}` };
        const res = await rawRequest(server.url, route.method, path, {
          headers,
          headersOnly: path.endsWith('/events'), // a stream that never ends: its status line is enough
          ...(body === undefined ? {} : { body }),
        });
        // The route answered (its handler ran): anything but the auth and lock-out statuses and the router's 404.
        if (res.status === 401 || res.status === 429 || /no route for/.test(res.body)) {
          failures.push(`${route.method} ${path}: ${res.status} ${res.body.slice(0, 80)}`);
        }
      }
      expect(failures).toEqual([]);
    });

    it('keeps the open routes open, and answers unknown paths 401 without a key and 404 with one', async () => {
      expect((await rawRequest(server.url, 'GET', '/v2/health/live')).status).toBe(200);
      expect((await rawRequest(server.url, 'GET', '/docs/')).status).toBe(200);
      const unknown = await rawRequest(server.url, 'POST', '/no/such/route', { body: '{}' });
      expect(unknown.status).toBe(401);
      expect(unknown.body).not.toMatch(/no route/);
      const known = await rawRequest(server.url, 'POST', '/no/such/route', {
        body: '{}',
        headers: { 'x-api-key': KEY },
      });
      expect(known.status).toBe(404);
    });

    it('chooses API or page headers by the matched route, not the spelling', async () => {
      for (const target of ['/api/study', '/%61pi/study', `http://127.0.0.1/api/study`]) {
        const res = await rawRequest(server.url, 'GET', target, { headers: { 'x-api-key': KEY } });
        expect(res.status, target).toBe(200);
        expect(res.headers['content-security-policy'], target).toBe("default-src 'none'; frame-ancestors 'none'");
      }
      const docs = await rawRequest(server.url, 'GET', '/%64ocs/');
      expect(docs.status).toBe(200);
      expect(docs.headers['content-security-policy']).toMatch(/script-src 'self'/);
    });
  });
}
