/**
 * Parsers that turn JSON request payloads into float32 batches for the model. They validate
 * everything a client can get wrong (shape, type, NaN/Infinity, float32 overflow, ragged or deeply
 * nested arrays, empty input, too many instances) and throw InvalidInputError naming where.
 * They never evaluate content and never recurse deeper than MAX_DEPTH.
 */
import { InvalidInputError } from './errors.js';

export const MAX_DEPTH = 32;
const FLOAT32_MAX = 3.4028234663852886e38;

/** What one example of the model looks like. */
export interface InputSpec {
  /** Name of the model's input, accepted as key in `{name: tensor}` forms. */
  inputName: string;
  /** Shape of one example, without the batch dimension, e.g. [784]. */
  exampleShape: number[];
  /** Number of values in one example (product of exampleShape). */
  exampleSize: number;
}

/** A batch ready for the model: `count` examples of `spec.exampleSize` values, row-major. */
export interface Batch {
  values: Float32Array;
  count: number;
}

export interface DenseTensor {
  values: Float32Array;
  shape: number[];
}

/**
 * Float32 storage for parsed requests, cut from shared 64 KiB slabs. A new Float32Array gets its own off-heap
 * backing store, which costs more than copying one 784-value example; a view on a slab costs a fraction of it.
 * Slabs stay below the C allocator's mmap threshold (128 KiB): larger ones came as fresh pages from the kernel,
 * and their page faults made slabs slower than separate arrays. Slabs are never rewound: a full one is dropped
 * and the garbage collector frees it once its last view dies, so a view's memory is never handed out twice.
 * Large inputs get their own buffer.
 */
const SLAB_BYTES = 64 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

