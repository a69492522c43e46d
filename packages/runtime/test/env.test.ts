/** Boolean words for variables: one reading everywhere, and TUNESERVE_ACCELERATOR=false really turns the addon off. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BackendError, booleanEnv, parseBoolean, parseInteger } from '../src/index.js';

describe('whole numbers', () => {
  it('reads digits only, as a safe integer at least the minimum', () => {
    expect(['0', '7', ' 42 ', '007', '9007199254740991'].map((t) => parseInteger(t))).toEqual([
      0, 7, 42, 7, 9007199254740991,
    ]);
    for (const text of ['', '-1', '+1', '1.5', '1e3', '0x10', '12a', '9007199254740992', 'Infinity'])
      expect(parseInteger(text), text).toBeUndefined();
    expect(parseInteger('0', 1)).toBeUndefined();
    expect(parseInteger('3', 1)).toBe(3);
  });
});

describe('boolean words', () => {
  it('reads 1/true/yes/on and 0/false/no/off in any case, and nothing else', () => {
    for (const word of ['1', 'true', 'True', 'YES', 'on', ' on ']) expect(parseBoolean(word), word).toBe(true);
    for (const word of ['0', 'false', 'FALSE', 'No', 'off']) expect(parseBoolean(word), word).toBe(false);
    for (const word of ['', 'maybe', '2', 'y', 'n', 'enable', 'offf']) expect(parseBoolean(word), word).toBeUndefined();
  });

  it('falls back when a variable is unset or empty, and throws the caller’s error on any other word', () => {
    const error = (m: string) => new BackendError(m);
    expect(booleanEnv('X', true, error, {})).toBe(true);
    expect(booleanEnv('X', false, error, { X: '' })).toBe(false);
    expect(booleanEnv('X', true, error, { X: 'off' })).toBe(false);
    expect(() => booleanEnv('X', true, error, { X: 'false-ish' })).toThrow(BackendError);
    expect(() => booleanEnv('X', true, error, { X: 'false-ish' })).toThrow(
      'X must be 1/true/yes/on or 0/false/no/off, got "false-ish"',
    );
  });

  it('turns the OpenBLAS addon off with TUNESERVE_ACCELERATOR=false, not only with "off"', () => {
    const script =
      "const { initBackend } = await import('@tuneserve/runtime'); await initBackend({ log: (l) => console.log(l) });";
    for (const word of ['false', 'OFF', '0', 'no']) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: import.meta.dirname,
        env: { ...process.env, TUNESERVE_ACCELERATOR: word },
        encoding: 'utf8',
      });
      expect(out, word).toMatch(new RegExp(`accelerator=none .*TUNESERVE_ACCELERATOR=${word}`));
    }
  });
});
