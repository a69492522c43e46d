/**
 * Where stock `tf.loadLayersModel` loads a saved model, as README.md and docs/runtime.md say: over http(s)
 * (here Node's own fetch against a static file server on 127.0.0.1), not from a file:// URL in Node
 * without @tensorflow/tfjs-node, which is why the runtime has its own loader for folders.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLayersModel, saveLayersModel } from '../src/index.js';

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tuneserve-stock-loader-'));
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], name: 'out' })] });
  await saveLayersModel(model, join(dir, 'm'));
  model.dispose();
  server = createServer((req, res) => {
    readFile(join(dir, 'm', (req.url ?? '/').replace(/^\/+/, ''))).then(
      (body) => res.end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('stock tf.loadLayersModel on a saved model', () => {
  it('loads it over http with the same weights as the runtime loader', async () => {
    const stock = await tf.loadLayersModel(`${base}/model.json`);
    const ours = await loadLayersModel(join(dir, 'm'));
    expect(stock.inputs[0]!.shape).toEqual([null, 4]);
    const [a, b] = [stock.getWeights()[0]!.dataSync(), ours.getWeights()[0]!.dataSync()];
    expect(Array.from(a)).toEqual(Array.from(b));
    stock.dispose();
    ours.dispose();
  });

  it('cannot read a file:// URL in Node without @tensorflow/tfjs-node', async () => {
    const url = pathToFileURL(join(dir, 'm', 'model.json')).href;
    await expect(tf.loadLayersModel(url)).rejects.toThrow(/fetch failed/);
  });
});
