/** Hyperparameter values written as JSON (`train --hp`, `tune --enqueue`): objects of number, string or boolean values. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';

export type HpValues = Record<string, number | string | boolean>;

/** JSON.parse with the error's position (when V8 gives one) as a line and column of `text`. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1])).split('\n');
      where = ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
    }
    throw new UsageError(`${what} is not valid JSON${where}: ${message.replace(/ in JSON at position \d+/, '')}`);
  }
}

/** One configuration: a JSON object whose values are numbers, strings or booleans. */
export function hpValues(doc: unknown, what: string): HpValues {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new UsageError(`${what} must be a JSON object such as {"units":64,"optimizer":"adam"}`);
  }
  for (const [k, v] of Object.entries(doc)) {
    if (!['number', 'string', 'boolean'].includes(typeof v)) {
      throw new UsageError(`${what}: the value of "${k}" must be a number, string or boolean`);
    }
  }
  return doc as HpValues;
}

/** `--enqueue file.json`: one configuration object or an array of them. */
export async function readEnqueueFile(file: string): Promise<HpValues[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const doc = parseJson(text, file);
  const list = Array.isArray(doc) ? doc : [doc];
  if (list.length === 0)
    throw new UsageError(`${file}: an empty array enqueues nothing; give at least one configuration`);
  return list.map((entry, i) => hpValues(entry, Array.isArray(doc) ? `${file}: entry ${i + 1}` : file));
}
