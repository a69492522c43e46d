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
 * Float32 storage for parsed requests, cut from shared 256 KiB slabs. A new Float32Array gets its own off-heap
 * backing store, which costs ~3 µs for one 784-value example (more than copying the values); a view on a slab costs
 * ~0.5 µs. Slabs are never rewound: a full one is dropped and the garbage collector frees it once its last view
 * dies, so a view's memory is never handed out twice. Large inputs get their own buffer.
 */
const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function allocFloats(n: number): Float32Array {
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
    probe = probe[0];
    path += '[0]';
  }
  let total = 1;
  for (const dim of shape) total *= dim;
  if (total > maxValues) {
    throw new InvalidInputError(`${where} holds ${total} values, more than the limit of ${maxValues}`);
  }
  const values = allocFloats(total);
  let offset = 0;
  // The indices leading to the current node; its path text is built only for an error message
  // (building it for each of hundreds of values per request dominated the parse).
  const indices: number[] = [];
  const at = (): string => `${where}${indices.map((i) => `[${i}]`).join('')}`;
  const fill = (node: unknown, depth: number): void => {
    if (!Array.isArray(node)) {
      throw new InvalidInputError(`${at()} is ${describe(node)}, expected a list of ${shape[depth]} elements`);
    }
    if (node.length !== shape[depth]) {
      const here = at();
      throw new InvalidInputError(
        `${here} has ${node.length} elements but ${here.replace(/\[\d+\]$/, '[0]')} has ${shape[depth]}: lists must be rectangular`,
      );
    }
    if (depth === shape.length - 1) {
      const bad = copyNumbers(node, values, offset);
      if (bad >= 0) {
        indices.push(bad);
        numberError(node[bad], at());
      }
      offset += node.length;
      return;
    }
    indices.push(0);
    for (let i = 0; i < node.length; i++) {
      indices[depth] = i;
      fill(node[i], depth + 1);
    }
    indices.pop();
  };
  if (shape.length > 0) fill(value, 0);
  else if (typeof value === 'number' && value <= FLOAT32_MAX && value >= -FLOAT32_MAX) values[0] = value;
  else numberError(value, where);
  return { values, shape };
}

/**
 * Copies an innermost list into `values` at `offset`, checking that each element is a number float32 can hold;
 * returns the index of the first element that is not, or -1.
 */
function copyNumbers(node: unknown[], values: Float32Array, offset: number): number {
  for (let i = 0; i < node.length; i++) {
    const x = node[i];
    if (typeof x !== 'number' || !(x <= FLOAT32_MAX && x >= -FLOAT32_MAX)) return i;
    values[offset + i] = x;
  }
  return -1;
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
  if (instances.length > 0 && isPlainObject(instances[0])) {
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
