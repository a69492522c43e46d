/**
 * A loaded model's input and output schema (metadata.json `input` / `output`), checked against the
 * model's tensors when the version loads, so a request never meets a schema the model cannot take.
 * Models exported before schemas existed are a plain tensor classified over their labels.
 */
import type { Feature, InputSchema, OutputSchema } from '@tuneserve/client';
import { encodedWidth } from '@tuneserve/data';
import { ModelLoadError } from '../errors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkFeature(f: unknown, i: number, label: string): Feature {
  const where = `${label}: metadata.json input.features[${i}]`;
  if (!isObject(f) || typeof f.name !== 'string' || f.name.length === 0)
    throw new ModelLoadError(`${where} needs a name`);
  if (f.type === 'number') {
    if (!finite(f.mean) || !finite(f.std) || f.std === 0 || !finite(f.min) || !finite(f.max))
      throw new ModelLoadError(`${where} ("${f.name}") needs finite mean, std (not 0), min and max`);
    return f as unknown as Feature;
  }
  if (f.type === 'category') {
    if (!Array.isArray(f.categories) || !f.categories.every((c) => typeof c === 'string'))
      throw new ModelLoadError(`${where} ("${f.name}") needs a list of category strings`);
    return { ...(f as unknown as Feature), other: f.other === true } as Feature;
  }
  throw new ModelLoadError(`${where} ("${f.name}") has unknown type ${JSON.stringify(f.type)}`);
}

/** The input schema of a model taking `exampleSize` values per example. */
export function readInputSchema(
  meta: unknown,
  exampleShape: number[],
  exampleSize: number,
  label: string,
): InputSchema {
  if (meta === undefined) return { kind: 'tensor', shape: exampleShape };
  if (!isObject(meta)) throw new ModelLoadError(`${label}: metadata.json "input" must be an object`);
  switch (meta.kind) {
    case 'tensor':
      return { kind: 'tensor', shape: exampleShape };
    case 'tabular': {
      if (!Array.isArray(meta.features) || meta.features.length === 0)
        throw new ModelLoadError(`${label}: metadata.json input.features must list the features`);
      const features = meta.features.map((f, i) => checkFeature(f, i, label));
      const width = encodedWidth({ kind: 'tabular', features });
      if (width !== exampleSize)
        throw new ModelLoadError(`${label}: the features encode to ${width} values but the model takes ${exampleSize}`);
      return { kind: 'tabular', features };
    }
    case 'image': {
      const { width, height, channels } = meta;
      if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || (channels !== 1 && channels !== 3))
        throw new ModelLoadError(`${label}: metadata.json input needs integer width, height and channels 1 or 3`);
      const size = (width as number) * (height as number) * channels;
      if (size !== exampleSize)
        throw new ModelLoadError(
          `${label}: a ${width}x${height}x${channels} image is ${size} values; the model takes ${exampleSize}`,
        );
      return meta as unknown as InputSchema;
    }
    default:
      throw new ModelLoadError(`${label}: metadata.json input.kind ${JSON.stringify(meta.kind)} is unknown`);
  }
}

export function readOutputSchema(meta: unknown, labels: string[], outputSize: number, label: string): OutputSchema {
  if (meta === undefined) return { task: 'classification', labels };
  if (!isObject(meta)) throw new ModelLoadError(`${label}: metadata.json "output" must be an object`);
  if (meta.task === 'classification') {
    const given = meta.labels ?? labels;
    if (!Array.isArray(given) || given.length !== outputSize || !given.every((l) => typeof l === 'string'))
      throw new ModelLoadError(`${label}: metadata.json output.labels must list ${outputSize} strings`);
    return { task: 'classification', labels: given as string[] };
  }
  if (meta.task === 'regression') {
    if (outputSize !== 1) throw new ModelLoadError(`${label}: a regression model must have one output value`);
    if (typeof meta.target !== 'string' || !finite(meta.mean) || !finite(meta.std))
      throw new ModelLoadError(`${label}: metadata.json output needs target, mean and std`);
    return { task: 'regression', target: meta.target, mean: meta.mean, std: meta.std };
  }
  throw new ModelLoadError(`${label}: metadata.json output.task ${JSON.stringify(meta.task)} is unknown`);
}
