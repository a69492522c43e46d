import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CategoricalFeature, NumericFeature, TabularInput } from '@tuneserve/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, type Dataset, encodeRows, loadCsv, loadDataset } from '../src/index.js';
import { flowerRows, regressionRows, writeLines } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'data-csv-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function counts(labels: Float32Array, k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const l of labels) c[l]!++;
  return c;
}

describe('CSV classification with a categorical column', () => {
  let data: Dataset;
  let lines: string[];
  beforeAll(async () => {
    lines = flowerRows(300);
    data = await loadDataset(await writeLines(dir, 'flowers.csv', lines));
  });

  it('infers classification from a text target and says so', () => {
    expect(data.name).toBe('flowers');
    expect(data.task).toBe('classification');
    expect(data.output).toEqual({ task: 'classification', labels: ['setosa', 'versicolor', 'virginica'] });
    expect(data.summary).toBe(
      "flowers.csv: 300 rows, 2 numeric + 1 categorical features (5 inputs), classification over 3 classes (target 'species', inferred: text values); split 240/30/30 train/val/test (stratified, seed 0)",
    );
  });

  it('splits 80/10/10, stratified by class, deterministic with the seed', async () => {
    expect([data.train.count, data.val.count, data.test.count]).toEqual([240, 30, 30]);
    expect(counts(data.test.y, 3)).toEqual([10, 10, 10]);
    expect(counts(data.val.y, 3)).toEqual([10, 10, 10]);
    const again = await loadDataset(join(dir, 'flowers.csv'));
    expect(again.split).toEqual(data.split);
    const other = await loadDataset(join(dir, 'flowers.csv'), { seed: 7 });
    expect(other.split.test).not.toEqual(data.split.test);
    const rows = (data.split.test as { rows: number[] }).rows;
    expect(new Set([...rows, ...(data.split.val as { rows: number[] }).rows]).size).toBe(60);
  });

  it('fits standardisation and the category vocabulary on the training split only', () => {
    const schema = data.input as TabularInput;
    const length = schema.features[0] as NumericFeature;
    const colour = schema.features[2] as CategoricalFeature;
    expect(colour).toEqual({ name: 'colour', type: 'category', categories: ['blue', 'red', 'white'], other: false });
    // Recompute the mean of the training rows from the file.
    const heldOut = new Set([
      ...(data.split.val as { rows: number[] }).rows,
      ...(data.split.test as { rows: number[] }).rows,
    ]);
    const values = lines.slice(1).flatMap((l, i) => (heldOut.has(i) ? [] : [Number(l.split(',')[0])]));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(length.mean).toBeCloseTo(mean, 4);
    let sum = 0;
    for (let i = 0; i < data.train.count; i++) sum += data.train.x[i * 5]!;
    expect(Math.abs(sum / data.train.count)).toBeLessThan(1e-4);
  });

  it('encodes every split with the same transform the server uses (encodeRows)', () => {
    const testRows = (data.split.test as { rows: number[] }).rows;
    const header = lines[0]!.split(',');
    const records = testRows.slice(0, 5).map((r) => {
      const cells = lines[r + 1]!.split(',');
      return { [header[0]!]: Number(cells[0]), [header[1]!]: Number(cells[1]), [header[2]!]: cells[2]! };
    });
    const served = encodeRows(data.input as TabularInput, records);
    expect(Array.from(served)).toEqual(Array.from(data.test.x.subarray(0, 5 * 5)));
  });

  it('reuses a recorded split (JSON) and gives the same test set', async () => {
    const record = JSON.parse(JSON.stringify(data.split));
    const again = await loadDataset(join(dir, 'flowers.csv'), { split: record, seed: 99, valSplit: 0.3 });
    expect(Array.from(again.test.x)).toEqual(Array.from(data.test.x));
    expect(again.summary).toContain('recorded split');
    expect(again.trainFull().count).toBe(270);
  });

  it('selects feature columns and reads a TSV', async () => {
    const tsv = await writeLines(
      dir,
      'flowers.tsv',
      lines.map((l) => l.replaceAll(',', '\t')),
    );
    const picked = await loadDataset(tsv, { features: ['petal_width', 'colour'] });
    expect((picked.input as TabularInput).features.map((f) => f.name)).toEqual(['petal_width', 'colour']);
    expect(picked.inputShape).toEqual([4]);
  });

  it("adds an 'other' slot when a category appears only outside the training split", async () => {
    const rare = [...lines];
    rare[1] = rare[1]!.replace(/,(blue|red|white),/, ',purple,');
    const file = await writeLines(dir, 'rare.csv', rare);
    const first = await loadDataset(file);
    const inTrain =
      !(first.split.test as { rows: number[] }).rows.includes(0) &&
      !(first.split.val as { rows: number[] }).rows.includes(0);
    const colour = (first.input as TabularInput).features[2] as CategoricalFeature;
    expect(colour.other).toBe(!inTrain);
    expect(colour.categories.includes('purple')).toBe(inTrain);
  });
});

