/**
 * The container image, built and run for real by scripts/container-smoke.sh: build with a small
 * seeded training budget, run read-only as non-root, health, the reference client's /predict and
 * TF Serving requests on real MNIST digits, SIGTERM stop, and no secret planted in the build
 * context (.env, keys, certificates, credentials) anywhere in the image. Needs root podman (hasSystem skips
 * loudly outside CI and fails under CI=true).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasSystem } from '../../test-support/system.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe.skipIf(!hasSystem('podman'))('container image (scripts/container-smoke.sh)', () => {
  it(
    'builds without the planted secrets, serves the reference client and TF Serving, runs as non-root, stops on SIGTERM',
    async () => {
      const child = spawn('bash', ['scripts/container-smoke.sh'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const collect = (chunk: Buffer): void => {
        output += chunk;
        process.stderr.write(chunk); // progress lines while the image builds
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const code = await new Promise<number | null>((done) => child.on('close', done));
      expect(code, output).toBe(0);
      expect(output).toMatch(/container-smoke: \/predict -> "This number is a \d"/);
      expect(output).toMatch(/container-smoke: TF Serving predict -> (8|9|10)\/10 test digits right/);
      expect(output).toMatch(/container-smoke: runs as uid [1-9]\d* on a read-only root filesystem/);
      expect(output).toMatch(/container-smoke: none of \d+ planted secrets is in the image/);
      expect(output).toMatch(/container-smoke: SIGTERM stopped it in \d+ ms with exit code 0/);
      expect(output).toMatch(/container-smoke: ok/);
    },
    30 * 60_000,
  );
});
