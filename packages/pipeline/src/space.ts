/**
 * Search spaces: named factories (the pipeline's `tabular`, `image` and `auto`; packages such as @tuneserve/mnist
 * register their own) and user files that export a build function or a HyperModel. A space is made for one data
 * set (its input shape and output), so the same name fits tables, images and any number of classes.
 */
import { access } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BuildFn, HyperModel, HyperParameters } from '@tuneserve/tuner';
import { SearchSpaceError } from './errors.js';
import { PipelineHyperModel, type SpaceContext, type TrainingSettings } from './hypermodels/base.js';
import { ImageHyperModel } from './hypermodels/image.js';
import { TabularHyperModel } from './hypermodels/tabular.js';

export interface SearchSpace {
  name: string;
  description: string;
  hypermodel: HyperModel;
  /**
   * How a configuration trains: its tuned batch size and augmentation (none for plain HyperModels). `hp` is the
   * configuration as `hyperparametersFor` returns it (the space declared).
   */
  trainingSettings(hp: HyperParameters): TrainingSettings;
}

export interface SpaceDefinition {
  description: string;
  create(context: SpaceContext, options: { cnn?: boolean }): HyperModel;
  /** `auto` picks the first registered space that prefers the data (e.g. MNIST's for 28x28 digits). */
  prefers?(context: SpaceContext): boolean;
}

const registry = new Map<string, SpaceDefinition>();

/** Adds a named space (a later registration under the same name replaces the earlier one). */
export function registerSpace(name: string, definition: SpaceDefinition): void {
  registry.set(name, definition);
}

export function spaceNames(): string[] {
  return ['auto', ...registry.keys()];
}

registerSpace('tabular', {
  description: 'MLP over the encoded features: layers, units, dropout, optimizer, log learning rate, batch size',
  create: (context) => new TabularHyperModel(context),
});
registerSpace('image', {
  description:
    'small CNN (+ MLP for tiny images): blocks, filters, dense units, dropout, optimizer, learning rate, batch size',
  create: (context, options) => new ImageHyperModel(context, options),
});

/** The space `auto` resolves to for this data: a registered preference, else by input kind. */
export function autoSpaceName(context: SpaceContext): string {
  for (const [name, definition] of registry) if (definition.prefers?.(context)) return name;
  return context.input.kind === 'tabular' ? 'tabular' : 'image';
}

/** A search space of your own HyperModel (or build function), for `runTune` and `hyperparametersFor`. */
export function searchSpace(hypermodel: HyperModel | BuildFn, name?: string): SearchSpace {
  const model =
    hypermodel instanceof HyperModel
      ? hypermodel
      : new (class extends HyperModel {
          override build(hp: HyperParameters) {
            return hypermodel(hp);
          }
        })();
  const shown = name ?? model.name ?? model.constructor.name;
  return fromHyperModel(shown, `user space ${shown}`, model);
}

function fromHyperModel(name: string, description: string, hypermodel: HyperModel): SearchSpace {
  return {
    name,
    description,
    hypermodel,
    trainingSettings: (hp) => (hypermodel instanceof PipelineHyperModel ? hypermodel.declareTraining(hp) : {}),
  };
}

/** A named space or a .js/.mjs/.ts file exporting `buildModel`, a default build function, or a HyperModel. */
export async function resolveSpace(
  nameOrFile: string,
  context: SpaceContext,
  options: { cnn?: boolean } = {},
): Promise<SearchSpace> {
  const name = nameOrFile === 'auto' ? autoSpaceName(context) : nameOrFile;
  const definition = registry.get(name);
  if (definition) return fromHyperModel(name, definition.description, definition.create(context, options));
  if (!/\.(m?js|ts|mts)$/.test(nameOrFile)) {
    throw new SearchSpaceError(
      `unknown search space "${nameOrFile}": use ${spaceNames().join(', ')}, or a .js/.ts file exporting buildModel`,
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
    hypermodel = searchSpace(exported as BuildFn).hypermodel;
  } else {
    throw new SearchSpaceError(
      `${file} exports no buildModel function, HyperModel or default export (found: ${Object.keys(mod).join(', ') || 'nothing'})`,
    );
  }
  return fromHyperModel(file, `user space from ${basename(file)}`, hypermodel);
}

/**
 * Imports a space file. Node 20 cannot import TypeScript, so .ts/.mts files go through tsx's scoped loader
 * (esbuild under the hood): nothing is written beside the user's file, and its relative imports (.ts ones too)
 * resolve as they would under tsx itself. A syntax error's message names the file, line and column.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    if (/\.m?ts$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api'); // loaded only for TypeScript spaces
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new SearchSpaceError(`cannot load search space ${file}: ${(err as Error).message}`);
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
  // What fit() declares (batch size, augmentation) belongs to the configuration too.
  if (space.hypermodel instanceof PipelineHyperModel) space.hypermodel.declareTraining(hp);
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
