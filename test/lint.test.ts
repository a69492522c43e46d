/**
 * `npm run lint` lints sources, not outputs: with the repo's biome.json and .gitignore, generated models/ and
 * tuning/ (SVG, HTML, JSON a run writes) are not checked, while a source file still is.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');
const dir = mkdtempSync(join(tmpdir(), 'tuneserve-lint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function biome() {
  return spawnSync(BIOME, ['check', '.', '--colors=off'], { cwd: dir, encoding: 'utf8' });
}

describe('lint scope', () => {
  it('skips what a run writes and still checks sources', () => {
    copyFileSync(join(ROOT, 'biome.json'), join(dir, 'biome.json'));
    copyFileSync(join(ROOT, '.gitignore'), join(dir, '.gitignore'));
    spawnSync('git', ['init', '-q'], { cwd: dir });
    // What `tuneserve up` leaves: an SVG without a title (a11y lint error), a report page, a trial's script.
    for (const out of ['models/mnist/1', 'tuning/mnist/trial_0']) mkdirSync(join(dir, out), { recursive: true });
    writeFileSync(
      join(dir, 'models/mnist/1/trials.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg"><a href="#" role="img"/></svg>\n',
    );
    writeFileSync(join(dir, 'models/mnist/1/report.html'), '<html><img src="x.svg"></html>\n');
    writeFileSync(join(dir, 'tuning/mnist/trial_0/x.js'), 'var a = 1\n');
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src/ok.ts'), "export const a = 'ok';\n");
    const clean = biome();
    expect(clean.status, clean.stdout + clean.stderr).toBe(0);

    writeFileSync(join(dir, 'src/bad.ts'), 'export const b: any = 1;\n');
    const dirty = biome();
    expect(dirty.status).not.toBe(0);
    expect(dirty.stdout + dirty.stderr).toContain('src/bad.ts');
    expect(dirty.stdout + dirty.stderr).not.toContain('models/');
  });
});
