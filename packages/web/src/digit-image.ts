/** Paints 28x28 values in [0,1] (1 = ink) as dark ink on white, the way the user drew them. */
export function paintDigit(canvas: HTMLCanvasElement, values: ArrayLike<number>, side = 28): void {
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.round(255 * (1 - Math.min(1, Math.max(0, values[i] ?? 0))));
    image.data[i * 4] = v;
    image.data[i * 4 + 1] = v;
    image.data[i * 4 + 2] = v;
    image.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}
