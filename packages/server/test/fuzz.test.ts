/** Property-based fuzzing (fast-check) of the request parsers and of the running server: zero 5xx. */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type InputSpec,
  InvalidInputError,
  parseColumnarInputs,
  parseKserveInput,
  parseRowInstances,
  parseSingleExample,
} from '../src/index.js';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const spec: InputSpec = { inputName: 'x', exampleShape: [4], exampleSize: 4 };

/** Values near the valid shape: nested lists of numbers with the odd wrong element. */
const nearValid = fc.letrec((tie) => ({
  leaf: fc.oneof(
    { weight: 8, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.constantFrom('1', null, true, {}, Number.NaN, 1e39, -0) },
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 5 })),
})).node;

function checkParser(run: (value: unknown) => { values: Float32Array; count: number }) {
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.jsonValue(), nearValid), (value) => {
      try {
        const batch = run(value);
        expect(batch.values.length).toBe(batch.count * spec.exampleSize);
        for (const v of batch.values) expect(Number.isFinite(v)).toBe(true);
      } catch (e) {
        if (!(e instanceof InvalidInputError)) throw e;
        expect(e.message.length).toBeGreaterThan(0);
      }
    }),
    { numRuns: 3000 },
  );
}

describe('parsers', () => {
  it('row, columnar, KServe and single-example parsers either return a valid batch or an InvalidInputError', () => {
    checkParser((v) => parseRowInstances(v, spec, 8));
    checkParser((v) => parseColumnarInputs(v, spec, 8));
    checkParser((v) => ({ values: parseSingleExample(v, spec), count: 1 }));
    checkParser((v) => parseKserveInput([{ name: 'x', datatype: 'FP32', shape: [2, 4], data: v }], spec, 8));
    checkParser((v) => parseKserveInput(v, spec, 8));
  });

  it('accepts every well-formed batch and keeps the values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 4, maxLength: 4 }), {
          minLength: 1,
          maxLength: 8,
        }),
        (rows) => {
          const batch = parseRowInstances(rows, spec, 8);
          expect(batch.count).toBe(rows.length);
          expect(Array.from(batch.values)).toEqual(rows.flat().map((v) => Math.fround(v)));
        },
      ),
    );
  });

  it('rejects absurd nesting without blowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => parseRowInstances(deep, spec, 8)).toThrow(/nested deeper than 32/);
  });
});

describe('live server', () => {
  let server: Running;
  beforeAll(async () => {
    const root = join(await freshDir('fuzz'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    server = await start({ modelDir: root, pollIntervalMs: 0 });
  });
  afterAll(async () => server?.close());

  const valid = [
    JSON.stringify(JSON.stringify({ instances: image(1) })),
    JSON.stringify({ instances: [image(2)] }),
    JSON.stringify({ inputs: [{ name: 'x', shape: [1, 784], datatype: 'FP32', data: image(3) }] }),
  ];
  const routes = ['/predict', '/v1/models/mnist:predict', '/v2/models/mnist/infer'];

  /** A valid body with a few random edits: cut, insert, replace. */
  const mutated = fc
    .tuple(
      fc.nat({ max: valid.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 20 }), fc.string({ maxLength: 6, unit: 'binary' })), {
        minLength: 1,
        maxLength: 4,
      }),
    )
    .map(([which, edits]) => {
      let body = valid[which] ?? '';
      for (const [at, cut, insert] of edits) {
        const pos = at % (body.length + 1);
        body = body.slice(0, pos) + insert + body.slice(pos + cut);
      }
      return body;
    });
  const bodies = fc.oneof(mutated, fc.json({ depthSize: 'medium' }), fc.string({ unit: 'binary', maxLength: 200 }));

  it('answers thousands of random and mutated bodies without a 5xx, then serves normally', async () => {
    const cases = fc.sample(fc.tuple(fc.nat({ max: routes.length - 1 }), bodies), {
      numRuns: 2000,
      seed: Date.now() % 100_000,
    });
    const seen = new Map<number, number>();
    const bad: string[] = [];
    for (let i = 0; i < cases.length; i += 32) {
      await Promise.all(
        cases.slice(i, i + 32).map(async ([route, raw]) => {
          const res = await http(`${server.url}${routes[route]}`, { raw });
          seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
          const jsonError = res.status < 400 || typeof (JSON.parse(res.text) as { error: unknown }).error === 'string';
          if (res.status >= 500 || !jsonError)
            bad.push(`${res.status} ${routes[route]} ${JSON.stringify(raw.slice(0, 300))}`);
        }),
      );
    }
    expect(bad).toEqual([]);
    expect(seen.get(400)).toBeGreaterThan(450);
    expect((await http(`${server.url}/predict`, { raw: valid[0] })).text).toBe('This number is a 1');
  });
});
