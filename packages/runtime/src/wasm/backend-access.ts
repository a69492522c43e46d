/**
 * Typed access to the internals of the TF.js wasm backend that replacement kernels need: tensor memory offsets on the
 * wasm heap, output allocation and reference counts. Heap views must be taken after every allocation in a kernel,
 * because malloc may grow the wasm memory and detach views taken earlier.
 */
import type * as tf from '@tensorflow/tfjs';

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}

export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Arguments every kernel function receives. */
export interface KernelArgs {
  inputs: Record<string, tf.TensorInfo | undefined>;
  backend: WasmBackend;
  attrs?: Record<string, unknown>;
}

export type Kernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

export function asWasm(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Byte offset of a tensor's data on the wasm heap. */
export function offsetOf(backend: WasmBackend, t: tf.TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('tensor data is not on the wasm backend');
  return data.memoryOffset;
}

export function f32(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Runs `body` and frees the temporary buffers it registered, even when it throws. */
export function withTemps<T>(backend: WasmBackend, body: (temp: (t: tf.TensorInfo) => tf.TensorInfo) => T): T {
  const temps: tf.TensorInfo[] = [];
  try {
    return body((t) => {
      temps.push(t);
      return t;
    });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}
