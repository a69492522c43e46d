/** NamedError: a one-line typed error carries its class name, message and cause. */
import { describe, expect, it } from 'vitest';
import { NamedError } from '../src/index.js';

class DiskError extends NamedError {}
class FullDiskError extends DiskError {}

describe('NamedError', () => {
  it('names each error after its own class, keeps message and cause, and stays an Error', () => {
    const e = new FullDiskError('no space', { cause: 'ENOSPC' });
    expect([e.name, e.message, e.cause]).toEqual(['FullDiskError', 'no space', 'ENOSPC']);
    expect(e).toBeInstanceOf(DiskError);
    expect(e).toBeInstanceOf(Error);
    expect(String(new DiskError('x'))).toBe('DiskError: x');
  });
});
