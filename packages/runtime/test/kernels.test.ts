import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@tuneserve/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasSystem } from '../../../test-support/system.js';
import { ADDON_PATH, loadAccelerator, setBlasThreads } from '../src/native/accelerator.js';
import { wasmFixesState } from '../src/wasm/fixes.js';
import { expectMatchesCpu, randInt, randomArray, rng } from './compare.js';

// When OpenBLAS was installed after `npm ci` (so the install script could not build the addon), build it now.
if (hasSystem('openblas') && !existsSync(ADDON_PATH)) {
  execFileSync(process.execPath, [fileURLToPath(new URL('../native/build.mjs', import.meta.url))], {
    stdio: 'inherit',
  });
}

/** Both kernel paths: pure wasm everywhere, OpenBLAS where the system has it (CI installs it). */
const modes = [
  { name: 'pure wasm', accelerator: false, enabled: true },
  { name: 'OpenBLAS accelerator', accelerator: true, enabled: hasSystem('openblas') },
];

for (const mode of modes) {
  describe.skipIf(!mode.enabled)(`wasm kernels (${mode.name}) match the cpu backend`, () => {
    beforeAll(async () => {
      const info = await initBackend({ accelerator: mode.accelerator, log: false });
      expect(info.name).toBe('wasm');
      if (mode.accelerator) {
        // With OpenBLAS on the system the addon must have been built and loaded; otherwise this path is untested.
        expect(loadAccelerator().reason).toMatch(/^OpenBLAS addon loaded/);
        expect(info.accelerator).toBe('openblas');
      } else {
        expect(info.accelerator).toBe('none');
      }
      expect(wasmFixesState()).toEqual({ on: true, accelerated: mode.accelerator });
    });

    it('matMul: random shapes, transposes and batch broadcasts, values and gradients', async () => {
      const r = rng(mode.accelerator ? 11 : 12);
      for (let trial = 0; trial < 24; trial++) {
        const [m, n, k] = [randInt(r, 1, 70), randInt(r, 1, 70), randInt(r, 1, 90)];
        const transA = trial % 2 === 1;
        const transB = (trial >> 1) % 2 === 1;
        const batchA = [[], [3], [1], [2, 3]][trial % 4]!;
        const batchB = batchA.length === 2 ? [2, 3] : trial % 3 === 0 ? [] : batchA.length ? [3] : [];
        const aShape = [...batchA, ...(transA ? [k, m] : [m, k])];
        const bShape = [...batchB, ...(transB ? [n, k] : [k, n])];
        const aVals = randomArray(
          r,
          aShape.reduce((x, y) => x * y, 1),
        );
        const bVals = randomArray(
          r,
          bShape.reduce((x, y) => x * y, 1),
        );
        await expectMatchesCpu(`matMul ${aShape}x${bShape} tA=${transA} tB=${transB}`, () => {
          const a = tf.tensor(aVals, aShape);
          const b = tf.tensor(bVals, bShape);
          const y = tf.matMul(a, b, transA, transB);
          // TF.js's own BatchMatMul gradient does not reduce broadcast batch dims, so only same-batch cases get grads
          if (batchA.join() !== batchB.join()) return [y];
          const f = (x: tf.Tensor, z: tf.Tensor) => tf.matMul(x, z, transA, transB).square().sum() as tf.Scalar;
          const [ga, gb] = tf.grads(f)([a, b]);
          return [y, ga!, gb!];
        });
      }
    });

    it('fused matMul (Dense forward) with bias and relu/linear, and its gradients', async () => {
      const r = rng(21);
      for (let trial = 0; trial < 8; trial++) {
        const [m, n, k] = [randInt(r, 1, 130), randInt(r, 1, 65), randInt(r, 1, 100)];
        const transB = trial % 3 === 2;
        const activation = trial % 2 === 0 ? 'relu' : 'linear';
        const aVals = randomArray(r, m * k);
        const bVals = randomArray(r, k * n);
        const biasVals = randomArray(r, n);
        await expectMatchesCpu(`fused ${m}x${k}x${n} ${activation}`, () => {
          const a = tf.tensor2d(aVals, [m, k]);
          const b = tf.tensor2d(bVals, transB ? [n, k] : [k, n]);
          const bias = tf.tensor1d(biasVals);
          const f = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
            tf.fused
              .matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, transposeB: transB, bias: c, activation })
              .square()
              .sum() as tf.Scalar;
          const grads = tf.grads(f)([a, b, bias]);
          const y = tf.fused.matMul({ a, b, transposeB: transB, bias, activation });
          return [y, ...grads];
        });
      }
    });

    it('gather (and its UnsortedSegmentSum gradient): any axis, int32 and float32; bad indices are an error', async () => {
      const r = rng(31);
      for (let trial = 0; trial < 10; trial++) {
        const rank = randInt(r, 1, 3);
        const shape = Array.from({ length: rank }, () => randInt(r, 1, 9));
        const axis = randInt(r, 0, rank - 1);
        const idx = Array.from({ length: randInt(r, 0, 12) }, () => randInt(r, 0, shape[axis]! - 1));
        const vals = randomArray(
          r,
          shape.reduce((x, y) => x * y, 1),
        );
        await expectMatchesCpu(`gather ${shape} axis ${axis}`, () => {
          const x = tf.tensor(vals, shape);
          const i = tf.tensor1d(idx, 'int32');
          const g = tf.grad((t: tf.Tensor) => tf.gather(t, i, axis).square().sum())(x);
          return [tf.gather(x, i, axis), tf.gather(x.toInt(), i, axis).toFloat(), g];
        });
      }
      await tf.setBackend('wasm');
      const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
      expect(() => tf.gather(x, tf.tensor1d([0, 2], 'int32')).dataSync()).toThrow(/index value 2 is not in \[0, 1\]/);
      x.dispose();
    });

    it('slice: random ranks, begins and sizes read only the selected region', async () => {
      const r = rng(41);
      for (let trial = 0; trial < 16; trial++) {
        const rank = randInt(r, 1, 5);
        const shape = Array.from({ length: rank }, () => randInt(r, 1, 7));
        const begin = shape.map((d) => randInt(r, 0, d - 1));
        const size = shape.map((d, i) => (r() < 0.3 ? -1 : randInt(r, 0, d - begin[i]!)));
        const vals = randomArray(
          r,
          shape.reduce((x, y) => x * y, 1),
        );
        await expectMatchesCpu(`slice ${shape} begin ${begin} size ${size}`, () => {
          const x = tf.tensor(vals, shape);
          const g = tf.grad((t: tf.Tensor) => tf.slice(t, begin, size).square().sum())(x);
          return [tf.slice(x, begin, size), tf.slice(x.toInt(), begin, size).toFloat(), g];
        });
      }
    });

    it('sum over leading, trailing and other axes, with and without keepDims', async () => {
      const r = rng(61);
      for (let trial = 0; trial < 12; trial++) {
        const rank = randInt(r, 1, 4);
        const shape = Array.from({ length: rank }, () => randInt(r, 1, 9));
        const axes = [...Array(rank).keys()].filter(() => r() < 0.5);
        const keepDims = trial % 2 === 0;
        const vals = randomArray(
          r,
          shape.reduce((x, y) => x * y, 1),
        );
        await expectMatchesCpu(`sum ${shape} axes ${axes} keepDims ${keepDims}`, () => {
          const x = tf.tensor(vals, shape);
          return [tf.sum(x, axes, keepDims), tf.sum(x), tf.sum(x, -1, keepDims)];
        });
      }
    });

    it('identity shares the buffer yet stays valid after the source is disposed', async () => {
      await tf.setBackend('wasm');
      const buffers = () => tf.backend().numDataIds();
      const before = buffers();
      const x = tf.tensor1d([1, 2, 3]);
      const y = x.clone(); // runs the Identity kernel
      expect(buffers() - before).toBe(1); // one shared buffer, not a copy
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
      y.dispose();
      expect(buffers()).toBe(before);
    });

    it('conv2d gradients (filter and input) and maxPool gradient: strides, same/valid padding', async () => {
      const r = rng(51);
      for (let trial = 0; trial < 12; trial++) {
        const batch = randInt(r, 1, 3);
        const [h, w] = [randInt(r, 3, 12), randInt(r, 3, 12)];
        const ci = randInt(r, 1, 5);
        const co = randInt(r, 1, 6);
        const [fh, fw] = [randInt(r, 1, Math.min(3, h)), randInt(r, 1, Math.min(5, w))];
        const strides: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 3)];
        const pad = trial % 2 === 0 ? 'same' : 'valid';
        const xVals = randomArray(r, batch * h * w * ci);
        const fVals = randomArray(r, fh * fw * ci * co);
        await expectMatchesCpu(
          `conv2d x[${batch},${h},${w},${ci}] f[${fh},${fw},${ci},${co}] s${strides} ${pad}`,
          () => {
            const x = tf.tensor4d(xVals, [batch, h, w, ci]);
            const f = tf.tensor4d(fVals, [fh, fw, ci, co]);
            const loss = (a: tf.Tensor, b: tf.Tensor) => {
              const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad);
              // no relu before the pool: windows of all-negative values must route gradients correctly too
              const pooled = y.shape[1]! >= 2 && y.shape[2]! >= 2 ? tf.maxPool(y, [2, 2], [2, 1], pad) : y;
              return pooled.square().sum() as tf.Scalar;
            };
            const [gx, gf] = tf.grads(loss)([x, f]);
            return [tf.conv2d(x, f, strides, pad), gx!, gf!];
          },
        );
      }
    });

    it('conv2d gradients with 8+ input channels at stride 1 (the filter gradient as a convolution on pure wasm)', async () => {
      const r = rng(61);
      const cases: [number, number, number, number, number, number, 'same' | 'valid'][] = [
        // batch, h, w, ci, fh, fw, padding: odd and even kernels, so 'same' pads asymmetrically too
        [2, 9, 7, 8, 3, 3, 'valid'],
        [3, 8, 8, 12, 3, 3, 'same'],
        [1, 10, 6, 9, 2, 4, 'same'],
        [2, 7, 9, 16, 5, 1, 'valid'],
      ];
      for (const [batch, h, w, ci, fh, fw, pad] of cases) {
        const co = randInt(r, 2, 7);
        const xVals = randomArray(r, batch * h * w * ci);
        const fVals = randomArray(r, fh * fw * ci * co);
        await expectMatchesCpu(`conv2d x[${batch},${h},${w},${ci}] f[${fh},${fw},${ci},${co}] ${pad}`, () => {
          const x = tf.tensor4d(xVals, [batch, h, w, ci]);
          const f = tf.tensor4d(fVals, [fh, fw, ci, co]);
          const [gx, gf] = tf.grads(
            (a: tf.Tensor, b: tf.Tensor) =>
              tf
                .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, pad)
                .square()
                .sum() as tf.Scalar,
          )([x, f]);
          return [tf.conv2d(x, f, 1, pad), gx!, gf!];
        });
      }
    });

    it('fused conv2d (Keras Conv2D): bias and relu/linear in one kernel, values and gradients of x, filter, bias', async () => {
      const r = rng(71);
      const cases: [number[], number[], number | [number, number], 'same' | 'valid', 'relu' | 'linear'][] = [
        [[2, 9, 8, 3], [3, 3, 3, 5], 1, 'valid', 'relu'],
        [[3, 7, 7, 10], [2, 2, 10, 4], 1, 'same', 'relu'],
        [[2, 8, 9, 2], [3, 2, 2, 6], [2, 1], 'same', 'linear'],
        // > 1M output floats: the relu and bias gradients' one pass splits its rows across threads
        [[1, 66, 66, 1], [3, 3, 1, 256], 1, 'valid', 'relu'],
      ];
      if (mode.accelerator) setBlasThreads(2);
      // the one kernel really runs (TF.js's own fused conv2d runs Conv2D, Add and Relu while recording)
      const probe = await tf.profile(() =>
        tf.fused.conv2d({
          x: tf.ones([1, 4, 4, 1]) as tf.Tensor4D,
          filter: tf.ones([2, 2, 1, 2]),
          bias: tf.ones([2]),
          strides: 1,
          pad: 'valid',
          activation: 'relu',
        }),
      );
      expect(probe.kernelNames).toEqual(['TuneserveConv2DBiasAct']);
      for (const [xs, fs, strides, pad, activation] of cases) {
        const xVals = randomArray(
          r,
          xs.reduce((a, b) => a * b, 1),
        );
        const fVals = randomArray(
          r,
          fs.reduce((a, b) => a * b, 1),
        );
        const bVals = randomArray(r, fs[3]!);
        await expectMatchesCpu(`fused conv2d x[${xs}] f[${fs}] s${strides} ${pad} ${activation}`, () => {
          const x = tf.tensor4d(xVals, xs as [number, number, number, number]);
          const f = tf.tensor4d(fVals, fs as [number, number, number, number]);
          const b = tf.tensor1d(bVals);
          const layer = (a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
            tf.fused.conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, bias, strides, pad, activation });
          const [gx, gf, gb] = tf.grads((a, w, bias) => layer(a!, w!, bias!).square().sum() as tf.Scalar)([x, f, b]);
          return [layer(x, f, b), gx!, gf!, gb!];
        });
      }
      if (mode.accelerator) setBlasThreads(1);
      {
        // the relu and bias gradients are one kernel (no separate relu gradient and Sum), in C or in JS
        const backward = await tf.profile(() =>
          tf.grads((a, w, bias) =>
            tf.fused
              .conv2d({
                x: a as tf.Tensor4D,
                filter: w as tf.Tensor4D,
                bias,
                strides: 1,
                pad: 'valid',
                activation: 'relu',
              })
              .sum(),
          )([tf.ones([1, 4, 4, 1]), tf.ones([2, 2, 1, 2]), tf.ones([2])]),
        );
        expect(backward.kernelNames).toContain('TuneserveReluGradSum');
        expect(backward.kernelNames).not.toContain('TuneserveReluGrad');
      }
    });

    it('MaxPoolGrad on its own (no argmax recorded by a forward pass): windows searched again', async () => {
      const r = rng(91);
      for (let trial = 0; trial < 6; trial++) {
        const [n, h, w, c] = [randInt(r, 1, 3), randInt(r, 2, 9), randInt(r, 2, 9), randInt(r, 1, 5)];
        const size: [number, number] = [randInt(r, 1, 3), randInt(r, 1, 3)];
        const strides: [number, number] = [randInt(r, 1, 2), randInt(r, 1, 2)];
        const pad = trial % 2 === 0 ? 'same' : 'valid';
        if (pad === 'valid' && (size[0] > h || size[1] > w)) continue;
        const xVals = randomArray(r, n * h * w * c);
        await expectMatchesCpu(`maxPoolGrad x[${n},${h},${w},${c}] pool ${size} s${strides} ${pad}`, () => {
          const x = tf.tensor4d(xVals, [n, h, w, c]);
          const y = tf.maxPool(x, size, strides, pad); // inference: nothing recorded
          const dy = tf.onesLike(y).mul(tf.range(1, y.size + 1).reshape(y.shape));
          const dx = tf
            .engine()
            .runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: size, strides, pad }) as tf.Tensor;
          return [y, dx];
        });
      }
    });

    it('maxPool gradient with windows that do not overlap (stride = pool size): ties, all-negative and partial windows', async () => {
      const r = rng(97);
      const cases: [number[], [number, number], 'same' | 'valid'][] = [
        [[2, 8, 8, 3], [2, 2], 'valid'],
        [[1, 7, 9, 4], [2, 2], 'same'], // odd sizes: partial windows at the bottom and right edges
        [[2, 9, 6, 2], [3, 3], 'valid'],
        [[1, 5, 7, 5], [3, 2], 'same'],
        [[3, 11, 11, 8], [2, 2], 'valid'], // the last row and column belong to no window
      ];
      for (const [shape, size, pad] of cases) {
        const [n, h, w, c] = shape as [number, number, number, number];
        // few distinct values, so windows hold ties (the first maximum gets the gradient, as on cpu); some all negative
        const xVals = Float32Array.from({ length: n * h * w * c }, () => Math.round(r() * 6 - 4) / 2);
        await expectMatchesCpu(`maxPool grad x[${shape}] pool ${size} ${pad}`, () => {
          const x = tf.tensor4d(xVals, [n, h, w, c]);
          const weights = tf
            .range(1, 1 + tf.maxPool(x, size, size, pad).size)
            .reshape(tf.maxPool(x, size, size, pad).shape);
          const f = (a: tf.Tensor) =>
            tf
              .maxPool(a as tf.Tensor4D, size, size, pad)
              .mul(weights)
              .sum() as tf.Scalar;
          return [tf.maxPool(x, size, size, pad), tf.grad(f)(x)];
        });
      }
    });

    it('dropout (Keras Dropout in training): a heap-drawn mask of 0 or 1/keep at the right rate, its gradient is the mask', async () => {
      const x = tf.randomUniform([64, 1000], 0.5, 1.5, 'float32', 3);
      const layer = (rate: number, seed?: number) =>
        tf.layers.dropout({ rate, ...(seed === undefined ? {} : { seed }) });
      const train = (l: tf.layers.Layer, v: tf.Tensor) => l.apply(v, { training: true }) as tf.Tensor;
      const profile = await tf.profile(() => train(layer(0.3), x));
      expect(profile.kernelNames).toContain('TuneserveDropoutMask');
      expect(profile.kernelNames).not.toContain('Floor');
      const seeded = (seed: number) => tf.tidy(() => train(layer(0.3, seed), x).dataSync());
      const a = seeded(17);
      expect(Array.from(seeded(17)), 'a fixed seed repeats its mask').toEqual(Array.from(a));
      expect(Array.from(seeded(18))).not.toEqual(Array.from(a));
      if (mode.accelerator) {
        // the addon draws the same stream as the JavaScript loop
        await initBackend({ accelerator: false, log: false });
        expect(Array.from(seeded(17)), 'same mask without the addon').toEqual(Array.from(a));
        await initBackend({ accelerator: true, log: false });
      }
      const xs = x.dataSync();
      let kept = 0;
      for (let i = 0; i < a.length; i++) {
        if (a[i] === 0) continue;
        kept++;
        expect(Math.abs(a[i]! - xs[i]! / 0.7)).toBeLessThan(1e-5);
      }
      // 64,000 Bernoulli(0.7) draws: the standard deviation of the kept fraction is ~0.0018
      expect(Math.abs(kept / a.length - 0.7)).toBeLessThan(0.01);
      const unseeded = layer(0.5);
      const twice = tf.tidy(() => [train(unseeded, x).dataSync(), train(unseeded, x).dataSync()]);
      expect(Array.from(twice[0]!), 'a new mask every call').not.toEqual(Array.from(twice[1]!));
      // the gradient of sum(dropout(x)) is the mask itself
      const fixed = layer(0.4, 5);
      const [y, g] = tf.tidy(() => {
        const dx = tf.grad((v: tf.Tensor) => train(fixed, v).sum())(x);
        return [train(fixed, x).dataSync(), dx.dataSync()];
      });
      for (let i = 0; i < y!.length; i++) {
        expect(Math.abs(g![i]! - (y![i] === 0 ? 0 : 1 / 0.6))).toBeLessThan(1e-5);
      }
      // noise shapes other than the input's go to TF.js's own dropout (and still broadcast)
      const spatial = tf.layers.dropout({ rate: 0.5, noiseShape: [4, 1], seed: 2 });
      const broadcast = tf.tidy(() => train(spatial, tf.ones([4, 50])).arraySync() as number[][]);
      for (const row of broadcast) expect(new Set(row).size).toBe(1);
      x.dispose();
    });

    it('a conv layer large enough for the threaded paths: bias add, relu gradient, argmax max-pool', async () => {
      // 37.7M multiply-adds and > 1M-float tensors: above the addon's thresholds for splitting work across threads
      if (mode.accelerator) setBlasThreads(2);
      const r = rng(77);
      const xVals = randomArray(r, 8 * 66 * 66 * 4);
      const fVals = randomArray(r, 3 * 3 * 4 * 32);
      const bVals = randomArray(r, 32);
      try {
        await expectMatchesCpu('conv+bias+relu+maxPool x[8,66,66,4] f[3,3,4,32]', () => {
          const x = tf.tensor4d(xVals, [8, 66, 66, 4]);
          const f = tf.tensor4d(fVals, [3, 3, 4, 32]);
          const b = tf.tensor1d(bVals);
          const layer = (a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
            tf.maxPool(
              tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'), bias)) as tf.Tensor4D,
              2,
              2,
              'valid',
            );
          const [gx, gf, gb] = tf.grads((a, w, bias) => layer(a!, w!, bias!).square().sum() as tf.Scalar)([x, f, b]);
          // inference (no argmax recorded) and a broadcast the bias kernel must leave to the stock Add
          const rowPlusColumn = tf.add(tf.ones([3, 1]), tf.range(0, 4).reshape([1, 4]));
          return [layer(x, f, b), gx!, gf!, gb!, rowPlusColumn];
        });
      } finally {
        if (mode.accelerator) setBlasThreads(1);
      }
    });

    it('Keras Dense in training (one kernel with OpenBLAS): values and gradients of the input, kernel and bias', async () => {
      const r = rng(41);
      const cases: [string, boolean][] = [
        ['relu', true],
        ['linear', true],
        ['softmax', true],
        ['sigmoid', true],
        ['relu', false],
        ['elu', true], // TF.js fuses ELU itself: the stock call
      ];
      for (const [trial, [activation, useBias]] of cases.entries()) {
        const [m, k, n] = [randInt(r, 1, 40), randInt(r, 1, 50), randInt(r, 2, 20)];
        const xVals = randomArray(r, m * k);
        const wVals = randomArray(r, k * n);
        const bVals = randomArray(r, n);
        const gVals = randomArray(r, m * n);
        await expectMatchesCpu(`Dense ${m}x${k}x${n} ${activation} bias ${useBias} (${trial})`, () => {
          const layer = tf.layers.dense({ units: n, activation: activation as 'relu', useBias, inputShape: [k] });
          layer.build([null, k]);
          layer.setWeights(useBias ? [tf.tensor2d(wVals, [k, n]), tf.tensor1d(bVals)] : [tf.tensor2d(wVals, [k, n])]);
          const x = tf.tensor2d(xVals, [m, k]);
          const g = tf.tensor2d(gVals, [m, n]);
          const loss = (input: tf.Tensor) => (layer.apply(input) as tf.Tensor).mul(g).sum() as tf.Scalar;
          const { grads } = tf.variableGrads(() => loss(x));
          const dx = tf.grad(loss)(x);
          const outs = [layer.apply(x) as tf.Tensor, dx, ...layer.trainableWeights.map((v) => grads[v.name]!)];
          for (const weight of layer.weights) weight.dispose();
          return outs;
        });
      }
      if (!mode.accelerator) return;
      const layer = tf.layers.dense({ units: 8, activation: 'relu', inputShape: [6] });
      layer.build([null, 6]);
      const x = tf.randomNormal([5, 6]);
      const profile = await tf.profile(() => tf.variableGrads(() => (layer.apply(x) as tf.Tensor).sum() as tf.Scalar));
      const names = profile.kernels.map((kernel) => kernel.name);
      expect(names).toContain('TuneserveDense');
      expect(names).toContain('TuneserveReluGradSum');
      expect(names).not.toContain('Relu');
      expect(names).not.toContain('Add');
      expect(names).not.toContain('Identity'); // saved tensors share their buffers without a kernel
      for (const weight of layer.weights) weight.dispose();
      x.dispose();
    });

    it("the gradient of a mean over every element (Keras's total loss) is one kernel; other means stay stock", async () => {
      const r = rng(43);
      const vals = randomArray(r, 3 * 5 * 7);
      const wVals = randomArray(r, 3 * 5 * 7);
      await expectMatchesCpu('mean gradients', () => {
        const x = tf.tensor3d(vals, [3, 5, 7]);
        const w = tf.tensor3d(wVals, [3, 5, 7]);
        return [
          tf.grad((v: tf.Tensor) => tf.mean(v).mul(3.7))(x),
          tf.grad((v: tf.Tensor) => tf.mean(v.mul(w)))(x),
          tf.grad((v: tf.Tensor) =>
            tf
              .mean(v, 1)
              .mul(w.slice([0, 0, 0], [3, 1, 7]).reshape([3, 7]))
              .sum(),
          )(x),
          tf.grad((v: tf.Tensor) => tf.mean(v, [0, 2], true).sum())(x),
          tf.grad((v: tf.Tensor) => tf.mean(v))(tf.tensor1d(vals.subarray(0, 128))),
        ];
      });
      await tf.setBackend('wasm');
      const x = tf.tensor2d(vals, [15, 7]);
      const profile = await tf.profile(() => tf.grad((v: tf.Tensor) => tf.mean(v))(x));
      const names = profile.kernels.map((kernel) => kernel.name);
      expect(names).toContain('TuneserveMeanAllGrad');
      expect(names).not.toContain('RealDiv');
      x.dispose();
    });

    it('tensor1d of a plain number array (the per-epoch shuffled indices of fit): same values and dtype', async () => {
      await tf.setBackend('wasm');
      const values = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
      for (const dtype of [undefined, 'float32', 'int32'] as const) {
        const t = tf.tensor1d(values, dtype);
        expect(t.dtype).toBe(dtype ?? 'float32');
        expect(Array.from(t.dataSync())).toEqual(values);
        t.dispose();
      }
      const fractions = tf.tensor1d([1.5, -2.7], 'int32');
      expect(Array.from(fractions.dataSync())).toEqual([1, -2]); // truncated, as TF.js does
      const flags = tf.tensor1d([true, false]);
      expect(flags.dtype).toBe('bool'); // not numbers: the stock path infers the dtype
      tf.dispose([fractions, flags]);
    });

    it('the direct convolution paths: forward, input gradient (stride 1) and banded filter gradient, 1 and 2 threads', async () => {
      // whole vectors of channels take the addon's direct kernels: a forward pass with 16/32 output channels, an input
      // gradient with 16/32 input channels at stride 1 (a direct convolution of dy with the turned filter); 'same' with
      // even filters pads only the bottom/right; the largest case is above the thresholds for splitting across threads
      const r = rng(83);
      const cases: [number[], number[], number | [number, number], 'same' | 'valid', 'relu' | 'linear'][] = [
        [[2, 9, 8, 16], [3, 3, 16, 32], 1, 'valid', 'relu'],
        [[3, 7, 6, 32], [2, 2, 32, 16], 1, 'same', 'linear'],
        [[2, 8, 9, 16], [3, 4, 16, 16], 1, 'same', 'relu'],
        [[2, 9, 9, 16], [3, 3, 16, 32], [2, 2], 'same', 'relu'],
        [[8, 20, 20, 32], [3, 3, 32, 32], 1, 'valid', 'relu'],
      ];
      try {
        for (const threads of mode.accelerator ? [1, 2] : [1]) {
          if (mode.accelerator) setBlasThreads(threads);
          for (const [xs, fs, strides, pad, activation] of cases) {
            const xVals = randomArray(
              r,
              xs.reduce((a, b) => a * b, 1),
            );
            const fVals = randomArray(
              r,
              fs.reduce((a, b) => a * b, 1),
            );
            const bVals = randomArray(r, fs[3]!);
            await expectMatchesCpu(`t${threads} conv x[${xs}] f[${fs}] s${strides} ${pad} ${activation}`, () => {
              const x = tf.tensor4d(xVals, xs as [number, number, number, number]);
              const f = tf.tensor4d(fVals, fs as [number, number, number, number]);
              const b = tf.tensor1d(bVals);
              const layer = (a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
                tf.fused.conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, bias, strides, pad, activation });
              const [gx, gf, gb] = tf.grads((a, w, bias) => layer(a!, w!, bias!).square().sum() as tf.Scalar)([
                x,
                f,
                b,
              ]);
              // and the unfused kernels (Conv2D forward outside a gradient, its own gradients)
              const [hx, hf] = tf.grads(
                (a: tf.Tensor, w: tf.Tensor) =>
                  tf
                    .conv2d(a as tf.Tensor4D, w as tf.Tensor4D, strides, pad)
                    .square()
                    .sum() as tf.Scalar,
              )([x, f]);
              return [layer(x, f, b), gx!, gf!, gb!, tf.conv2d(x, f, strides, pad), hx!, hf!];
            });
          }
          // the narrower kernel sets (AVX2, baseline) of the direct kernels, on the CPUs that run them
          const addon = mode.accelerator ? loadAccelerator().addon : undefined;
          const widest = addon?.inferIsa?.();
          for (const isa of widest && threads === 1 ? ['avx2', 'baseline'] : []) {
            if (isa === widest) continue;
            try {
              addon!.inferIsa!(isa);
            } catch {
              continue; // not supported by this CPU
            }
            try {
              const [xs, fs] = [
                [2, 7, 6, 16],
                [3, 3, 16, 32],
              ];
              const xVals = randomArray(r, 2 * 7 * 6 * 16);
              const fVals = randomArray(r, 3 * 3 * 16 * 32);
              await expectMatchesCpu(`${isa} conv x[${xs}] f[${fs}] same`, () => {
                const x = tf.tensor4d(xVals, xs as [number, number, number, number]);
                const f = tf.tensor4d(fVals, fs as [number, number, number, number]);
                const [gx, gf] = tf.grads(
                  (a: tf.Tensor, w: tf.Tensor) =>
                    tf
                      .conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')
                      .square()
                      .sum() as tf.Scalar,
                )([x, f]);
                return [tf.conv2d(x, f, 1, 'same'), gx!, gf!];
              });
            } finally {
              addon!.inferIsa!(widest);
            }
          }
          // a product with few rows and a long reduction (16 x 32 summed over 40k): split along k across threads
          const aVals = randomArray(r, 40_000 * 16);
          const cVals = randomArray(r, 40_000 * 32);
          await expectMatchesCpu(`t${threads} matMul [40000,16]^T @ [40000,32]`, () => [
            tf.matMul(tf.tensor2d(aVals, [40_000, 16]), tf.tensor2d(cVals, [40_000, 32]), true, false),
          ]);
        }
      } finally {
        if (mode.accelerator) setBlasThreads(1);
      }
    });

    it("Keras's string loss 'sparseCategoricalCrossentropy', its 'accuracy' and Softmax's gradient: one kernel each, values and gradients", async () => {
      // a compiled model hands out the loss and metric functions Keras uses in fit (fused on wasm, stock on cpu)
      const input = tf.input({ shape: [4] });
      const model = tf.model({
        inputs: input,
        outputs: tf.layers.dense({ units: 5 }).apply(input) as tf.SymbolicTensor,
      });
      model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      const compiled = model as unknown as {
        lossFunctions: ((y: tf.Tensor, p: tf.Tensor) => tf.Tensor)[];
        metricsTensors: [(y: tf.Tensor, p: tf.Tensor) => tf.Tensor, number][];
      };
      const loss = compiled.lossFunctions[0]!;
      const accuracy = compiled.metricsTensors[0]![0];
      const r = rng(31);
      // probabilities off the simplex, some saturated at 0 and 1 (both clips cut the gradient there), ties for argmax
      const pVals = Float32Array.from({ length: 7 * 5 }, () => r() * 0.6);
      pVals.set([0, 1, 0, 0, 0], 5);
      pVals.set([1, 0, 0, 0, 0], 10);
      pVals.set([0.3, 0.3, 0.1, 0.2, 0.1], 15);
      pVals.set([2e-8, 0.99999995, 0, 0, 0], 20);
      // integer, fractional (floored), out-of-range (an all-zero one-hot row: loss 0) labels
      const labels = [0, 1, 0, 2.7, -1, 5, 4];
      const wVals = randomArray(r, 7);
      const cases: [string, () => tf.Tensor, () => tf.Tensor][] = [
        ['labels [7]', () => tf.tensor1d(labels), () => tf.tensor2d(pVals, [7, 5])],
        ['labels [7, 1]', () => tf.tensor2d(labels, [7, 1]), () => tf.tensor2d(pVals, [7, 5])],
      ];
      for (const [label, y, p] of cases) {
        await expectMatchesCpu(
          `sparse crossentropy and accuracy, ${label}`,
          () => {
            const w = tf.tensor1d(wVals);
            const probs = p();
            const dp = tf.grad((v: tf.Tensor) => loss(y(), v).mul(w).sum())(probs);
            return [loss(y(), probs), dp, accuracy(y(), probs)];
          },
          1e-5,
        );
      }
      const sVals = randomArray(r, 2 * 6 * 7);
      await expectMatchesCpu('softmax and its gradient, rank 2 and rank 3', () => {
        const w = tf.tensor3d(randomArray(rng(5), 2 * 6 * 7), [2, 6, 7]);
        const x3 = tf.tensor3d(sVals, [2, 6, 7]);
        const g3 = tf.grad((v: tf.Tensor) => tf.softmax(v).mul(w).sum())(x3);
        const g2 = tf.grad((v: tf.Tensor) =>
          tf
            .softmax(v)
            .mul(w.reshape([12, 7]))
            .sum(),
        )(x3.reshape([12, 7]));
        return [g3, g2];
      });
      const profile = await tf.profile(() => {
        const probs = tf.softmax(tf.tensor2d(pVals, [7, 5]));
        return [
          tf.grad((v: tf.Tensor) => loss(tf.tensor1d(labels), tf.softmax(v)).sum())(probs),
          accuracy(tf.tensor1d(labels), probs),
        ];
      });
      for (const name of [
        'TuneserveSparseCrossentropy',
        'TuneserveSparseCrossentropyGrad',
        'TuneserveSparseAccuracy',
        'TuneserveSoftmaxGrad',
      ]) {
        expect(profile.kernelNames).toContain(name);
      }
      for (const stockKernel of ['OneHot', 'ClipByValue', 'Log', 'ArgMax'])
        expect(profile.kernelNames).not.toContain(stockKernel);
      model.dispose();
    });
  });
}

