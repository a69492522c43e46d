/**
 * tfjs-backend-wasm's threaded SIMD build under Node (XNNPACK on a thread pool), which this file's process starts
 * first (vitest runs each file in its own process, and the choice is fixed by a process's first wasm start).
 */
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectMatchesCpu, randomArray, rng } from './compare.js';

describe('pure wasm on the threaded build (2 XNNPACK threads)', () => {
  beforeAll(async () => {
    const info = await initBackend({ accelerator: false, threads: 2, log: false });
    expect(info).toMatchObject({ name: 'wasm', fixes: true, accelerator: 'none', threads: 2 });
    expect(info.reason).toContain('threaded SIMD build, XNNPACK on 2 threads');
    // the heap is shared memory: this really is the threaded module
    const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    expect(backend.wasm.HEAPU8.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('a conv / pool / dense stack: outputs and every gradient match the cpu backend', async () => {
    const r = rng(7);
    const xVals = randomArray(r, 16 * 14 * 14 * 3);
    const f1 = randomArray(r, 3 * 3 * 3 * 16);
    const b1 = randomArray(r, 16);
    const f2 = randomArray(r, 3 * 3 * 16 * 24);
    const b2 = randomArray(r, 24);
    const w = randomArray(r, 2 * 2 * 24 * 10);
    await expectMatchesCpu('conv-pool-conv-pool-dense on 16 images', () => {
      const x = tf.tensor4d(xVals, [16, 14, 14, 3]);
      const params = [
        tf.tensor4d(f1, [3, 3, 3, 16]),
        tf.tensor1d(b1),
        tf.tensor4d(f2, [3, 3, 16, 24]),
        tf.tensor1d(b2),
        tf.tensor2d(w, [96, 10]),
      ];
      const net = (a: tf.Tensor, p: tf.Tensor[]) => {
        const c1 = tf.fused.conv2d({
          x: a as tf.Tensor4D,
          filter: p[0] as tf.Tensor4D,
          bias: p[1],
          strides: 1,
          pad: 'same',
          activation: 'relu',
        });
        const c2 = tf.fused.conv2d({
          x: tf.maxPool(c1, 2, 2, 'valid'),
          filter: p[2] as tf.Tensor4D,
          bias: p[3],
          strides: 1,
          pad: 'valid',
          activation: 'relu',
        });
        return tf.matMul(tf.maxPool(c2, 2, 2, 'valid').reshape([16, 96]), p[4] as tf.Tensor2D);
      };
      const grads = tf.grads((a, ...p) => net(a!, p).square().sum() as tf.Scalar)([x, ...params]);
      return [net(x, params), ...grads];
    });
  });

  it('a script on the threaded build exits by itself (the pool threads do not keep Node alive)', () => {
    const script =
      "const tf = await import('@tensorflow/tfjs'); const { initBackend } = await import('@tuneserve/runtime');" +
      'const info = await initBackend({ log: false });' +
      "console.log(info.threads, tf.conv2d(tf.ones([8, 9, 9, 4]), tf.ones([3, 3, 4, 8]), 1, 'valid').dataSync()[0]);";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: import.meta.dirname,
      env: { ...process.env, TUNESERVE_ACCELERATOR: '0', TUNESERVE_WASM_THREADS: '2' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.trim()).toBe('2 36');
  });

  it('refuses a thread count that is not a whole number >= 1', () => {
    const script = "const { initBackend } = await import('@tuneserve/runtime'); await initBackend({ log: false });";
    for (const bad of ['0', 'two', '1.5']) {
      expect(() =>
        execFileSync(process.execPath, ['--input-type=module', '-e', script], {
          cwd: import.meta.dirname,
          env: { ...process.env, TUNESERVE_WASM_THREADS: bad },
          encoding: 'utf8',
          stdio: 'pipe',
        }),
      ).toThrow(`TUNESERVE_WASM_THREADS must be a whole number >= 1, got "${bad}"`);
    }
  });
});
