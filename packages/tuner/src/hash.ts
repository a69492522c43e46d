import { createHash } from 'node:crypto';
import type { HpValue } from './hyperparameters/index.js';

function format(v: HpValue): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return String(v);
}

/** Keras Tuner's duplicate key: sha256 of the sorted "k=v" pairs, first 32 hex characters. */
export function valuesHash(values: Record<string, HpValue>): string {
  const keys = Object.keys(values).sort();
  const text = keys.map((k) => `${k}=${format(values[k] as HpValue)}`).join('');
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}
