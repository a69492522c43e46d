import * as runtime from '@tuneserve/runtime';
import { describe, expect, it } from 'vitest';

describe('workspace wiring', () => {
  it('resolves workspace packages from source', () => {
    expect(typeof runtime).toBe('object');
  });
});