export function allocFloats(n: number): Float32Array {
  const bytes = n * 4;
  if (bytes > SLAB_BYTES / 4) return new Float32Array(n);
  if (slabUsed + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const view = new Float32Array(slab, slabUsed, n);
  slabUsed += bytes;
  return view;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * Reads a rectangular nested array of finite numbers. The shape is taken from the first element
 * at each level; every other element must match it. `maxValues` bounds the allocation before
 * any value is copied.
 */
export function readDenseTensor(value: unknown, where: string, maxValues: number): DenseTensor {
  const shape: number[] = [];
  let probe: unknown = value;
  let path = where;
  while (Array.isArray(probe)) {
    if (shape.length >= MAX_DEPTH) throw new InvalidInputError(`${path} is nested deeper than ${MAX_DEPTH} levels`);
    if (probe.length === 0) throw new InvalidInputError(`${path} is an empty list`);
    shape.push(probe.length);
    probe = probe.at(0); // not probe[0]: see fillRectangular
    path += '[0]';
  }
  let total = 1;
  for (let d = 0; d < shape.length; d++) total *= shape[d] as number;
  if (total > maxValues) {
    throw new InvalidInputError(`${where} holds ${total} values, more than the limit of ${maxValues}`);
  }
  const values = allocFloats(total);
  if (shape.length === 0) {
    if (isFloat32Number(value)) values[0] = value;
    else numberError(value, where);
  } else if (fillRectangular(value as unknown[], shape, 0, values, 0) < 0) {
    explainFailure(value, shape, where);
  }
  return { values, shape };
}

const isFloat32Number = (x: unknown): x is number => typeof x === 'number' && x <= FLOAT32_MAX && x >= -FLOAT32_MAX;

/**
 * The hot path: copies a nested list of the given shape into `values` from `offset` and returns the offset after
 * it, or -1 at the first thing that is wrong. It builds no paths or messages (they cost more than the copy); after
 * a -1 the caller walks the input again with explainFailure to say what is wrong and where.
 *
 * Lists of lists are read with `.at()`, number lists with `[i]`. An optimized `x[i]` that has seen both a list of
 * lists and a list of doubles makes V8 convert each double list it meets to boxed elements (one heap number per
 * value: ~7 µs for 784 values, more than the whole parse); `.at()` never converts. Only the innermost loop, where
 * `[i]` is three times faster, indexes directly, and it sees other lists only in requests that are rejected.
 */
function fillRectangular(
  node: unknown[],
  shape: number[],
  depth: number,
  values: Float32Array,
  offset: number,
): number {
  const n = node.length;
  if (n !== shape[depth]) return -1;
  if (depth === shape.length - 1) {
    for (let i = 0; i < n; i++) {
      const x = node[i];
      if (typeof x !== 'number' || !(x <= FLOAT32_MAX && x >= -FLOAT32_MAX)) return -1;
      values[offset + i] = x;
    }
    return offset + n;
  }
  let next = offset;
  for (let i = 0; i < n; i++) {
    const child = node.at(i);
    if (!Array.isArray(child)) return -1;
    next = fillRectangular(child, shape, depth + 1, values, next);
    if (next < 0) return -1;
  }
  return next;
}

/** Finds the first element fillRectangular rejects, in the same order, and throws the error that names it. */
function explainFailure(node: unknown, shape: number[], at: string, depth = 0): void {
  if (!Array.isArray(node)) {
    throw new InvalidInputError(`${at} is ${describe(node)}, expected a list of ${shape[depth]} elements`);
  }
  if (node.length !== shape[depth]) {
    throw new InvalidInputError(
      `${at} has ${node.length} elements but ${at.replace(/\[\d+\]$/, '[0]')} has ${shape[depth]}: lists must be rectangular`,
    );
  }
  for (let i = 0; i < node.length; i++) {
    if (depth === shape.length - 1) {
      if (!isFloat32Number(node[i])) numberError(node[i], `${at}[${i}]`);
    } else explainFailure(node[i], shape, `${at}[${i}]`, depth + 1);
  }
}

/** Says why `node`, where a number was expected, is not one float32 can hold. */
function numberError(node: unknown, at: string): never {
  if (typeof node !== 'number') throw new InvalidInputError(`${at} is ${describe(node)}, expected a number`);
  if (!Number.isFinite(node)) throw new InvalidInputError(`${at} is not a finite number`);
  throw new InvalidInputError(`${at} = ${node} is outside the float32 range`);
}

const shapeText = (shape: number[]): string => `[${shape.join(', ')}]`;

/**
 * The reference route's payload: one example given as a flat vector, wrapped once ([[784]]), or
 * in its natural shape (28x28). Whatever the nesting, it must hold exactly one example's values.
 */
export function parseSingleExample(instances: unknown, spec: InputSpec, where = 'instances'): Float32Array {
  if (instances === undefined) throw new InvalidInputError(`missing "${where}"`);
  const tensor = readDenseTensor(instances, where, spec.exampleSize);
  if (tensor.values.length !== spec.exampleSize) {
    throw new InvalidInputError(
      `${where} has shape ${shapeText(tensor.shape)} (${tensor.values.length} values); expected one example of ${spec.exampleSize} values, e.g. shape ${shapeText(spec.exampleShape)}`,
    );
  }
  return tensor.values;
}

/** Reads a batch whose first dimension counts examples; each example must hold exampleSize values. */
export function parseBatchTensor(value: unknown, spec: InputSpec, maxBatch: number, where: string): Batch {
  if (Array.isArray(value) && value.length > maxBatch) {
    throw new InvalidInputError(`${where} has ${value.length} examples, more than the limit of ${maxBatch}`);
  }
  const tensor = readDenseTensor(value, where, maxBatch * spec.exampleSize);
  const [count = 0, ...example] = tensor.shape;
  let size = 1;
  for (const dim of example) size *= dim;
  if (tensor.shape.length < 2 || size !== spec.exampleSize) {
    const hint =
      tensor.shape.length === 1 && count === spec.exampleSize
        ? `; to send one example, wrap it in a list: [[...${spec.exampleSize} values]]`
        : '';
    throw new InvalidInputError(
      `${where} has shape ${shapeText(tensor.shape)}; expected [batch, ${spec.exampleShape.join(', ')}]${hint}`,
    );
  }
  return { values: tensor.values, count };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Picks our input out of a `{name: tensor}` object. The model has one input, so the object must have
 * exactly one key; its name is not enforced because TF.js may suffix layer names when several models
 * share a process, which clients cannot predict.
 */
function namedInput(value: Record<string, unknown>, where: string): unknown {
  const keys = Object.keys(value);
  const [key] = keys;
  if (keys.length !== 1 || key === undefined) {
    throw new InvalidInputError(`${where} must have exactly one key, the model input; got ${keys.length}`);
  }
  const tensor = value[key];
  if (isPlainObject(tensor) && 'b64' in tensor) {
    throw new InvalidInputError(`${where}.${key}: binary (b64) values are not accepted for a float32 input`);
  }
  if (key === 'b64') throw new InvalidInputError(`${where}: binary (b64) values are not accepted for a float32 input`);
  return tensor;
}

/** TF Serving row format: `instances` is a list with one element per example. */
export function parseRowInstances(instances: unknown, spec: InputSpec, maxBatch: number): Batch {
  if (!Array.isArray(instances)) throw new InvalidInputError(`"instances" is ${describe(instances)}, expected a list`);
  if (instances.length > 0 && isPlainObject(instances.at(0))) {
    if (instances.length > maxBatch) {
      throw new InvalidInputError(`instances has ${instances.length} examples, more than the limit of ${maxBatch}`);
    }
    const unwrapped = instances.map((item, i) => {
      if (!isPlainObject(item)) throw new InvalidInputError(`instances[${i}] is ${describe(item)}, expected an object`);
      return namedInput(item, `instances[${i}]`);
    });
    return parseBatchTensor(unwrapped, spec, maxBatch, 'instances');
  }
  return parseBatchTensor(instances, spec, maxBatch, 'instances');
}

/** TF Serving columnar format: `inputs` is the batch tensor, or `{inputName: batch tensor}`. */
export function parseColumnarInputs(inputs: unknown, spec: InputSpec, maxBatch: number): Batch {
  if (isPlainObject(inputs)) return parseBatchTensor(namedInput(inputs, 'inputs'), spec, maxBatch, 'inputs');
  return parseBatchTensor(inputs, spec, maxBatch, 'inputs');
}

/** KServe v2 / Open Inference Protocol: one FP32 input whose `shape` covers the batch; data flat or nested. */
export function parseKserveInput(inputs: unknown, spec: InputSpec, maxBatch: number): Batch & { name: string } {
  if (!Array.isArray(inputs)) throw new InvalidInputError(`"inputs" is ${describe(inputs)}, expected a list`);
  if (inputs.length !== 1) {
    throw new InvalidInputError(
      `"inputs" has ${inputs.length} tensors; the model takes exactly one ("${spec.inputName}")`,
    );
  }
  const input: unknown = inputs[0];
  if (!isPlainObject(input)) throw new InvalidInputError(`inputs[0] is ${describe(input)}, expected an object`);
  const { name, shape, datatype, data } = input;
  if (typeof name !== 'string') throw new InvalidInputError('inputs[0].name must be a string');
  if (datatype !== 'FP32') {
    throw new InvalidInputError(
      `inputs[0].datatype is ${JSON.stringify(datatype) ?? 'missing'}; this model takes "FP32"`,
    );
  }
  if (
    !Array.isArray(shape) ||
    shape.length < 2 ||
    shape.length > MAX_DEPTH ||
    !shape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new InvalidInputError('inputs[0].shape must be a list of positive integers [batch, ...example dimensions]');
  }
  const dims = shape as number[];
  const [count = 0, ...example] = dims;
  const exampleSize = example.reduce((a, b) => a * b, 1);
  if (exampleSize !== spec.exampleSize) {
    throw new InvalidInputError(
      `inputs[0].shape is ${shapeText(dims)}; expected [batch, ${spec.exampleShape.join(', ')}]`,
    );
  }
  if (count > maxBatch)
    throw new InvalidInputError(`inputs[0].shape asks for ${count} examples, more than the limit of ${maxBatch}`);
  const tensor = readDenseTensor(data, 'inputs[0].data', maxBatch * spec.exampleSize);
  if (tensor.values.length !== count * exampleSize) {
    throw new InvalidInputError(
      `inputs[0].data holds ${tensor.values.length} values but shape ${shapeText(dims)} needs ${count * exampleSize}`,
    );
  }
  return { values: tensor.values, count, name };
}