describe.skipIf(!hasSystem('openblas'))('the OpenBLAS addon refuses bad arguments instead of touching memory', () => {
  it('throws a RangeError for a wrong argument count, a negative size or an operand outside the heap', () => {
    const addon = loadAccelerator().addon!;
    const heap = new Float32Array(16).buffer;
    const pool = new Int32Array([1, 4, 4, 1, 2, 2, 2, 2, 2, 2, 0, 0]);
    const bad: [string, () => void][] = [
      ['reluGrad, too few arguments', () => (addon.reluGrad as (...a: unknown[]) => void)(heap, 0, 0, 0)],
      ['reluGrad, outside the heap', () => addon.reluGrad(heap, 0, 0, 0, 100)],
      ['addBias, negative rows', () => addon.addBias(heap, 0, 0, 0, -1, 2)],
      ['reluGradSum, sums outside the heap', () => addon.reluGradSum(heap, 0, 0, 0, 15, 2, 2)],
      ['reluGradSum, no channels', () => addon.reluGradSum(heap, 0, 0, 0, 0, 2, 0)],
      ['scatterAdd, zero images', () => addon.scatterAdd(heap, 0, 0, 0, 4, 4, 0)],
      ['rmsprop, outside the heap', () => addon.rmsprop(heap, 64, 0, 0, 0, 0, 0, 0.1, 0.9, 0, 1e-7)],
      ['adam, not a heap', () => addon.adam(42 as unknown as ArrayBuffer, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1)],
      // a 4x4 image pooled 2x2 to 2x2: 16 input floats, 4 output floats
      ['maxPool, output outside the heap', () => addon.maxPool(heap, 0, 14, -1, pool)],
      ['maxPool, too few arguments', () => (addon.maxPool as (...a: unknown[]) => void)(heap, 0, 0, -1)],
      ['maxPoolGrad, dx outside the heap', () => addon.maxPoolGrad(heap, 0, 0, 4, pool)],
      // a 4x4 one-channel image, 2x2 filter, stride 2: 16 image floats, 4 window rows of 4, 2 output channels
      ['dropoutMask, outside the heap', () => addon.dropoutMask(heap, 10, 10, 0, 1, 1)],
      ['conv2d, y outside the heap', () => addon.conv2d(heap, 0, 0, 10, -1, pool, 2, -1, false)],
      ['conv2d, kept windows outside the heap', () => addon.conv2d(heap, 0, 0, 0, 4, pool, 2, -1, false)],
      ['conv2d, no output channels', () => addon.conv2d(heap, 0, 0, 0, -1, pool, 0, -1, false)],
      ['conv2dInputGrad, a window buffer given', () => addon.conv2dInputGrad(heap, 0, 0, 0, 0, pool, 2, -1, false)],
      ['conv2dInputGrad, dy outside the heap', () => addon.conv2dInputGrad(heap, 0, 0, 12, -1, pool, 2, -1, false)],
      ['conv2dFilterGrad, a window buffer given', () => addon.conv2dFilterGrad!(heap, 0, 0, 0, 0, pool, 2, -1, false)],
      ['conv2dFilterGrad, dw outside the heap', () => addon.conv2dFilterGrad!(heap, 0, 12, 0, -1, pool, 2, -1, false)],
      ['conv2dFilterGrad, dy outside the heap', () => addon.conv2dFilterGrad!(heap, 0, 0, 12, -1, pool, 2, -1, false)],
      ['conv2dFilterGrad, a bias given', () => addon.conv2dFilterGrad!(heap, 0, 0, 0, -1, pool, 2, 0, false)],
      [
        'sgemm on a typed array, C outside it',
        () => addon.sgemm(new Float32Array(8), false, false, 2, 2, 2, 0, 2, 0, 0, 2, 0, 6, 2, 0, 1, 1, 0),
      ],
    ];
    for (const [label, call] of bad) expect(call, label).toThrow(RangeError);
    const x = new Float32Array([1, -1, 2, -2, 5, 5, 5, 5, 0, 0, 0, 0]);
    addon.reluGrad(x.buffer, 4, 0, 8, 4);
    expect(Array.from(x.subarray(8))).toEqual([5, 0, 5, 0]);
    // two rows of two channels: dx at 8, the per-channel sums at 12
    const g = new Float32Array([1, -1, 2, -2, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0]);
    addon.reluGradSum(g.buffer, 4, 0, 8, 12, 2, 2);
    expect(Array.from(g.subarray(8))).toEqual([5, 0, 7, 0, 12, 0]);
    // The same pool geometry with room for its output: window maxima of 0..15 laid out 4x4.
    const room = new Float32Array(20);
    room.set(Array.from({ length: 16 }, (_, i) => i));
    addon.maxPool(room.buffer, 0, 16, -1, pool);
    expect(Array.from(room.subarray(16))).toEqual([5, 7, 13, 15]);
  });
});
