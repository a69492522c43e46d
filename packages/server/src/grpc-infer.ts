/**
 * KServe v2 inference over gRPC, shared by ModelInfer and ModelStreamInfer: the request's inputs as a batch (a
 * plain tensor, BYTES images or one tensor per feature, in `contents` or `raw_input_contents`), the prediction
 * within the deadline, and the answer in the form the request used (raw outputs for raw inputs).
 */
import * as grpc from '@grpc/grpc-js';
import { classificationStrings, inTargetUnits } from './answers.js';
import { predictWithDeadline, resolveIn, type ServingContext } from './context.js';
import { HttpError, InvalidInputError, NotFoundError } from './errors.js';
import type { ServedVersion } from './model/manager.js';
import type { ServedModel } from './model/registry.js';
import { decodeImages, schemaColumns } from './raw-input.js';
import type { Batch } from './tensor-input.js';

interface Contents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

interface InputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: Contents | null;
}

export interface ModelRef {
  name: string;
  version: string;
}

export interface InferRequest {
  model_name: string;
  model_version: string;
  id: string;
  inputs: InputTensor[];
  outputs: { name: string; parameters?: Record<string, { int64_param?: number; parameter_choice?: string }> }[];
  raw_input_contents: Buffer[];
}

/** One input's values: numbers, or BYTES elements. */
type Values = { numbers: ArrayLike<number>; bytes?: undefined } | { bytes: Buffer[]; numbers?: undefined };

/** The gRPC status of a failed call: typed HTTP errors keep their meaning, anything else is INTERNAL. */
export function statusOf(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof HttpError) {
    const codes: Record<number, grpc.status> = {
      400: grpc.status.INVALID_ARGUMENT,
      401: grpc.status.UNAUTHENTICATED,
      404: grpc.status.NOT_FOUND,
      413: grpc.status.RESOURCE_EXHAUSTED,
      415: grpc.status.INVALID_ARGUMENT,
      501: grpc.status.UNIMPLEMENTED,
      503: grpc.status.UNAVAILABLE,
      504: grpc.status.DEADLINE_EXCEEDED,
    };
    return { code: codes[err.statusCode] ?? grpc.status.INVALID_ARGUMENT, details: err.message };
  }
  return { code: grpc.status.INTERNAL, details: 'internal server error' };
}

/** BYTES elements of a raw input: each a 4-byte little-endian length, then that many bytes. */
function splitBytes(raw: Buffer, where: string): Buffer[] {
  const items: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    if (at + 4 > raw.length) throw new InvalidInputError(`${where}: truncated BYTES element length`);
    const length = raw.readUInt32LE(at);
    at += 4;
    if (at + length > raw.length) throw new InvalidInputError(`${where}: BYTES element runs past the end`);
    items.push(raw.subarray(at, at + length));
    at += length;
  }
  return items;
}

function lengthPrefix(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(length);
  return b;
}

/** Typed values from little-endian bytes (copied: a gRPC buffer need not be aligned). */
function rawNumbers(raw: Buffer, datatype: string, where: string): ArrayLike<number> {
  const width = { FP32: 4, FP64: 8, INT32: 4, INT64: 8 }[datatype];
  if (width === undefined) throw new InvalidInputError(`${where}: raw contents of ${datatype} are not supported`);
  if (raw.length % width !== 0)
    throw new InvalidInputError(`${where}: ${raw.length} bytes is not a whole number of ${datatype}`);
  const copy = new Uint8Array(raw).buffer;
  if (datatype === 'FP32') return new Float32Array(copy);
  if (datatype === 'FP64') return new Float64Array(copy);
  if (datatype === 'INT32') return new Int32Array(copy);
  return Array.from(new BigInt64Array(copy), Number);
}

function inputValues(t: InputTensor, raw: Buffer | undefined, where: string): Values {
  if (t.datatype === 'BYTES') {
    if (raw) return { bytes: splitBytes(raw, where) };
    return { bytes: t.contents?.bytes_contents ?? [] };
  }
  if (raw) return { numbers: rawNumbers(raw, t.datatype, where) };
  const c = t.contents ?? {};
  const field: Record<string, keyof Contents> = {
    FP32: 'fp32_contents',
    FP64: 'fp64_contents',
    INT8: 'int_contents',
    INT16: 'int_contents',
    INT32: 'int_contents',
    INT64: 'int64_contents',
    UINT8: 'uint_contents',
    UINT16: 'uint_contents',
    UINT32: 'uint_contents',
    UINT64: 'uint64_contents',
  };
  const key = field[t.datatype];
  if (!key) throw new InvalidInputError(`${where}: datatype "${t.datatype}" is not supported`);
  return { numbers: (c[key] as number[] | undefined) ?? [] };
}

function elementCount(shape: number[], where: string): number {
  if (shape.length === 0) throw new InvalidInputError(`${where}: shape is empty`);
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new InvalidInputError(`${where}: shape holds ${d}`);
    n *= d;
  }
  return n;
}

