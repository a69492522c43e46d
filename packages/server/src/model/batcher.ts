/**
 * Micro-batching: requests that arrive while the event loop is busy are coalesced into one
 * `predict` call of up to `maxBatchSize` examples. With `maxWaitMs` 0 (TF Serving's recommended
 * start, batch_timeout_micros 0) a batch closes at the end of the current event-loop turn; a positive
 * value waits that long for company. A single request of the batch size or more runs on its own, in model calls of at
 * most the batch size, one per event-loop turn, so health probes and other requests are answered in between.
 */

import type { Inference } from '@tuneserve/runtime';
import type { Batch } from '../tensor-input.js';

export interface BatchingOptions {
  maxBatchSize: number;
  maxWaitMs: number;
}

interface Pending {
  batch: Batch;
  resolve: (out: Float32Array) => void;
  reject: (err: unknown) => void;
}

export class Batcher {
  private queue: Pending[] = [];
  private queuedExamples = 0;
  private scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined;
  constructor(
    private readonly infer: Inference,
    private readonly outputSize: number,
    private readonly options: BatchingOptions,
    private readonly onBatch: (examples: number) => void = () => {},
  ) {}

  /** Resolves with `batch.count * outputSize` outputs, row-major. */
  predict(batch: Batch): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      const item = { batch, resolve, reject };
      if (batch.count > this.options.maxBatchSize) {
        this.runInSlices(batch, resolve, reject);
        return;
      }
      if (batch.count === this.options.maxBatchSize) {
        this.run([item]);
        return;
      }
      if (this.queuedExamples + batch.count > this.options.maxBatchSize) this.flush();
      this.queue.push(item);
      this.queuedExamples += batch.count;
      if (this.queuedExamples >= this.options.maxBatchSize) this.flush();
      else this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    const go = () => {
      this.scheduled = undefined;
      this.flush();
    };
    this.scheduled = this.options.maxWaitMs > 0 ? setTimeout(go, this.options.maxWaitMs) : setImmediate(go);
  }

  private flush(): void {
    if (this.scheduled) {
      if (this.options.maxWaitMs > 0) clearTimeout(this.scheduled as NodeJS.Timeout);
      else clearImmediate(this.scheduled as NodeJS.Immediate);
      this.scheduled = undefined;
    }
    const items = this.queue;
    this.queue = [];
    this.queuedExamples = 0;
    if (items.length > 0) this.run(items);
  }

  /** Runs one model call for all items (the inference frees its tensors on every path). */
  private run(items: Pending[]): void {
    let total = 0;
    const parts: Float32Array[] = [];
    for (const item of items) {
      total += item.batch.count;
      parts.push(item.batch.values);
    }
    let output: Float32Array;
    try {
      output = this.infer(parts, total);
    } catch (err) {
      for (const item of items) item.reject(err);
      return;
    }
    this.onBatch(total);
    let offset = 0;
    for (const item of items) {
      const size = item.batch.count * this.outputSize;
      item.resolve(output.subarray(offset, offset + size));
      offset += size;
    }
  }

  /**
   * A request larger than a batch: one model call per slice of at most maxBatchSize examples, the next slice after
   * the event loop has served the I/O that arrived meanwhile (setImmediate runs after the poll phase).
   */
  private runInSlices(batch: Batch, resolve: (out: Float32Array) => void, reject: (err: unknown) => void): void {
    const exampleSize = batch.values.length / batch.count;
    const output = new Float32Array(batch.count * this.outputSize);
    let done = 0;
    const next = () => {
      const rows = Math.min(this.options.maxBatchSize, batch.count - done);
      try {
        const part = this.infer([batch.values.subarray(done * exampleSize, (done + rows) * exampleSize)], rows);
        output.set(part.subarray(0, rows * this.outputSize), done * this.outputSize);
      } catch (err) {
        reject(err);
        return;
      }
      this.onBatch(rows);
      done += rows;
      if (done < batch.count) setImmediate(next);
      else resolve(output);
    };
    next();
  }

  /** Rejects whatever is still queued (used when the version is torn down). */
  drain(err: Error): void {
    const items = this.queue;
    this.queue = [];
    this.queuedExamples = 0;
    for (const item of items) item.reject(err);
  }
}
