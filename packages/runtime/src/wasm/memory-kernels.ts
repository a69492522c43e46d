/** Kernels whose stock wasm versions copy far more memory than needed: GatherV2, Slice and Identity. */
import * as tf from '@tensorflow/tfjs';
import { BYTES, type Kernel, type KernelArgs, offsetOf, sizeOf } from './backend-access.js';

type Fallback = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** Identity shares the input's buffer (as Reshape and the cpu backend do) instead of copying it. */
export function identityKernel(stock: Fallback): Kernel {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype === 'string') return stock(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** Cast to the tensor's own dtype shares the buffer (every relu gradient casts a float mask to float32). */
export function castKernel(stock: Fallback): Kernel {
  return (args) => {
    const x = args.inputs.x!;
    if (x.dtype === 'string' || args.attrs?.dtype !== x.dtype) return stock(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/**
 * GatherV2 with batchDims 0 copies whole rows on the heap (model.fit gathers every shuffled batch this way);
 * the stock kernel walks every element through a generic strided loop.
 */
export function gatherKernel(stock: Fallback): Kernel {
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const batchDims = Number(args.attrs?.batchDims ?? 0);
    const bytes = BYTES[x.dtype];
    if (batchDims !== 0 || bytes === undefined || indices.dtype !== 'int32') return stock(args);
    const { backend } = args;
    let axis = Number(args.attrs?.axis ?? 0);
    if (axis < 0) axis += x.shape.length;
    const axisSize = x.shape[axis]!;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1)) * bytes;
    const count = sizeOf(indices.shape);
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = backend.makeOutput(outShape, x.dtype);
    if (count === 0 || inner === 0) return out;
    const heap = backend.wasm.HEAPU8; // after makeOutput: allocation may have grown the memory
    const idx = new Int32Array(heap.buffer, offsetOf(backend, indices), count);
    const xBase = offsetOf(backend, x);
    let dst = offsetOf(backend, out);
    if (inner <= 64 && inner % 4 === 0) {
      // short rows (a batch's labels): element copies beat a copyWithin call per row
      const words = new Int32Array(heap.buffer);
      const w = inner / 4;
      for (let o = 0; o < outer; o++) {
        const rowBase = (xBase >> 2) + o * axisSize * w;
        for (let i = 0; i < count; i++) {
          const j = idx[i]!;
          if (j < 0 || j >= axisSize) {
            backend.disposeData(out.dataId);
            throw new Error(`GatherV2: the index value ${j} is not in [0, ${axisSize - 1}]`);
          }
          const src = rowBase + j * w;
          for (let e = 0; e < w; e++) words[(dst >> 2) + e] = words[src + e]!;
          dst += inner;
        }
      }
      return out;
    }
    for (let o = 0; o < outer; o++) {
      const rowBase = xBase + o * axisSize * inner;
      for (let i = 0; i < count; i++) {
        const j = idx[i]!;
        if (j < 0 || j >= axisSize) {
          backend.disposeData(out.dataId);
          throw new Error(`GatherV2: the index value ${j} is not in [0, ${axisSize - 1}]`);
        }
        const src = rowBase + j * inner;
        heap.copyWithin(dst, src, src + inner);
        dst += inner;
      }
    }
    return out;
  };
}

/** Slice reads the source through a heap view and copies only the selected region (stock copies the whole source). */
export function sliceKernel(stock: Fallback): Kernel {
  return (args) => {
    const x = args.inputs.x!;
    const bytes = BYTES[x.dtype];
    if (bytes === undefined || x.shape.length === 0) return stock(args);
    const { backend } = args;
    const [begin, size] = tf.slice_util.parseSliceParams(
      x as tf.Tensor,
      args.attrs?.begin as number | number[],
      args.attrs?.size as number | number[] | undefined,
    ) as [number[], number[]];
    const out = backend.makeOutput(size, x.dtype);
    if (sizeOf(size) === 0) return out;
    const heap = backend.wasm.HEAPU8;
    const strides = [...tf.util.computeStrides(x.shape), 1].map((s) => s * bytes);
    const rank = x.shape.length;
    // Collapse the trailing dimensions that are copied whole into one contiguous run.
    let runDim = rank - 1;
    while (runDim > 0 && begin[runDim] === 0 && size[runDim] === x.shape[runDim]) runDim--;
    const run = sizeOf(size.slice(runDim)) * bytes;
    let dst = offsetOf(backend, out);
    const copy = (dim: number, src: number): void => {
      if (dim === runDim) {
        const from = src + begin[dim]! * strides[dim]!;
        heap.copyWithin(dst, from, from + run);
        dst += run;
        return;
      }
      for (let i = 0; i < size[dim]!; i++) copy(dim + 1, src + (begin[dim]! + i) * strides[dim]!);
    };
    copy(0, offsetOf(backend, x));
    return out;
  };
}

/** UnsortedSegmentSum (the gradient of gather, e.g. for Embedding layers), which the wasm backend lacks. */
export const unsortedSegmentSumKernel: Kernel = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = Number(attrs?.numSegments);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum: unsupported dtype ${x.dtype}`);
  const ids = segmentIds.shape.length;
  const inner = sizeOf(x.shape.slice(ids));
  const count = sizeOf(segmentIds.shape);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(ids)], x.dtype);
  const o = backend.typedArrayFromHeap(out);
  const xv = backend.typedArrayFromHeap(x);
  const sv = backend.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < count; i++) {
    const s = sv[i]!;
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range segment ids
    const dst = s * inner;
    const src = i * inner;
    for (let j = 0; j < inner; j++) o[dst + j]! += xv[src + j]!;
  }
  return out;
};
