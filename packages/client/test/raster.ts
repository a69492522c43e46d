/** Test helper: rasterises thick anti-aliased polylines into an ink image, like a pen on a canvas. */
import type { InkImage } from '../src/index.js';

export type Point = [number, number];

export function drawStrokes(width: number, height: number, strokes: Point[][], radius: number): InkImage {
  const data = new Float32Array(width * height);
  for (const stroke of strokes) {
    for (let i = 0; i + 1 < stroke.length; i++) segment(data, width, height, stroke[i]!, stroke[i + 1]!, radius);
  }
  return { width, height, data };
}

function segment(data: Float32Array, width: number, height: number, a: Point, b: Point, r: number): void {
  const [ax, ay] = a;
  const [bx, by] = b;
  const minX = Math.max(0, Math.floor(Math.min(ax, bx) - r - 1));
  const maxX = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + r + 1));
  const minY = Math.max(0, Math.floor(Math.min(ay, by) - r - 1));
  const maxY = Math.min(height - 1, Math.ceil(Math.max(ay, by) + r + 1));
  const lx = bx - ax;
  const ly = by - ay;
  const len2 = lx * lx + ly * ly || 1;
  for (let y = minY; y <= maxY; y++) {
    for (let x = minX; x <= maxX; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      const t = Math.max(0, Math.min(1, ((px - ax) * lx + (py - ay) * ly) / len2));
      const d = Math.hypot(px - (ax + t * lx), py - (ay + t * ly));
      const ink = Math.max(0, Math.min(1, r + 0.5 - d));
      const i = y * width + x;
      if (ink > data[i]!) data[i] = ink;
    }
  }
}
