/**
 * Named search spaces for MNIST: `seed` (exactly the reference's) and `default` (wider: MLP or CNN,
 * depth, width, dropout, optimizer, log-scaled learning rate, batch size), plus user files that export
 * a build function or a HyperModel.
 */
import { access, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { type BuildFn, HyperModel, HyperParameters } from '@tuneserve/tuner';
import { shiftedBatches } from './augment.js';
import { buildCnn, buildMlp, canTrainConvolutions, type OptimizerName } from './models.js';

export interface SearchSpace {
  name: string;
  description: string;
  hypermodel: HyperModel;
  /** The batch size a configuration trains with: its own when the space tunes it, else the fallback. */
  batchSize(values: Record<string, unknown>, fallback: number): number;
  /** The shift augmentation (pixels) a configuration trains with: its `augment_shift` value, else 0. */
  augmentShift(values: Record<string, unknown>): number;
}

/** An unknown space name, or a space file that cannot be loaded or exports nothing usable. */
export class SearchSpaceError extends Error {
  override name = 'SearchSpaceError';
}

/** The reference system's build_model: units in {16, 32, 48, 64}, optimizer in {rmsprop, adam}. */
export class SeedHyperModel extends HyperModel {
  constructor() {
    super({ name: 'seed' });
  }

  override build(hp: HyperParameters): tf.LayersModel {
    const units = hp.int('units', { minValue: 16, maxValue: 64, step: 16 });
    const optimizer = hp.choice('optimizer', ['rmsprop', 'adam']) as OptimizerName;
    return buildMlp({ units: [units], optimizer });
  }
}

export const BATCH_SIZES = [64, 128, 256];

/**
 * The wider space. `architecture` is a conditional choice: the CNN branch exists only when the backend can
 * train convolutions (with stock wasm it cannot), so the space still runs, MLP only, everywhere.
 */
export class DefaultHyperModel extends HyperModel {
  readonly cnn: boolean;

  constructor(options: { cnn?: boolean } = {}) {
    super({ name: 'default' });
    this.cnn = options.cnn ?? canTrainConvolutions();
  }

  override build(hp: HyperParameters): tf.LayersModel {
    const architecture = this.cnn ? hp.choice('architecture', ['mlp', 'cnn']) : hp.fixed('architecture', 'mlp');
    const optimizer = hp.choice('optimizer', ['adam', 'rmsprop']) as OptimizerName;
    const mlp = hp.conditionalScope('architecture', 'mlp', () =>
      // Ranges where the measured studies found the good MLPs (figures: docs/pipeline.md, search spaces).
      buildMlp({
        learningRate: hp.float('learning_rate', { minValue: 2e-4, maxValue: 3e-3, sampling: 'log', default: 1e-3 }),
        units: new Array(hp.int('layers', { minValue: 1, maxValue: 3, default: 2 })).fill(
          hp.int('units', { minValue: 256, maxValue: 1024, step: 128, default: 512 }),
        ),
        dropout: hp.float('dropout', { minValue: 0.2, maxValue: 0.5, step: 0.1, default: 0.3 }),
        optimizer,
      }),
    );
    if (mlp) return mlp;
    const cnn = hp.conditionalScope('architecture', 'cnn', () =>
      buildCnn({
        filters: [hp.choice('filters_1', [16, 32], { default: 32 }), hp.choice('filters_2', [32, 64], { default: 64 })],
        // 5x5 kernels (LeNet's) see more of a stroke per layer; the valid convolutions still leave 4x4 maps.
        kernelSize: hp.choice('kernel_size', [3, 5], { default: 3 }),
        denseUnits: hp.choice('dense_units', [0, 64, 128, 256], { default: 128 }),
        // The CNN's own, narrower range: a draw at 1.2e-4 trailed the other CNNs by 0.8 points after ten epochs, and the
        // best ones used 1e-3 to 3e-3.
        learningRate: hp.float('cnn_learning_rate', { minValue: 3e-4, maxValue: 3e-3, sampling: 'log', default: 1e-3 }),
        dropout: hp.float('cnn_dropout', { minValue: 0.25, maxValue: 0.5, step: 0.25, default: 0.25 }),
        optimizer,
      }),
    );
    if (!cnn) throw new Error(`unknown architecture ${String(architecture)}`);
    return cnn;
  }

  /**
   * Batch size is tuned here, through fit, as Keras Tuner's docs suggest. MLPs train on shifted images (see
   * augment.ts; why, with figures: docs/pipeline.md).
   */
  override fit(
    hp: HyperParameters,
    model: tf.LayersModel,
    x: Parameters<HyperModel['fit']>[2],
    y: Parameters<HyperModel['fit']>[3],
    args: tf.ModelFitArgs,
  ): ReturnType<HyperModel['fit']> {
    const batchSize = hp.choice('batch_size', BATCH_SIZES, { default: 128 });
    const shift = hp.conditionalScope('architecture', 'mlp', () => hp.fixed('augment_shift', MLP_AUGMENT_SHIFT));
    // Shifts need flat square images ([n, side * side], as MNIST's 784); anything else trains as it is.
    const [count = 0, size = 0] = x instanceof tf.Tensor && x.rank === 2 ? x.shape : [];
    const side = Math.round(Math.sqrt(size));
    if (typeof shift !== 'number' || shift <= 0 || side * side !== size || size === 0 || !(y instanceof tf.Tensor)) {
      return super.fit(hp, model, x, y, { ...args, batchSize });
    }
    const { epochs, validationData, callbacks, verbose } = args;
    return model.fitDataset(
      shiftedBatches({
        images: (x as tf.Tensor).dataSync() as Float32Array,
        labels: Float32Array.from(y.dataSync()),
        count,
        rows: side,
        cols: side,
        batchSize,
        maxShift: shift,
      }),
      {
        epochs: epochs ?? 1,
        validationBatchSize: batchSize,
        ...(validationData ? { validationData: validationData as [tf.Tensor, tf.Tensor] } : {}),
        ...(callbacks ? { callbacks } : {}),
        ...(verbose !== undefined ? { verbose: verbose === 0 ? 0 : 1 } : {}),
      },
    );
  }
}

/** Pixels an MLP's training images move (each way, every epoch): the measured gain came at 2 on 28x28 digits. */
export const MLP_AUGMENT_SHIFT = 2;

function tunedBatchSize(values: Record<string, unknown>, fallback: number): number {
  const b = values.batch_size;
  return typeof b === 'number' && Number.isInteger(b) && b > 0 ? b : fallback;
}

function tunedAugmentShift(values: Record<string, unknown>): number {
  const s = values.augment_shift;
  return typeof s === 'number' && Number.isInteger(s) && s > 0 ? s : 0;
}

export const SPACE_NAMES = ['default', 'mlp', 'seed'] as const;

/** A named space or a .js/.mjs/.ts file exporting `buildModel`, a default build function, or a HyperModel. */
export async function resolveSpace(nameOrFile: string, options: { cnn?: boolean } = {}): Promise<SearchSpace> {
  if (nameOrFile === 'seed') {
    return {
      name: 'seed',
      description: 'the reference: Dense(units in 16..64 step 16, relu) -> Dense(10), optimizer rmsprop|adam',
      hypermodel: new SeedHyperModel(),
      batchSize: (_v, fallback) => fallback,
      augmentShift: () => 0,
    };
  }
  if (nameOrFile === 'default' || nameOrFile === 'mlp') {
    const hypermodel = new DefaultHyperModel(nameOrFile === 'mlp' ? { cnn: false } : options);
    return {
      name: nameOrFile,
      description: `${hypermodel.cnn ? 'MLP or CNN' : nameOrFile === 'mlp' ? 'MLP only' : 'MLP only (this backend cannot train CNNs)'}, layers, units, dropout, optimizer, log learning rate, batch size`,
      hypermodel,
      batchSize: tunedBatchSize,
      augmentShift: tunedAugmentShift,
    };
  }
  if (!/\.(m?js|ts|mts)$/.test(nameOrFile)) {
    throw new SearchSpaceError(
      `unknown search space "${nameOrFile}": use ${SPACE_NAMES.join(', ')}, or a .js/.ts file exporting buildModel`,
    );
  }
  return loadSpaceFile(resolve(nameOrFile));
}

async function loadSpaceFile(file: string): Promise<SearchSpace> {
  try {
    await access(file);
  } catch {
    throw new SearchSpaceError(`search space file ${file} does not exist`);
  }
  const mod = await importModule(file);
  const exported = mod.buildModel ?? mod.hypermodel ?? mod.default;
  let hypermodel: HyperModel;
  if (exported instanceof HyperModel) hypermodel = exported;
  else if (typeof exported === 'function' && exported.prototype instanceof HyperModel) {
    hypermodel = new (exported as new () => HyperModel)();
  } else if (typeof exported === 'function') {
    const build = exported as BuildFn;
    hypermodel = new (class extends HyperModel {
      override build(hp: HyperParameters) {
        return build(hp);
      }
    })({ name: basename(file) });
  } else {
    throw new SearchSpaceError(
      `${file} exports no buildModel function, HyperModel or default export (found: ${Object.keys(mod).join(', ') || 'nothing'})`,
    );
  }
  return {
    name: file,
    description: `user space from ${basename(file)}`,
    hypermodel,
    batchSize: tunedBatchSize,
    augmentShift: tunedAugmentShift,
  };
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  if (!/\.m?ts$/.test(file)) return importOrExplain(file);
  // Node 20 cannot import TypeScript: transpile next to the original so its relative imports still resolve.
  const { default: ts } = await import('typescript').catch(() => {
    throw new SearchSpaceError(`${file}: loading a .ts space needs the typescript package; compile it to .js instead`);
  });
  const { readFile } = await import('node:fs/promises');
  const out = ts.transpileModule(await readFile(file, 'utf8'), {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const tmp = join(dirname(file), `.${basename(file, extname(file))}.${process.pid}.tuneserve.mjs`);
  await writeFile(tmp, out.outputText);
  try {
    return await importOrExplain(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function importOrExplain(path: string, shownAs = path): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new SearchSpaceError(`cannot load search space ${shownAs}: ${(err as Error).message}`);
  }
}

/**
 * HyperParameters holding exactly `values` for a space: builds once to discover the space and rejects names
 * the space does not declare or values outside their ranges (for `train --hp`).
 */
export async function hyperparametersFor(
  space: SearchSpace,
  values: Record<string, unknown>,
): Promise<HyperParameters> {
  const hp = new HyperParameters();
  hp.values = { ...(values as HyperParameters['values']) };
  const model = await space.hypermodel.build(hp);
  model.dispose();
  // batch_size is declared in fit(); register it the same way for spaces that tune it.
  if (space.hypermodel instanceof DefaultHyperModel) {
    if ('batch_size' in values) hp.choice('batch_size', BATCH_SIZES, { default: 128 });
    // Fixed, so an MLP given without it (`train --hp`, or a study from before it existed) trains as tuning does.
    hp.conditionalScope('architecture', 'mlp', () => hp.fixed('augment_shift', MLP_AUGMENT_SHIFT));
  }
  for (const [name, value] of Object.entries(values)) {
    if (!hp.has(name)) {
      throw new SearchSpaceError(
        `hyperparameter "${name}" is not part of the ${space.name} space (it has: ${hp.space.map((h) => h.name).join(', ')})`,
      );
    }
    if (hp.values[name] !== value || !onGrid(hp, name, value)) {
      throw new SearchSpaceError(
        `hyperparameter ${name}=${JSON.stringify(value)} is not a valid value in the ${space.name} space` +
          ` (or is inactive for the other values)`,
      );
    }
  }
  return hp;
}

/** Stepped numbers and choices must be one of the space's values (a tiny tolerance for float steps). */
function onGrid(hp: HyperParameters, name: string, value: unknown): boolean {
  const def = hp.getHyperParameter(name);
  if (!def) return false;
  const { kind, step } = def.toConfig() as { kind: string; step?: number | null };
  if (kind === 'Float' && (step === null || step === undefined)) return true;
  return def
    .gridValues()
    .some((v) =>
      typeof v === 'number' && typeof value === 'number'
        ? Math.abs(v - value) <= 1e-9 * Math.max(1, Math.abs(v))
        : v === value,
    );
}
