import * as tf from '@tensorflow/tfjs';
import { BackendError, initBackend, setBlasThreads } from '@tuneserve/runtime';
import { afterEach, describe, expect, it } from 'vitest';

afterEach(() => {
  delete process.env.TUNESERVE_BACKEND;
});

describe('initBackend', () => {
  it('picks wasm without tfjs-node, logs one line saying why, and is idempotent', async () => {
    const lines: string[] = [];
    const info = await initBackend({ log: (l) => lines.push(l) });
    expect(info.name).toBe('wasm');
    expect(info.native).toBe(false);
    expect(info.fixes).toBe(true);
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toHaveLength(1);
    // one XNNPACK thread next to the accelerator; without it, the threaded build with one thread per core
    expect(lines[0]).toMatch(
      info.accelerator === 'openblas'
        ? /^tuneserve runtime: backend=wasm fixes=on accelerator=openblas threads=1 \(/
        : /^tuneserve runtime: backend=wasm fixes=on accelerator=none threads=\d+ \(/,
    );
    expect(lines[0]).toContain('@tensorflow/tfjs-node not installed');
    const again = await initBackend({ log: (l) => lines.push(l) });
    expect(again).toBe(info);
    expect(lines).toHaveLength(1);
  });

  it('TUNESERVE_BACKEND forces a backend over the options', async () => {
    process.env.TUNESERVE_BACKEND = 'cpu';
    const info = await initBackend({ backend: 'wasm', log: false });
    expect(info).toMatchObject({ name: 'cpu', fixes: false, accelerator: 'none' });
    expect(info.reason).toContain('TUNESERVE_BACKEND');
    expect(tf.getBackend()).toBe('cpu');
    delete process.env.TUNESERVE_BACKEND;
    expect((await initBackend({ log: false })).name).toBe('wasm');
  });

  it('rejects unknown backends and missing tfjs-node with a BackendError', async () => {
    process.env.TUNESERVE_BACKEND = 'gpu';
    const err = await Promise.resolve()
      .then(() => initBackend({ log: false }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe(
      'unknown backend "gpu" (from TUNESERVE_BACKEND); expected one of: tensorflow, wasm, cpu',
    );
    delete process.env.TUNESERVE_BACKEND;
    await expect(initBackend({ backend: 'tensorflow', log: false })).rejects.toThrow(/needs @tensorflow\/tfjs-node/);
    // an unknown value passed from untyped callers (CLI flags) is rejected too
    await expect(Promise.resolve().then(() => initBackend({ backend: 'metal' as 'cpu', log: false }))).rejects.toThrow(
      /unknown backend "metal"/,
    );
    expect((await initBackend({ log: false })).name).toBe('wasm');
  });
});

describe('setBlasThreads', () => {
  it('rejects bad counts; a large product gives the same result on 2 threads as on 1', async () => {
    const info = await initBackend({ log: false });
    expect(() => setBlasThreads(0)).toThrow(RangeError);
    expect(() => setBlasThreads(1.5)).toThrow(RangeError);
    const x = tf.randomNormal([32, 13, 13, 32], 0, 1, 'float32', 3);
    const f = tf.randomNormal([3, 3, 32, 64], 0, 1, 'float32', 4);
    try {
      // 32*11*11 x 288 x 64 = 71M multiply-adds: above the addon's threshold for using more than one thread
      expect(setBlasThreads(2)).toBe(info.accelerator === 'openblas');
      const two = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid');
      setBlasThreads(1);
      const one = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid');
      const diff = tf.max(tf.abs(tf.sub(two, one))).dataSync()[0]!;
      expect(diff).toBeLessThanOrEqual(1e-4);
      tf.dispose([two, one]);
    } finally {
      setBlasThreads(1);
      tf.dispose([x, f]);
    }
  });
});
