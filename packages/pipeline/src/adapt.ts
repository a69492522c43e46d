/**
 * Evaluating a model on data encoded with another fit of the same schema (`tuneserve evaluate --data other.csv`):
 * the data set's preprocessing was fitted on its own training split, the model's on the one it was trained on. This
 * maps encoded examples from one to the other (numbers re-standardised, one-hot columns matched by category name,
 * class indices matched by label), or says precisely why the data does not fit the model.
 */
import type { InputSchema, OutputSchema, TabularInput } from '@tuneserve/client';
import { encodedWidth, featureEncoder } from '@tuneserve/data';
import type { Split } from './dataset.js';
import { ModelDataMismatchError } from './errors.js';

/** Encoded width of one example under a schema. */
function width(input: InputSchema): number {
  switch (input.kind) {
    case 'tabular':
      return encodedWidth(input);
    case 'image':
      return input.width * input.height * input.channels;
    case 'tensor':
      return input.shape.reduce((a, b) => a * b, 1);
  }
}

/** For each model input column: where it comes from in the data's encoding (-1: filled later) and how it maps. */
type ColumnMap = { from: number; scale: number; shift: number };

function tabularColumns(data: TabularInput, model: TabularInput): ColumnMap[] {
  const offsets = new Map<string, number>();
  let at = 0;
  for (const f of data.features) {
    offsets.set(f.name, at);
    at += featureEncoder(f).width;
  }
  const columns: ColumnMap[] = [];
  for (const m of model.features) {
    const d = data.features.find((f) => f.name === m.name);
    const base = offsets.get(m.name);
    if (!d || base === undefined)
      throw new ModelDataMismatchError(`the data has no column '${m.name}' the model takes`);
    if (d.type !== m.type) {
      throw new ModelDataMismatchError(
        `column '${m.name}' is ${d.type === 'number' ? 'numeric' : 'categorical'} in the data but not for the model`,
      );
    }
    if (d.type === 'number' && m.type === 'number') {
      // model value = (raw - mean_m) / std_m with raw = v * std_d + mean_d.
      columns.push({ from: base, scale: d.std / m.std, shift: (d.mean - m.mean) / m.std });
    } else if (d.type === 'category' && m.type === 'category') {
      const unknown = d.categories.filter((c) => !m.categories.includes(c));
      if (unknown.length > 0 && !m.other) {
        throw new ModelDataMismatchError(
          `column '${m.name}' has categories the model never saw: ${unknown.slice(0, 5).join(', ')}`,
        );
      }
      for (const c of m.categories) {
        const i = d.categories.indexOf(c);
        columns.push({ from: i < 0 ? -1 : base + i, scale: 1, shift: 0 });
      }
      // The model's 'other' slot collects the data's categories it does not know (and the data's own 'other').
      if (m.other) columns.push({ from: -1, scale: 1, shift: 0 });
    }
  }
  return columns;
}

function sameImage(a: InputSchema, b: InputSchema): boolean {
  return (
    a.kind === 'image' &&
    b.kind === 'image' &&
    a.width === b.width &&
    a.height === b.height &&
    a.channels === b.channels
  );
}

/**
 * The data's split encoded as the model expects (`input` is absent for models exported before schemas, which take a
 * plain tensor of `inputSize` values). Returns the split's own arrays when the encodings agree.
 */
export function adaptSplit(
  split: Split,
  data: { input: InputSchema; output: OutputSchema },
  model: { input?: InputSchema; output: OutputSchema; inputSize: number },
): Split {
  const x = adaptInputs(split, data.input, model.input, model.inputSize);
  const y = adaptTargets(split, data.output, model.output);
  return { x, y, count: split.count };
}

function adaptInputs(split: Split, data: InputSchema, model: InputSchema | undefined, inputSize: number): Float32Array {
  const dataWidth = width(data);
  if (model?.kind === 'tabular' && data.kind === 'tabular') {
    if (JSON.stringify(model.features) === JSON.stringify(data.features)) return split.x;
    const columns = tabularColumns(data, model);
    const out = new Float32Array(split.count * columns.length);
    for (let i = 0; i < split.count; i++) {
      const row = i * dataWidth;
      let at = i * columns.length;
      for (const [c, map] of columns.entries()) {
        if (map.from >= 0) out[at + c] = (split.x[row + map.from] as number) * map.scale + map.shift;
      }
      // 'other' slots: 1 when none of the feature's known category columns is set.
      let start = 0;
      for (const m of (model as TabularInput).features) {
        const size = featureEncoder(m).width;
        if (m.type === 'category' && m.other) {
          let any = 0;
          for (let k = 0; k < m.categories.length; k++) any += out[at + start + k] as number;
          out[at + start + m.categories.length] = any > 0 ? 0 : 1;
        }
        start += size;
      }
      at += columns.length;
    }
    return out;
  }
  if (model && model.kind !== data.kind) {
    throw new ModelDataMismatchError(`the model takes ${model.kind} input but the data is ${data.kind}`);
  }
  if (model?.kind === 'image' && !sameImage(model, data)) {
    const d = data as Extract<InputSchema, { kind: 'image' }>;
    throw new ModelDataMismatchError(
      `the model takes ${model.width}x${model.height} images with ${model.channels} channel(s), the data has ${d.width}x${d.height} with ${d.channels}`,
    );
  }
  if (dataWidth !== inputSize) {
    throw new ModelDataMismatchError(`the model takes ${inputSize} values per example but the data has ${dataWidth}`);
  }
  return split.x;
}

function adaptTargets(split: Split, data: OutputSchema, model: OutputSchema): Float32Array {
  if (data.task !== model.task) {
    throw new ModelDataMismatchError(`the model does ${model.task} but the data was loaded for ${data.task}`);
  }
  if (data.task === 'regression' && model.task === 'regression') {
    if (data.mean === model.mean && data.std === model.std) return split.y;
    return split.y.map((v) => (v * data.std + data.mean - model.mean) / model.std);
  }
  if (data.task === 'classification' && model.task === 'classification') {
    if (data.labels.join('\u0000') === model.labels.join('\u0000')) return split.y;
    const index = data.labels.map((label) => model.labels.indexOf(label));
    const unknown = data.labels.filter((_, i) => index[i] === -1);
    if (unknown.length > 0) {
      throw new ModelDataMismatchError(
        `the data has classes the model does not know: ${unknown.slice(0, 5).join(', ')}`,
      );
    }
    return split.y.map((v) => index[v] as number);
  }
  return split.y;
}
