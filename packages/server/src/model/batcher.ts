/**
 * Micro-batching: requests that arrive while the event loop is busy are coalesced into one
 * `predict` call of up to `maxBatchSize` examples. With `maxWaitMs` 0 (TF Serving's recommended
 * start, batch_timeout_micros 0) a batch closes at the end of the current event-loop turn; a positive
 * value waits that long for company. A single request larger than the batch size runs on its own.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../tensor-input.js';
import { type DensePlan, denseInferencePlan } from './dense-plan.js';

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
  private readonly outputName: string;
  private readonly plan: DensePlan | undefined;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly exampleShape: number[],
    private readonly outputSize: number,
    private readonly options: BatchingOptions,
    private readonly onBatch: (examples: number) => void = () => {},
  ) {
    const [output] = model.outputs;
    if (!output || model.outputs.length !== 1) throw new Error('the model must have exactly one output');
    this.outputName = output.name;
    this.plan = denseInferencePlan(model);
  }

  /** Resolves with `batch.count * outputSize` outputs, row-major. */
  predict(batch: Batch): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      const item = { batch, resolve, reject };
      if (batch.count >= this.options.maxBatchSize) {
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

  /** Runs one model call for all items; tensors are freed on every path. */
  private run(items: Pending[]): void {
    let total = 0;
    for (const item of items) total += item.batch.count;
    const exampleSize = this.exampleShape.reduce((a, b) => a * b, 1);
    let input: Float32Array;
    if (items.length === 1 && items[0]) input = items[0].batch.values;
    else {
      input = new Float32Array(total * exampleSize);
      let offset = 0;
      for (const item of items) {
        input.set(item.batch.values, offset);
        offset += item.batch.values.length;
      }
    }
    let output: Float32Array;
    try {
      const result = tf.tidy(() => {
        const x = tf.tensor(input, [total, ...this.exampleShape], 'float32');
        if (this.plan) return this.plan(x);
        // execute runs the graph once on the whole batch: predict would split it into chunks of 32,
        // and predictOnBatch adds a slice-and-concat pass that costs ~30% at our batch sizes.
        return this.model.execute(x, this.outputName) as tf.Tensor;
      });
      try {
        output = result.dataSync() as Float32Array;
      } finally {
        result.dispose();
      }
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

  /** Rejects whatever is still queued (used when the version is torn down). */
  drain(err: Error): void {
    const items = this.queue;
    this.queue = [];
    this.queuedExamples = 0;
    for (const item of items) item.reject(err);
  }
}