describe('CSV regression', () => {
  it('infers regression from a non-integer target and standardises it', async () => {
    const data = await loadDataset(await writeLines(dir, 'yields.csv', regressionRows(200)));
    expect(data.task).toBe('regression');
    expect(data.summary).toContain("regression (target 'y', inferred: non-integer numbers)");
    expect(data.split.stratified).toBe(false);
    const out = data.output;
    if (out.task !== 'regression') throw new Error('expected regression');
    expect(out.target).toBe('y');
    expect(out.std).toBeGreaterThan(1);
    let sum = 0;
    for (const v of data.train.y) sum += v;
    expect(Math.abs(sum / data.train.count)).toBeLessThan(1e-4);
  });

  it('takes a few distinct integers as classes, and the task when given', async () => {
    const lines = ['x,grade', ...Array.from({ length: 60 }, (_, i) => `${i},${(i % 3) + 1}`)];
    const file = await writeLines(dir, 'grades.csv', lines);
    const inferred = await loadDataset(file);
    expect(inferred.task).toBe('classification');
    expect(inferred.summary).toContain('inferred: 3 distinct integer values');
    expect(inferred.output).toEqual({ task: 'classification', labels: ['1', '2', '3'] });
    const given = await loadDataset(file, { task: 'regression' });
    expect(given.task).toBe('regression');
    expect(given.summary).toContain("(target 'grade', given)");
  });

  it('chooses another target column', async () => {
    const data = await loadDataset(await writeLines(dir, 'yields2.csv', regressionRows(50)), {
      target: 'a',
      features: ['b', 'y'],
    });
    expect(data.output).toMatchObject({ task: 'regression', target: 'a' });
  });
});

