/**
 * The data set contract between loaders, the pipeline and the server: plain typed arrays (no TF.js),
 * the input/output schema fitted on the training split, and a JSON record of how the split was made.
 */
import type { InputSchema, OutputSchema } from '@tuneserve/client';

/** `count` examples: `x` row-major in the layout of `Dataset.inputShape`; `y` a class index or the standardised target. */
export interface Split {
  x: Float32Array;
  y: Float32Array;
  count: number;
}

export type Task = 'classification' | 'regression';

/**
 * Which examples are held out: row indices (0-based data rows in file order) for tables and IDX,
 * paths relative to the data folder for images, or a description of a split the data brings itself.
 */
export type SplitMembers = { rows: number[] } | { files: string[] } | { given: string };

/**
 * How a data set was split; JSON-serialisable and saved beside a study so `train` and `evaluate`
 * see the same test set as `tune` (pass it back as `LoadOptions.split`). The training split is
 * every example that is in neither `val` nor `test`.
 */
export interface SplitRecord {
  version: 1;
  /** The data set's name (checked on reuse). */
  dataset: string;
  /** Examples in the whole data set, over all parts (checked on reuse). */
  total: number;
  seed: number;
  valSplit: number;
  testSplit: number;
  /** Random parts were drawn per class in proportion (classification). */
  stratified: boolean;
  /** Where each held-out part came from: the data's own (a test/ folder, MNIST's t10k files) or drawn at random. */
  source: { val: 'given' | 'random'; test: 'given' | 'random' };
  val: SplitMembers;
  test: SplitMembers;
}

export interface Dataset {
  /** Default model name: 'mnist', or the file/folder base name. */
  name: string;
  task: Task;
  /** Preprocessing fitted on the training split only. */
  input: InputSchema;
  /** Class labels, or the target with its mean/std. */
  output: OutputSchema;
  /** Per example, e.g. [784], [32, 32, 3], [encoded width]. */
  inputShape: number[];
  train: Split;
  val: Split;
  test: Split;
  /** train + val, a fresh concatenation (for the final retrain). */
  trainFull(): Split;
  split: SplitRecord;
  /** One line the CLI prints, e.g. "iris.csv: 150 rows, 4 numeric features, classification over 3 classes (target 'species', inferred)". */
  summary: string;
}

export interface LoadOptions {
  /** Target column (tables); default the last column. */
  target?: string;
  /** Feature columns to use (tables); default every column but the target. */
  features?: string[];
  /** Default inferred: a string or small-integer target is classification. */
  task?: Task;
  /** Fractions held out when the data brings no split of its own (default 0.1 each). */
  valSplit?: number;
  testSplit?: number;
  /** Seed of the random split (default 0). */
  seed?: number;
  /** Images are resized to this; default chosen from the data. */
  imageSize?: { width: number; height: number };
  /** Fill missing values instead of failing (fitted on the training split; categories always take the most frequent). */
  impute?: 'mean' | 'most-frequent';
  /** Columns read as categories even when their values look numeric (codes, zip codes). */
  categorical?: string[];
  /** Image channels; default 1 when every image is grayscale, 3 when every image is colour (a mix must choose). */
  channels?: 1 | 3;
  /** Reuse a recorded split instead of drawing one. */
  split?: SplitRecord;
  /** Progress of long loads: bytes read of the file (CSV), images decoded (folders). */
  onProgress?: (done: number, total: number) => void;
}

/** One data format. A new format is one module implementing this plus one line in the registry. */
export interface DataLoader {
  readonly name: string;
  /** Whether this loader reads `path` (cheap: extension or directory layout). */
  accepts(path: string): Promise<boolean>;
  load(path: string, options: LoadOptions): Promise<Dataset>;
}
