/**
 * Draws a greyscale image (values in [0,1], 1 = ink) as text: the reference client's matplotlib
 * window, in a terminal. `colour` uses Unicode upper half-blocks with 24-bit grey foreground (top
 * pixel) and background (bottom pixel), two pixel rows per line; otherwise a plain grey ramp with
 * two characters per pixel so the digit keeps its aspect ratio.
 */
const RAMP = ' .:-=+*#%@';

export function renderDigit(values: ArrayLike<number>, width: number, options: { colour?: boolean } = {}): string {
  const height = Math.ceil(values.length / width);
  const at = (x: number, y: number): number => {
    const v = y < height ? (values[y * width + x] ?? 0) : 0;
    return v < 0 ? 0 : Math.min(v, 1);
  };
  const lines: string[] = [];
  if (options.colour) {
    for (let y = 0; y < height; y += 2) {
      let line = '';
      for (let x = 0; x < width; x++) {
        const top = Math.round(at(x, y) * 255);
        const bottom = Math.round(at(x, y + 1) * 255);
        line += `\x1b[38;2;${top};${top};${top}m\x1b[48;2;${bottom};${bottom};${bottom}m▀`;
      }
      lines.push(`${line}\x1b[0m`);
    }
  } else {
    for (let y = 0; y < height; y++) {
      let line = '';
      for (let x = 0; x < width; x++) {
        const ch = RAMP[Math.min(RAMP.length - 1, Math.round(at(x, y) * (RAMP.length - 1)))]!;
        line += ch + ch;
      }
      lines.push(line.replace(/\s+$/, ''));
    }
  }
  return lines.join('\n');
}
