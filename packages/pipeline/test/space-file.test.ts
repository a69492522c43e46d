/**
 * A user's TypeScript space (`--space file.ts`) loads through tsx's scoped loader: its own relative .ts imports
 * resolve, nothing is written beside it, and a syntax error names the file, line and column.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperParameters } from '@tuneserve/tuner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpace, SearchSpaceError, type SpaceContext } from '../src/index.js';

/** A file space ignores the data's context; any valid one will do. */
const context: SpaceContext = {
  inputShape: [8],
  input: { kind: 'tensor', shape: [8] },
  output: { task: 'classification', labels: ['a', 'b'] },
};

// Inside the package, so that the space's `import '@tensorflow/tfjs'` resolves as it does in a user's project.
const dir = join(import.meta.dirname, `.tmp-space-${process.pid}`);

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'layers.ts'),
    `import * as tf from '@tensorflow/tfjs';
export interface Widths { hidden: number }
export const hiddenLayer = (w: Widths): tf.layers.Layer => tf.layers.dense({ units: w.hidden, activation: 'relu', inputShape: [8] });
`,
  );
  await writeFile(
    join(dir, 'space.ts'),
    `import * as tf from '@tensorflow/tfjs';
import type { HyperParameters } from '@tuneserve/tuner';
import { hiddenLayer } from './layers.ts';

export function buildModel(hp: HyperParameters): tf.LayersModel {
  const hidden: number = hp.choice('hidden', [4, 8]);
  const model = tf.sequential({ layers: [hiddenLayer({ hidden }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}
`,
  );
  await writeFile(join(dir, 'broken.ts'), `export function buildModel(hp: number) {\n  return hp +;\n}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a .ts space file', () => {
  it('loads with its relative TypeScript imports and writes nothing beside it', async () => {
    const space = await resolveSpace(join(dir, 'space.ts'), context);
    const hp = new HyperParameters();
    const model = await space.hypermodel.build(hp);
    expect(hp.space.map((h) => h.name)).toEqual(['hidden']);
    expect(model.layers.map((l) => l.outputShape)).toEqual([
      [null, 4],
      [null, 2],
    ]);
    model.dispose();
    expect((await readdir(dir)).sort()).toEqual(['broken.ts', 'layers.ts', 'space.ts']);
  });

  it('a syntax error names the file, line and column', async () => {
    const failure = resolveSpace(join(dir, 'broken.ts'), context);
    await expect(failure).rejects.toThrow(SearchSpaceError);
    await expect(failure).rejects.toThrow(/broken\.ts:2:\d+/);
    expect((await readdir(dir)).sort()).toEqual(['broken.ts', 'layers.ts', 'space.ts']);
  });
});
