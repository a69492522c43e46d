import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  centreOfMass,
  EmptyImageError,
  greyToInk,
  ImageShapeError,
  inkBoundingBox,
  MNIST_SIDE,
  renderDigit,
  toMnistInput,
} from '../src/index.js';
import { drawStrokes, type Point } from './raster.js';

const CENTRE = (MNIST_SIDE - 1) / 2;
const field = (data: Float32Array) => ({ width: MNIST_SIDE, height: MNIST_SIDE, data });

// Digits as a person draws them on a 300x240 canvas, deliberately off-centre and not square.
const SEVEN: Point[][] = [
  [
    [40, 30],
    [150, 30],
    [90, 200],
  ],
];
const ZERO: Point[][] = [
  Array.from({ length: 33 }, (_, i): Point => {
    const t = (i / 32) * 2 * Math.PI;
    return [210 + 45 * Math.cos(t), 130 + 80 * Math.sin(t)];
  }),
];
const ONE: Point[][] = [
  [
    [250, 20],
    [250, 220],
  ],
];

describe('toMnistInput', () => {
  for (const [name, strokes] of [
    ['seven', SEVEN],
    ['zero', ZERO],
    ['one', ONE],
  ] as const) {
    it(`centres a drawn ${name} by mass and fits its bounding box to 20 px`, () => {
      const input = toMnistInput(drawStrokes(300, 240, strokes, 9));
      expect(input).toHaveLength(784);
      const box = inkBoundingBox(field(input))!;
      expect(Math.max(box.width, box.height)).toBe(20);
      const com = centreOfMass(field(input));
      expect(Math.abs(com.x - CENTRE)).toBeLessThanOrEqual(1);
      expect(Math.abs(com.y - CENTRE)).toBeLessThanOrEqual(1);
      for (const v of input) expect(v >= 0 && v <= 1).toBe(true);
    });
  }

  it('keeps the aspect ratio: a tall stroke stays narrow', () => {
    const box = inkBoundingBox(field(toMnistInput(drawStrokes(300, 240, ONE, 9))))!;
    expect(box.height).toBe(20);
    expect(box.width).toBeLessThanOrEqual(3);
  });

  it('anti-aliases: a shrunk stroke has intermediate grey values at its edges', () => {
    const input = toMnistInput(drawStrokes(300, 240, SEVEN, 9));
    const greys = Array.from(input).filter((v) => v > 0.05 && v < 0.95);
    expect(greys.length).toBeGreaterThan(5);
  });

  it('enlarges a tiny drawing to the same 20 px box', () => {
    const small = drawStrokes(
      28,
      28,
      [
        [
          [10, 10],
          [16, 10],
          [12, 18],
        ],
      ],
      0.8,
    );
    const box = inkBoundingBox(field(toMnistInput(small)))!;
    expect(Math.max(box.width, box.height)).toBe(20);
  });

  it('is idempotent on an already-MNIST-like input', () => {
    const once = toMnistInput(drawStrokes(300, 240, ZERO, 9));
    const twice = toMnistInput(field(once));
    const com = centreOfMass(field(twice));
    expect(Math.abs(com.x - CENTRE)).toBeLessThanOrEqual(1);
    expect(inkBoundingBox(field(twice))).toEqual(inkBoundingBox(field(once)));
  });

  it('never loses ink off the field and always yields a 20 px box for any stroke', () => {
    const point = fc.tuple(fc.integer({ min: 0, max: 199 }), fc.integer({ min: 0, max: 149 }));
    fc.assert(
      fc.property(fc.array(point, { minLength: 2, maxLength: 6 }), fc.integer({ min: 2, max: 12 }), (pts, r) => {
        const input = toMnistInput(drawStrokes(200, 150, [pts as Point[]], r));
        const box = inkBoundingBox(field(input))!;
        expect(Math.max(box.width, box.height)).toBe(20);
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(28);
        expect(box.y + box.height).toBeLessThanOrEqual(28);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects an empty drawing and a wrongly sized buffer with typed errors', () => {
    expect(() => toMnistInput({ width: 10, height: 10, data: new Float32Array(100) })).toThrow(EmptyImageError);
    expect(() => toMnistInput({ width: 10, height: 10, data: new Float32Array(99) })).toThrow(ImageShapeError);
    expect(() => toMnistInput({ width: 0, height: 10, data: [] })).toThrow(ImageShapeError);
  });
});

describe('greyToInk', () => {
  it('inverts dark-on-light images automatically and leaves light-on-dark ones', () => {
    const light = [255, 255, 255, 255, 0, 255, 255, 255, 255];
    expect(Array.from(greyToInk(light, 3, 3).data)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);
    const dark = light.map((v) => 255 - v);
    expect(Array.from(greyToInk(dark, 3, 3).data)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(greyToInk(dark, 3, 3, true).data)[4]).toBe(0);
  });
});

describe('renderDigit', () => {
  it('draws 28 ramp lines, ink as dense characters', () => {
    const input = toMnistInput(drawStrokes(300, 240, ONE, 9));
    const text = renderDigit(input, 28);
    const lines = text.split('\n');
    expect(lines).toHaveLength(28);
    expect(text).toContain('@@');
    expect(lines[0]!.trim()).toBe('');
  });

  it('draws 14 half-block lines in colour mode', () => {
    const text = renderDigit(new Float32Array(784).fill(1), 28, { colour: true });
    expect(text.split('\n')).toHaveLength(14);
    expect(text).toContain('▀');
    expect(text).toContain('\x1b[38;2;255;255;255m');
  });
});
