// The `tuneserve` bin must resolve right after `npm ci`, before anything is built: npm links a bin
// only when its file exists at install time, so the bin is a committed launcher (bin/tuneserve.js).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const PKG = join(import.meta.dirname, '..');
const ROOT = join(PKG, '..', '..');
const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const scratch = mkdtempSync(join(tmpdir(), 'tuneserve-bin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the tuneserve bin', () => {
  it('is a committed file, not a build output', () => {
    const target = manifest.bin.tuneserve!;
    expect(target.startsWith('dist/')).toBe(false);
    const tracked = execFileSync('git', ['ls-files', '--', target], { cwd: PKG, encoding: 'utf8' });
    expect(tracked.trim()).toBe(`${target}`);
  });

  it('is linked by the install and runs the CLI', () => {
    const link = join(ROOT, 'node_modules', '.bin', 'tuneserve');
    expect(existsSync(link), `${link} is missing: run npm ci (or npm install) to link the bin`).toBe(true);
    expect(realpathSync(link)).toBe(realpathSync(join(PKG, manifest.bin.tuneserve!)));
    const run = spawnSync(link, ['--help'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: tuneserve/);
  });

  it('says in one line what to do when a copy without sources has not been built', () => {
    // An installed package outside the workspace: bin and package.json, no dist, no sources.
    const copy = join(scratch, 'cli');
    cpSync(join(PKG, 'bin'), join(copy, 'bin'), { recursive: true });
    cpSync(join(PKG, 'package.json'), join(copy, 'package.json'));
    const run = spawnSync(process.execPath, [join(copy, manifest.bin.tuneserve!), '--help'], {
      cwd: copy,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('tuneserve: dist/bin.js is missing; run `npm run build` first\n');
  });
});