describe('missing values', () => {
  const lines = [
    'n,c,t',
    '1,a,x',
    ',b,y',
    '3,,x',
    '4,a,y',
    '5,b,x',
    '6,a,y',
    '7,b,x',
    '8,a,y',
    '9,b,x',
    '10,a,y',
    '11,b,x',
    '12,a,y',
  ];
  it('are an error by default, naming file, line and column', async () => {
    const file = await writeLines(dir, 'holes.csv', lines);
    const err = await loadDataset(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toBe(
      `${file}:3, column 'n': missing value (use --impute mean|most-frequent to fill missing values)`,
    );
    expect([(err as DataError).line, (err as DataError).column]).toEqual([3, 'n']);
  });

  it('are filled with the training mean or most frequent value when asked', async () => {
    const file = await writeLines(dir, 'holes.csv', lines);
    const data = await loadDataset(file, { impute: 'mean', valSplit: 0.2, testSplit: 0.2 });
    const [n, c] = (data.input as TabularInput).features as [NumericFeature, CategoricalFeature];
    expect(n.impute).toBeCloseTo(n.mean, 6);
    expect(c.impute).toBeDefined();
    expect(data.summary).toContain('missing values imputed (mean)');
    const mf = await loadDataset(file, { impute: 'most-frequent', valSplit: 0.2, testSplit: 0.2 });
    const nf = (mf.input as TabularInput).features[0] as NumericFeature;
    expect(Number.isInteger(nf.impute)).toBe(true);
  });
});

describe('bad CSV input: one DataError naming file, line and column', () => {
  const cases: [string, string[], RegExp, Record<string, unknown>?][] = [
    ['ragged.csv', ['a,b,t', '1,2,x', '3,y', '5,6,y'], /ragged\.csv:3: ragged row: 2 fields, the header has 3$/],
    [
      'target.csv',
      ['a,b,t', '1,2,x', '3,4,y'],
      /target\.csv:1, column 'label': no such target column \(the header has: a, b, t\)$/,
      { target: 'label' },
    ],
    [
      'feature.csv',
      ['a,b,t', '1,2,x', '3,4,y'],
      /feature\.csv:1, column 'c': no such feature column/,
      { features: ['a', 'c'] },
    ],
    [
      'text.csv',
      ['a,b,t', ...Array.from({ length: 1200 }, (_, i) => `${i},${i === 1100 ? 'twelve' : i},${i % 2}`)],
      /text\.csv:1102, column 'b': "twelve" is not a number, but the column's first values are/,
    ],
    [
      'one-class.csv',
      ['a,t', '1,x', '2,x', '3,x'],
      /one-class\.csv, column 't': the target has one class \("x"\); classification needs at least two$/,
    ],
    [
      'string-target.csv',
      ['a,t', '1,x', '2,y', '3,x'],
      /string-target\.csv:2, column 't': task regression needs a numeric target, but it holds text such as "x"$/,
      { task: 'regression' },
    ],
    [
      'small.csv',
      ['a,t', '1,x', '2,y', '3,x'],
      /small: 3 examples are too few for a training split holding each of 2 classes plus a validation and a test split \(need at least 4\)$/,
    ],
    ['missing-target.csv', ['a,t', '1,x', '2,', '3,x'], /missing-target\.csv:3, column 't': missing target value/],
    ['empty.csv', [''], /empty\.csv: empty file \(no header row\)$/],
    ['header-only.csv', ['a,t'], /header-only\.csv: no data rows below the header$/],
    ['duplicate.csv', ['a,a,t', '1,2,x'], /duplicate\.csv:1, column 'a': duplicate column name/],
    ['quote.csv', ['a,t', '1,"x', '2,y'], /quote\.csv(:\d+)?: .*quote/i],
  ];
  for (const [name, lines, message, options] of cases) {
    it(name, async () => {
      const file = await writeLines(dir, name, lines);
      const err = await loadDataset(file, options ?? {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('a missing file', async () => {
    await expect(loadDataset(join(dir, 'nope.csv'))).rejects.toThrow(/nope\.csv: cannot read \(ENOENT\)/);
  });

  it('an identifier-like text column', async () => {
    const lines = ['id,x,t', ...Array.from({ length: 200 }, (_, i) => `name${i},${i},${i % 2}`)];
    await expect(loadDataset(await writeLines(dir, 'ids.csv', lines))).rejects.toThrow(
      /column 'id': 160 distinct text values in 160 training rows: an identifier or free text/,
    );
  });
});

describe('a semicolon CSV with quoted fields and blanks around values', () => {
  it('is read', async () => {
    const file = join(dir, 'semi.csv');
    await writeFile(
      file,
      'x;"kind";t\n 1.5 ;"a; b";yes\n2;c;no\n3;"a; b";yes\n4;c;no\n5;c;yes\n6;c;no\n7;c;yes\n8;c;no\n9;c;yes\n10;c;no\n',
    );
    const data = await loadDataset(file);
    expect(((data.input as TabularInput).features[1] as CategoricalFeature).categories).toContain('a; b');
    expect(data.output).toEqual({ task: 'classification', labels: ['no', 'yes'] });
  });
});

describe('large files are read by two threads', () => {
  const big = (n: number) => {
    const lines = ['a,b,colour,label'];
    for (let i = 0; i < n; i++) {
      // Categories appear first in the second half ('teal') so the worker's codes must be merged.
      const colour = i > n * 0.7 && i % 5 === 0 ? 'teal' : ['red', 'green', 'blue'][i % 3];
      lines.push(`${(i * 0.37) % 11},${i % 7},${colour},${['x', 'y'][(i * 13) % 2]}`);
    }
    return lines;
  };

  it('gives exactly what one thread gives', async () => {
    const file = await writeLines(dir, 'big.csv', big(6000));
    const two = await loadCsv(file, { parallelMinBytes: 0 });
    const one = await loadDataset(file);
    expect(two.summary).toBe(`${one.summary}; read on 2 threads`);
    expect(two.input).toEqual(one.input);
    expect(two.split).toEqual(one.split);
    expect(Array.from(two.train.x)).toEqual(Array.from(one.train.x));
    expect(Array.from(two.test.y)).toEqual(Array.from(one.test.y));
  });

  it('reports a bad row in the second half at its line', async () => {
    const lines = big(6000);
    lines[5001] = '1,2,red';
    lines[5500] = '1,,red,x';
    const file = await writeLines(dir, 'big-bad.csv', lines);
    await expect(loadCsv(file, { parallelMinBytes: 0 })).rejects.toThrow(
      /big-bad\.csv:5002: ragged row: 3 fields, the header has 4$/,
    );
  });

  it('falls back to one thread when quotes appear', async () => {
    const lines = big(6000);
    lines[5000] = '1,2,"red",x';
    const file = await writeLines(dir, 'big-quoted.csv', lines);
    const data = await loadCsv(file, { parallelMinBytes: 0 });
    expect(data.summary).not.toContain('threads');
    expect(data.train.count + data.val.count + data.test.count).toBe(6000);
  });
});
