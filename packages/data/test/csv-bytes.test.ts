/**
 * The byte reader (quote-free CSV files) against csv-parse: on random files with every line-break kind, BOMs,
 * empty lines, signs, exponents, blanks, missing tokens, categories and quotes, both paths must give the same
 * data set — or the same error, with the same file, line and column.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '@tuneserve/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvOptions, DataError, type Dataset, loadCsv } from '../src/index.js';
import { NeedsCsvParse, readBytes } from '../src/loaders/csv-bytes.js';
import { TableReader } from '../src/loaders/csv-reader.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'data-csv-bytes-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Outcome = { data: Dataset } | { error: string };

async function outcome(file: string, o: CsvOptions): Promise<Outcome> {
  try {
    return { data: await loadCsv(file, o) };
  } catch (err) {
    if (!(err instanceof DataError)) throw err;
    return { error: err.message };
  }
}

/** Loads `file` both ways and checks they agree; returns the byte reader's outcome. */
async function both(file: string, o: CsvOptions = {}): Promise<Outcome> {
  // A file without quotes is the byte reader's own (it must not hand it to csv-parse).
  if (!(await readFile(file)).includes(0x22)) {
    const attempt = readBytes(file, new TableReader(file, 0, o), { delimiter: ',' });
    await attempt.catch((err: unknown) => expect(err).not.toBeInstanceOf(NeedsCsvParse));
  }
  const bytes = await outcome(file, o);
  const parsed = await outcome(file, { ...o, byteReader: false });
  if ('error' in parsed) {
    expect(bytes).toEqual(parsed);
    return bytes;
  }
  expect('data' in bytes, JSON.stringify(bytes)).toBe(true);
  const a = (bytes as { data: Dataset }).data;
  const b = parsed.data;
  const raw = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  for (const part of ['train', 'val', 'test'] as const) {
    expect(a[part].count).toBe(b[part].count);
    // Bit for bit (Buffer.compare: a deep equality over a large matrix is slow).
    expect(Buffer.compare(raw(a[part].x), raw(b[part].x)), part).toBe(0);
    expect(Buffer.compare(raw(a[part].y), raw(b[part].y)), part).toBe(0);
  }
  expect(a.input).toEqual(b.input);
  expect(a.output).toEqual(b.output);
  expect(a.split).toEqual(b.split);
  expect(a.summary).toBe(b.summary);
  return bytes;
}

const BREAKS = ['\n', '\r\n', '\r'];
const MISSING = ['', 'NA', '?', 'null'];

/** A random table file: numbers in many spellings, a category column, a target; options choose the hazards. */
function randomTable(
  seed: number,
  o: {
    rows: number;
    lineBreak: string;
    bom: boolean;
    empty: boolean;
    finalBreak: boolean;
    quotes: boolean;
    missing: boolean;
  },
): string {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const number = (): string => {
    const v = (random() - 0.5) * 10 ** Math.floor(random() * 6);
    const kind = random();
    if (kind < 0.55) return v.toFixed(Math.floor(random() * 7));
    if (kind < 0.65) return v.toExponential(3);
    if (kind < 0.7) return `+${Math.abs(v).toFixed(2)}`;
    if (kind < 0.75) return ` ${v.toFixed(1)} `;
    if (kind < 0.8) return `.${Math.floor(random() * 1000)}`;
    if (kind < 0.85) return `${Math.floor(v)}.`;
    if (kind < 0.9) return String(Math.round(v));
    if (kind < 0.93) return (random() * 1e-3).toPrecision(19); // more digits than the fast path takes
    if (kind < 0.96) return `-${(random() * 100).toFixed(3)}`;
    return `${(random() * 1e6).toFixed(0)}`;
  };
  const lines = ['x1,x2,x3,colour,label'];
  for (let r = 0; r < o.rows; r++) {
    const cells = [number(), number(), number(), pick(['red', 'blue', 'grün', 'café']), pick(['a', 'b', 'c'])];
    if (o.missing && random() < 0.05) cells[Math.floor(random() * 3)] = pick(MISSING);
    if (o.quotes && random() < 0.05) cells[3] = `"${cells[3]}, ""dark"""`;
    lines.push(cells.join(','));
    if (o.empty && random() < 0.05) lines.push('');
  }
  return (o.bom ? '\ufeff' : '') + lines.join(o.lineBreak) + (o.finalBreak ? o.lineBreak : '');
}

