/**
 * Raw inputs and useful answers, over real HTTP: named features (TF Serving rows and columns, KServe
 * v2 one tensor per feature), images (b64 JSON, raw image body, multipart upload, KServe v2 BYTES),
 * class names with top_k, de-standardised regression values, TF Serving :classify and :regress, and
 * a 4xx for every kind of bad input.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '@tuneserve/data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';
import { png, shadeInput, writePrice, writeShade, writeWine } from './schema-fixtures.js';

let server: Running;
let root: string;
beforeAll(async () => {
  root = await freshDir('raw');
  await writeWine(root);
  await writePrice(root);
  await writeShade(root);
  await writeModel(join(root, 'mnist', '1'), 'identity');
  server = await start({ modelRoot: root, pollIntervalMs: 0, maxImagePixels: 100_000, maxImageBytes: 64 * 1024 });
});
afterAll(async () => {
  await server?.close();
});

const post = (path: string, body: unknown) => http(`${server.url}${path}`, { body });
const b64 = (bytes: Buffer) => bytes.toString('base64');
const errorOf = (r: { json: () => unknown }) => (r.json() as { error: string }).error;

describe('named features (tabular)', () => {
  it('TF Serving rows and columns apply the stored standardisation and vocabulary', async () => {
    const rows = await post('/v1/models/wine:predict', {
      instances: [
        { alcohol: 14.5, colour: 'red' },
        { alcohol: 11.5, colour: 'white' },
      ],
    });
    expect(rows.status).toBe(200);
    const [fine, cheap] = (rows.json() as { predictions: number[][] }).predictions;
    expect(fine?.[1]).toBeGreaterThan(0.99);
    expect(cheap?.[0]).toBeGreaterThan(0.99);
    const columns = await post('/v1/models/wine:predict', {
      inputs: { alcohol: [14.5, 11.5], colour: ['red', 'white'] },
    });
    expect((columns.json() as { outputs: number[][] }).outputs).toEqual(
      (rows.json() as { predictions: number[][] }).predictions,
    );
  });

  it('labelled answers carry class names, scores and top_k', async () => {
    const res = await post('/api/models/wine/predict', { instances: [{ alcohol: 14, colour: 'white' }], top_k: 1 });
    expect(res.status).toBe(200);
    const body = res.json() as {
      model: string;
      version: number;
      task: string;
      predictions: { label: string; score: number; top_k: unknown[] }[];
    };
    expect(body.model).toBe('wine');
    expect(body.task).toBe('classification');
    expect(body.predictions[0]?.label).toBe('fine');
    expect(body.predictions[0]?.score).toBeCloseTo(1 / (1 + Math.exp(-10)), 5);
    expect(body.predictions[0]?.top_k).toHaveLength(1);
  });

  it('TF Serving :classify and :regress in their request and response shapes', async () => {
    const classify = await post('/v1/models/wine:classify', {
      context: { colour: 'red' },
      examples: [{ alcohol: 12 }, { alcohol: 14 }],
    });
    expect(classify.status).toBe(200);
    const result = (classify.json() as { result: [string, number][][] }).result;
    expect(result.map((r) => r[0]?.[0])).toEqual(['cheap', 'fine']);
    expect(result[0]).toHaveLength(2);
    const regress = await post('/v1/models/price:regress', {
      examples: [
        { alcohol: 14, colour: 'red' },
        { alcohol: 12.5, colour: 'white' },
      ],
    });
    expect(regress.status).toBe(200);
    const values = (regress.json() as { result: number[] }).result;
    expect(values[0]).toBeCloseTo(110, 4);
    expect(values[1]).toBeCloseTo(95, 4);
    // :predict of a regressor answers in the target's units too; the labelled route says "value".
    const predict = await post('/v1/models/price:predict', { instances: [{ alcohol: 15, colour: 'red' }] });
    expect((predict.json() as { predictions: number[][] }).predictions[0]?.[0]).toBeCloseTo(120, 4);
    const labelled = await post('/api/models/price/predict', { instances: [{ alcohol: 13, colour: 'red' }] });
    expect((labelled.json() as { predictions: { value: number }[] }).predictions[0]?.value).toBeCloseTo(100, 4);
    // verbs that do not fit the model
    expect((await post('/v1/models/wine:regress', { examples: [{ alcohol: 1, colour: 'red' }] })).status).toBe(400);
    expect((await post('/v1/models/price:classify', { examples: [{ alcohol: 1, colour: 'red' }] })).status).toBe(400);
  });

  it('KServe v2 metadata describes the raw inputs: one tensor per feature, BYTES images', async () => {
    const wine = (await http(`${server.url}/v2/models/wine`)).json() as {
      inputs: { name: string; datatype: string }[];
    };
    expect(wine.inputs.map((i) => [i.name, i.datatype])).toEqual([
      ['alcohol', 'FP32'],
      ['colour', 'BYTES'],
    ]);
    const shade = (await http(`${server.url}/v2/models/shade`)).json() as {
      inputs: { datatype: string; shape: number[] }[];
    };
    expect(shade.inputs.map((i) => [i.datatype, i.shape])).toEqual([['BYTES', [-1]]]);
  });

  it('KServe v2: one input tensor per feature', async () => {
    const res = await post('/v2/models/wine/infer', {
      inputs: [
        { name: 'alcohol', datatype: 'FP32', shape: [2], data: [14, 12] },
        { name: 'colour', datatype: 'BYTES', shape: [2], data: ['red', 'white'] },
      ],
    });
    expect(res.status).toBe(200);
    const out = (res.json() as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
    expect(out[1]).toBeGreaterThan(0.99);
    expect(out[2]).toBeGreaterThan(0.99);
  });

  it('KServe v2 classification extension (Triton\'s): BYTES "score:index:label", best first', async () => {
    const meta = (await http(`${server.url}/v2/models/wine`)).json() as { outputs: { name: string }[] };
    const output = meta.outputs[0]?.name ?? '';
    const res = await post('/v2/models/wine/infer', {
      inputs: [
        { name: 'alcohol', datatype: 'FP32', shape: [2], data: [14, 12] },
        { name: 'colour', datatype: 'BYTES', shape: [2], data: ['red', 'white'] },
      ],
      outputs: [{ name: output, parameters: { classification: 2 } }],
    });
    expect(res.status, res.text).toBe(200);
    const tensor = (res.json() as { outputs: { datatype: string; shape: number[]; data: string[] }[] }).outputs[0];
    expect([tensor?.datatype, tensor?.shape]).toEqual(['BYTES', [2, 2]]);
    expect(tensor?.data.map((d) => d.split(':').slice(1).join(':'))).toEqual([
      '1:fine',
      '0:cheap',
      '0:cheap',
      '1:fine',
    ]);
    expect(Number(tensor?.data[0]?.split(':')[0])).toBeGreaterThan(0.99);
    const regressor = await post('/v2/models/price/infer', {
      inputs: [
        { name: 'alcohol', datatype: 'FP32', shape: [1], data: [14] },
        { name: 'colour', datatype: 'BYTES', shape: [1], data: ['red'] },
      ],
      outputs: [
        {
          name: ((await http(`${server.url}/v2/models/price`)).json() as { outputs: { name: string }[] }).outputs[0]
            ?.name,
          parameters: { classification: 1 },
        },
      ],
    });
    expect(regressor.status).toBe(400);
  });

  it('missing, extra, mistyped and unknown-category fields get 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ instances: [{ alcohol: 13 }] }, /colour/],
      [{ instances: [{ alcohol: 13, colour: 'red', sugar: 2 }] }, /sugar/],
      [{ instances: [{ alcohol: 'strong', colour: 'red' }] }, /alcohol/],
      [{ instances: [{ alcohol: 13, colour: 'rose' }] }, /colour/],
      [
        {
          instances: [
            { alcohol: 13, colour: 'red' },
            { alcohol: [1], colour: 'red' },
          ],
        },
        /instance 1.*alcohol|alcohol.*instance 1/,
      ],
      [{ inputs: { alcohol: [13, 14], colour: ['red'] } }, /inputs\.colour has 1 values/],
      [{ instances: [] }, /empty/],
    ];
    for (const [body, message] of cases) {
      const res = await post('/v1/models/wine:predict', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(res), JSON.stringify(body)).toMatch(message);
    }
  });
});

describe('images', () => {
  it('b64 JSON, a raw image body and a multipart upload give the answer training preprocessing gives', async () => {
    const light = await png(32, 32, 230);
    const dark = await png(20, 10, 20);
    const rows = await post('/v1/models/shade:predict', {
      instances: [{ b64: b64(light) }, { image: { b64: b64(dark) } }],
    });
    expect(rows.status).toBe(200);
    const predictions = (rows.json() as { predictions: number[][] }).predictions;
    expect(predictions.map((p) => (p[1] ?? 0) > 0.5)).toEqual([true, false]);

    // The same numbers as the pipeline's own transform feeding the model directly.
    const pixels = await decodeImage(shadeInput, light);
    const mean = pixels.reduce((a, b) => a + b, 0) / pixels.length;
    const expected = 1 / (1 + Math.exp(-(20 * mean - 10)));
    expect(predictions[0]?.[1]).toBeCloseTo(expected, 4);

    const raw = await http(`${server.url}/api/models/shade/predict?top_k=1`, {
      raw: light,
      headers: { 'content-type': 'image/png' },
    });
    expect(raw.status).toBe(200);
    const answer = (raw.json() as { predictions: { label: string; score: number; top_k: unknown[] }[] }).predictions[0];
    expect(answer?.label).toBe('light');
    expect(answer?.score).toBeCloseTo(expected, 4);
    expect(answer?.top_k).toHaveLength(1);

    const form = new FormData();
    form.append('top_k', '2');
    form.append('image', new Blob([new Uint8Array(dark)], { type: 'image/png' }), 'dark.png');
    form.append('image', new Blob([new Uint8Array(light)], { type: 'image/png' }), 'light.png');
    const upload = await fetch(`${server.url}/api/models/shade/predict`, { method: 'POST', body: form });
    expect(upload.status).toBe(200);
    const uploaded = (await upload.json()) as { predictions: { label: string; top_k: unknown[] }[] };
    expect(uploaded.predictions.map((p) => p.label)).toEqual(['dark', 'light']);
    expect(uploaded.predictions[0]?.top_k).toHaveLength(2);

    const classify = await post('/v1/models/shade:classify', { examples: [{ b64: b64(dark) }] });
    expect((classify.json() as { result: [string, number][][] }).result[0]?.[0]?.[0]).toBe('dark');

    const v2 = await post('/v2/models/shade/infer', {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64(light)] }],
    });
    expect(v2.status).toBe(200);
    expect((v2.json() as { outputs: { data: number[] }[] }).outputs[0]?.data[1]).toBeCloseTo(expected, 4);
  });

  it('undecodable, oversized and misdirected images get 4xx, never 5xx', async () => {
    const garbage = Buffer.from('definitely not an image');
    const truncated = (await png(32, 32, 100)).subarray(0, 60);
    const huge = await png(400, 400, 100); // 160000 pixels > the 100000 limit
    const cases: [Promise<{ status: number; text: string }>, number][] = [
      [post('/v1/models/shade:predict', { instances: [{ b64: b64(garbage) }] }), 400],
      [post('/v1/models/shade:predict', { instances: [{ b64: b64(truncated) }] }), 400],
      [post('/v1/models/shade:predict', { instances: [{ b64: '!!!not base64!!!' }] }), 400],
      [post('/v1/models/shade:predict', { instances: [{ b64: b64(huge) }] }), 413],
      [http(`${server.url}/api/models/shade/predict`, { raw: huge, headers: { 'content-type': 'image/png' } }), 413],
      [
        http(`${server.url}/api/models/shade/predict`, {
          raw: Buffer.alloc(70 * 1024),
          headers: { 'content-type': 'image/png' },
        }),
        413,
      ],
      [
        http(`${server.url}/api/models/shade/predict`, { raw: garbage, headers: { 'content-type': 'image/jpeg' } }),
        400,
      ],
      [
        http(`${server.url}/api/models/shade/predict`, {
          raw: Buffer.alloc(0),
          headers: { 'content-type': 'image/png' },
        }),
        400,
      ],
      [
        http(`${server.url}/api/models/wine/predict`, {
          raw: await png(8, 8, 1),
          headers: { 'content-type': 'image/png' },
        }),
        415,
      ],
      [post('/api/models/shade/predict?top_k=0', { instances: [{ b64: b64(huge) }] }), 400],
      [post('/api/models/nosuch/predict', { instances: [] }), 404],
    ];
    for (const [pending, status] of cases) {
      const res = await pending;
      expect(res.status, res.text).toBe(status);
      expect(JSON.parse(res.text)).toHaveProperty('error');
    }
    const form = new FormData();
    form.append('note', 'no file here');
    const empty = await fetch(`${server.url}/api/models/shade/predict`, { method: 'POST', body: form });
    expect(empty.status).toBe(400);
    const big = new FormData();
    big.append('image', new Blob([Buffer.alloc(70 * 1024)], { type: 'image/png' }), 'big.png');
    const tooBig = await fetch(`${server.url}/api/models/shade/predict`, { method: 'POST', body: big });
    expect(tooBig.status).toBe(413);
  });
});

describe('models without a schema', () => {
  it('the reference /predict stays byte-compatible and plain tensors still work everywhere', async () => {
    const body = await import('node:fs/promises').then((fs) =>
      fs.readFile(new URL('./golden/reference-request.body', import.meta.url)),
    );
    const ref = await http(`${server.url}/predict`, { raw: body, headers: { 'content-type': 'application/json' } });
    expect(ref.status).toBe(200);
    expect(ref.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(ref.text).toMatch(/^This number is a \d$/);
    const labelled = await post('/api/models/mnist/predict', { instances: [image(7)], top_k: 3 });
    const answer = (labelled.json() as { predictions: { label: string; top_k: { label: string }[] }[] }).predictions[0];
    expect(answer?.label).toBe('7');
    expect(answer?.top_k.map((t) => t.label)[0]).toBe('7');
    const classify = await post('/v1/models/mnist:classify', { examples: [{ x: image(4) }] });
    expect((classify.json() as { result: [string, number][][] }).result[0]?.[0]?.[0]).toBe('4');
  });

  it('a model whose schema does not fit its tensors does not load', async () => {
    const dir = await freshDir('badschema');
    const model = await writeWine(dir);
    const meta = JSON.parse(
      await import('node:fs/promises').then((fs) => fs.readFile(join(model, 'metadata.json'), 'utf8')),
    );
    meta.input.features.push({ name: 'sugar', type: 'number', mean: 0, std: 1, min: 0, max: 1 });
    await writeFile(join(model, 'metadata.json'), JSON.stringify(meta));
    const bad = await start({ modelDir: join(dir, 'wine'), pollIntervalMs: 0 });
    try {
      expect((await http(`${bad.url}/v2/repository/index`, { body: {} })).json()).toEqual([
        {
          name: 'wine',
          state: 'UNAVAILABLE',
          reason: expect.stringMatching(/encode to 4 values but the model takes 3/),
        },
      ]);
    } finally {
      await bad.close();
    }
  });
});