/** The request's inputs as a batch for the served version: a plain tensor, BYTES images, or one tensor per feature. */
async function requestBatch(ctx: ServingContext, served: ServedVersion, req: InferRequest): Promise<Batch> {
  const raw = req.raw_input_contents;
  if (raw.length > 0 && raw.length !== req.inputs.length)
    throw new InvalidInputError(`raw_input_contents holds ${raw.length} entries for ${req.inputs.length} inputs`);
  if (req.inputs.length === 0) throw new InvalidInputError('the request has no inputs');
  const values = req.inputs.map((t, i) => {
    const where = `inputs[${i}] ("${t.name}")`;
    const v = inputValues(t, raw[i], where);
    const expected = elementCount(t.shape, where);
    const got = v.numbers ? v.numbers.length : v.bytes.length;
    if (got !== expected)
      throw new InvalidInputError(`${where}: shape ${JSON.stringify(t.shape)} needs ${expected} values, got ${got}`);
    return v;
  });
  const limits = { maxPixels: ctx.maxImagePixels };
  const input = served.input;
  const sig = served.signature;
  const [first] = values;
  const [tensor] = req.inputs;
  if (input.kind === 'image' && values.length === 1 && first?.bytes) {
    if (first.bytes.length > ctx.maxInstances)
      throw new InvalidInputError(
        `inputs[0] holds ${first.bytes.length} images; at most ${ctx.maxInstances} per request`,
      );
    if (first.bytes.length === 0) throw new InvalidInputError('inputs[0] holds no image');
    return decodeImages(input, first.bytes, sig.exampleSize, limits, (i) => `inputs[0] element ${i}`);
  }
  if (input.kind === 'tabular' && req.inputs.every((t) => input.features.some((f) => f.name === t.name))) {
    const columns: Record<string, unknown> = {};
    req.inputs.forEach((t, i) => {
      const v = values[i];
      columns[t.name] = v?.bytes ? v.bytes.map((b) => b.toString('utf8')) : Array.from(v?.numbers ?? []);
    });
    const batch = await schemaColumns(served, columns, ctx.maxInstances, limits);
    if (batch) return batch;
  }
  // A plain tensor: one numeric input of shape [batch, ...example shape].
  if (values.length !== 1 || !first?.numbers || !tensor)
    throw new InvalidInputError(
      `the model takes one FP32 input "${sig.inputName}" of shape [-1, ${sig.exampleShape.join(', ')}]`,
    );
  const count = tensor.shape[0] ?? 0;
  if (count === 0) throw new InvalidInputError('inputs[0]: the batch is empty');
  if (count > ctx.maxInstances)
    throw new InvalidInputError(`inputs[0] holds ${count} examples; at most ${ctx.maxInstances} per request`);
  if (first.numbers.length !== count * sig.exampleSize)
    throw new InvalidInputError(
      `inputs[0]: shape ${JSON.stringify(tensor.shape)} does not hold ${count} examples of ${sig.exampleSize} values`,
    );
  const batchValues = first.numbers instanceof Float32Array ? first.numbers : Float32Array.from(first.numbers);
  for (let i = 0; i < batchValues.length; i++) {
    if (!Number.isFinite(batchValues[i])) throw new InvalidInputError(`inputs[0]: value ${i} is not a finite float32`);
  }
  return { values: batchValues, count };
}

/** The model a request names and the version it asks for (empty: the latest loaded one). */
export function findModel(
  ctx: ServingContext,
  name: string,
  version: string,
): { model: ServedModel; served: ServedVersion } {
  const model = ctx.models.get(name);
  if (!model) throw new NotFoundError(`Model with name ${name} does not exist.`);
  return { model, served: resolveIn(model, version ? { version } : {}) };
}

export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  contents?: { fp32_contents?: number[]; bytes_contents?: Buffer[] };
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: OutputTensor[];
  raw_output_contents: Buffer[];
}

/** One ModelInferRequest answered. */
export async function modelInfer(ctx: ServingContext, req: InferRequest): Promise<InferResponse> {
  const { model, served } = findModel(ctx, req.model_name, req.model_version);
  const sig = served.signature;
  for (const out of req.outputs) {
    if (out.name !== sig.outputName)
      throw new InvalidInputError(
        `requested output "${out.name}" does not exist; the model's output is "${sig.outputName}"`,
      );
  }
  const batch = await requestBatch(ctx, served, req);
  const out = inTargetUnits(served.output, await predictWithDeadline(ctx, served, batch));
  const raw = req.raw_input_contents.length > 0;
  const classes = req.outputs[0]?.parameters?.classification;
  if (classes) {
    // Triton's classification extension: BYTES "score:index:label", best first.
    const strings = classificationStrings(served.output, out, batch.count, classes.int64_param);
    const bytes = strings.map((t) => Buffer.from(t, 'utf8'));
    const tensor = { name: sig.outputName, datatype: 'BYTES', shape: [batch.count, strings.length / batch.count] };
    return {
      model_name: model.name,
      model_version: String(served.version),
      id: req.id,
      outputs: [raw ? tensor : { ...tensor, contents: { bytes_contents: bytes } }],
      raw_output_contents: raw ? [Buffer.concat(bytes.flatMap((b) => [lengthPrefix(b.length), b]))] : [],
    };
  }
  const tensor = { name: sig.outputName, datatype: 'FP32', shape: [batch.count, sig.outputSize] };
  return {
    model_name: model.name,
    model_version: String(served.version),
    id: req.id,
    outputs: [raw ? tensor : { ...tensor, contents: { fp32_contents: Array.from(out) } }],
    raw_output_contents: raw ? [Buffer.from(out.buffer, out.byteOffset, out.byteLength)] : [],
  };
}