describe('the byte reader gives what csv-parse gives', () => {
  it('on random files: line breaks, BOM, empty lines, signs, exponents, blanks, missing values, categories', async () => {
    for (let seed = 1; seed <= 24; seed++) {
      const random = seededRandom(1000 + seed);
      const o = {
        rows: 50 + Math.floor(random() * 1500),
        lineBreak: BREAKS[seed % 3]!,
        bom: random() < 0.5,
        empty: random() < 0.5,
        finalBreak: random() < 0.7,
        quotes: seed % 4 === 0,
        missing: random() < 0.5,
      };
      const file = join(dir, `random-${seed}.csv`);
      await writeFile(file, randomTable(seed, o));
      const got = await both(file, o.missing ? { impute: 'mean' } : {});
      expect('data' in got, `seed ${seed}: ${JSON.stringify(got)}`).toBe(true);
    }
  });

  it('across buffer boundaries: a 2 MiB file with CRLF, and a record longer than the buffer', async () => {
    const big = join(dir, 'big.csv');
    await writeFile(
      big,
      randomTable(99, {
        rows: 40_000,
        lineBreak: '\r\n',
        bom: false,
        empty: true,
        finalBreak: true,
        quotes: false,
        missing: false,
      }),
    );
    await both(big);
    const long = join(dir, 'long.csv');
    const wide = 'w'.repeat(1_500_000);
    const rows = ['note,x,y', ...Array.from({ length: 40 }, (_, i) => `${i === 7 ? wide : `n${i % 3}`},${i},${i % 2}`)];
    await writeFile(long, rows.join('\n'));
    await both(long);
  });

  it('line breaks of another kind than the first stay inside fields, as in csv-parse', async () => {
    const file = join(dir, 'mixed.csv');
    await writeFile(file, 'a,b,y\n1,2\r,0\n3,4,1\r\n5,6,0\n7,8,1\n9,1,0\n2,3,1\n4,5,0\n6,7,1\n8,9,0\n1,1,1\n');
    await both(file);
    const crlf = join(dir, 'crlf-lf.csv');
    await writeFile(crlf, 'a,b,y\r\n1,2,0\r\n3,4\n5,6,1\r\n');
    const got = await both(crlf);
    // A record ends on the line of its line break: here the \n inside it made it span lines 3 and 4.
    expect(got).toEqual({ error: `${crlf}:4: ragged row: 4 fields, the header has 3` });
  });

  it('names the same file, line and column for bad cells, ragged rows and missing values', async () => {
    const cases: [string, string, RegExp][] = [
      [
        'text past the sample',
        `x,y\n${'1,0\n2,1\n'.repeat(700)}3,0\n\n\nfour,1\n`,
        /:1405, column 'x': "four" is not a number/,
      ],
      [
        'a ragged row in the sample',
        `x,z,y\n1,2,0\n1,2\n${'1,2,0\n'.repeat(5)}`,
        /:3: ragged row: 2 fields, the header has 3/,
      ],
      ['NaN text', `x,y\r\n${'1.5,0\r\n'.repeat(1500)}NaNa,1\r\n`, /:1502, column 'x': "NaNa" is not a number/],
      ['a ragged row', `x,z,y\n${'1,2,0\n'.repeat(1200)}1,2\n`, /:1202: ragged row: 2 fields, the header has 3/],
      ['a missing value', `\ufeffx,z,y\n${'1,2,0\n'.repeat(1100)}1,,1\n`, /:1102, column 'z': missing value/],
      ['a missing target', `x,y\n${'1,0\n'.repeat(1001)}1,NA\n`, /:1003, column 'y': missing target value/],
      [
        'an exponent then text',
        `x,y\n${'1e3,0\n-2.5E-2,1\n'.repeat(600)}1e3x,1\n`,
        /:1202, column 'x': "1e3x" is not a number/,
      ],
    ];
    for (const [what, text, message] of cases) {
      const file = join(dir, `${what.replaceAll(' ', '-')}.csv`);
      await writeFile(file, text);
      const got = await both(file);
      expect('error' in got ? got.error : `loaded: ${what}`).toMatch(message);
      expect('error' in got && got.error.startsWith(file)).toBe(true);
    }
  });
});

describe('readBytes', () => {
  it('reads a quote-free file itself and hands a file with a quote or a UTF-16 BOM to csv-parse', async () => {
    const plain = join(dir, 'plain.csv');
    await writeFile(plain, 'x,y\n1,0\n2,1\n');
    const reader = new TableReader(plain, 12, {});
    await readBytes(plain, reader, { delimiter: ',' });
    reader.decideKinds();
    expect(reader.table?.rows).toBe(2);
    const quoted = join(dir, 'quoted.csv');
    await writeFile(quoted, 'x,y\n"1",0\n2,1\n');
    await expect(readBytes(quoted, new TableReader(quoted, 14, {}), { delimiter: ',' })).rejects.toThrow(NeedsCsvParse);
    const utf16 = join(dir, 'utf16.csv');
    await writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('x,y\n1,0\n', 'utf16le')]));
    await expect(readBytes(utf16, new TableReader(utf16, 20, {}), { delimiter: ',' })).rejects.toThrow(NeedsCsvParse);
  });
});
