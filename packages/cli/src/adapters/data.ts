/**
 * `--data` and the flags that shape it (shared by tune, train, evaluate and up): parsed into a DataSpec (recorded
 * beside the study) and loaded through @tuneserve/data, reusing a recorded split when there is one.
 */
import { type Dataset, loadDataset, type SplitRecord, type Task } from '@tuneserve/data';
import { type DataSpec, limitSamples } from '@tuneserve/pipeline';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { oneOf, positiveInt } from './flags.js';
import { toUsageError } from './pipeline-errors.js';

export interface DataFlags {
  data?: string;
  /** The older spelling of `--data <IDX folder>`. */
  dataDir?: string;
  target?: string;
  task?: Task;
  features?: string[];
  categorical?: string[];
  channels?: 1 | 3;
  valSplit?: number;
  testSplit?: number;
  imageSize?: { width: number; height: number };
  impute?: 'mean' | 'most-frequent';
  limitSamples?: number;
}

function fraction(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*[\d.]+\s*$/.test(value) || !(n > 0 && n < 1)) {
      throw new InvalidArgumentError(`${flag} must be a fraction between 0 and 1 (exclusive), got "${value}"`);
    }
    return n;
  };
}

function imageSize(value: string): { width: number; height: number } {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(value);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || !(width >= 1 && height >= 1 && width <= 4096 && height <= 4096)) {
    throw new InvalidArgumentError(`--image-size must be WIDTHxHEIGHT such as 32x32, got "${value}"`);
  }
  return { width, height };
}

function columnList(flag: string): (value: string) => string[] {
  return (value) => {
    const names = value.split(',').map((n) => n.trim());
    if (names.some((n) => n === ''))
      throw new InvalidArgumentError(`${flag} must be a comma-separated list, got "${value}"`);
    return names;
  };
}

function channels(value: string): 1 | 3 {
  if (value.trim() === '1') return 1;
  if (value.trim() === '3') return 3;
  throw new InvalidArgumentError(`--channels must be 1 (grayscale) or 3 (RGB), got "${value}"`);
}

/** --data and its shaping flags. `recorded`: say in the help that the study's data is the default. */
export function addDataOptions(cmd: Command, o: { recorded?: boolean } = {}): Command {
  const dataHelp = o.recorded
    ? "the data: mnist, a folder of IDX files, a .csv/.tsv file or a folder of <class>/ images (default: the study's)"
    : 'the data: mnist, a folder of IDX files, a .csv/.tsv file or a folder of <class>/ images (default: mnist)';
  return cmd
    .option('--data <path>', dataHelp)
    .option('--target <column>', 'table column to predict (default: the last column)')
    .option(
      '--task <task>',
      'classification|regression (default: inferred from the target)',
      oneOf('--task', ['classification', 'regression'] as const),
    )
    .option(
      '--features <a,b,c>',
      'table columns to use as inputs (default: all but the target)',
      columnList('--features'),
    )
    .option(
      '--categorical <a,b>',
      'table columns to read as categories even when their values look numeric',
      columnList('--categorical'),
    )
    .option('--channels <n>', 'image channels: 1 (grayscale) or 3 (RGB) (default: from the images)', channels)
    .option(
      '--val-split <fraction>',
      'validation fraction when the data brings no split (default 0.1)',
      fraction('--val-split'),
    )
    .option(
      '--test-split <fraction>',
      'test fraction when the data brings no split (default 0.1)',
      fraction('--test-split'),
    )
    .option('--image-size <WxH>', 'resize images to this, e.g. 32x32 (default: chosen from the data)', imageSize)
    .option(
      '--impute <how>',
      'fill missing table values: mean|most-frequent (default: missing values are an error)',
      oneOf('--impute', ['mean', 'most-frequent'] as const),
    )
    .addOption(new Option('--data-dir <dir>', 'a folder of MNIST-format IDX files (same as --data <dir>)').hideHelp())
    .addOption(
      new Option('--limit-samples <n>', 'use only the first n examples of each split (smoke runs, tests)')
        .env('TUNESERVE_LIMIT_SAMPLES')
        .argParser(positiveInt('--limit-samples')),
    );
}

/** The flags as a DataSpec; undefined when no data flag was given (then the caller's default applies). */
export function dataSpecFrom(o: DataFlags, seed?: number): DataSpec | undefined {
  const path = o.data ?? o.dataDir;
  if (path === undefined) return undefined;
  return {
    path,
    ...(o.target !== undefined ? { target: o.target } : {}),
    ...(o.features !== undefined ? { features: o.features } : {}),
    ...(o.categorical !== undefined ? { categorical: o.categorical } : {}),
    ...(o.channels !== undefined ? { channels: o.channels } : {}),
    ...(o.task !== undefined ? { task: o.task } : {}),
    ...(o.valSplit !== undefined ? { valSplit: o.valSplit } : {}),
    ...(o.testSplit !== undefined ? { testSplit: o.testSplit } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}),
    ...(o.impute !== undefined ? { impute: o.impute } : {}),
    ...(o.limitSamples !== undefined ? { limitSamples: o.limitSamples } : {}),
  };
}

/** Loads the data of `spec` (a recorded split reused as it is); bad data becomes a UsageError (exit 2). */
export async function loadData(spec: DataSpec, split?: SplitRecord): Promise<Dataset> {
  const { path, limitSamples: limit, ...options } = spec;
  const data = await loadDataset(path, { ...options, ...(split ? { split } : {}) }).catch(toUsageError);
  return limit ? limitSamples(data, limit) : data;
}
