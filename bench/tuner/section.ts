/**
 * What every part of `npm run bench:tuner` shares: a section is one measured comparison with its own
 * flags and its own table; tuner.ts runs the chosen sections in one process and fails when a target
 * is missed. A new comparison is one new file exporting a Section plus one line in tuner.ts.
 */
import type { ParseArgsConfig } from 'node:util';

export type Flags = Record<string, string | boolean | undefined>;

export interface SectionContext {
  /** A throwaway folder for studies (removed after the run). */
  directory: string;
}

export interface Section {
  /** The name `--sections` selects it by. */
  name: string;
  /** Its own flags (names must not collide with other sections'). */
  options: NonNullable<ParseArgsConfig['options']>;
  /** Runs the comparison, prints its table, and says whether its targets were met. */
  run(flags: Flags, context: SectionContext): Promise<{ met: boolean }>;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** A number for a table: fixed for ordinary magnitudes, exponent for tiny ones. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return v === 0 ? '0' : Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4);
}

/** Prints rows under a header, columns padded to their widest cell. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

/** A positive integer flag, or a clear error naming it. */
export function intFlag(flags: Flags, name: string, min = 1): number {
  const raw = flags[name];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(raw)}`);
  return n;
}
