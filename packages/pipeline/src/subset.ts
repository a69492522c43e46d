import type { Dataset, Split } from './dataset.js';
import { sliceSplit } from './tensors.js';

/**
 * The first n examples of every split (tests and smoke runs); n >= count leaves a split whole. train+val is the first
 * n of the whole train+val, as a small run of the full pipeline would see it.
 */
export function limitSamples(data: Dataset, n: number): Dataset {
  const cap = (s: Split): Split => (n >= s.count ? s : sliceSplit(s, 0, n));
  return {
    ...data,
    train: cap(data.train),
    val: cap(data.val),
    test: cap(data.test),
    trainFull: () => cap(data.trainFull()),
    summary: [data.train, data.val, data.test].some((s) => s.count > n)
      ? `${data.summary} (first ${n} examples of each split)`
      : data.summary,
  };
}
