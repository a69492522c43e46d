/**
 * The library example in docs/pipeline.md (the ```ts block marked for this test), run exactly as written: a user's own Dataset
 * built from arrays and their own HyperModel, tuned, trained and exported. The snippet is read from the doc, so the
 * doc cannot drift from what works. It runs as a separate Node process against the built packages (`npm test`
 * builds them first), the way a user would run it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';

const DOC = join(import.meta.dirname, '..', '..', '..', 'docs', 'pipeline.md');

it('the docs/pipeline.md library example tunes, trains and exports a model that beats the majority class', async () => {
  const doc = await readFile(DOC, 'utf8');
  const blocks = [
    ...doc.matchAll(
      /```ts no-run: docs-example.test.ts in packages\/pipeline runs it and checks its result\n([\s\S]*?)```/g,
    ),
  ].map((m) => m[1] ?? '');
  expect(blocks).toHaveLength(1);
  const js = ts.transpileModule(blocks[0]!, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  // Beside the packages, so its imports resolve to this workspace's; run in a scratch folder for its outputs.
  const script = join(import.meta.dirname, `.docs-example-${process.pid}.mjs`);
  const cwd = await mkdtemp(join(tmpdir(), 'tuneserve-docs-example-'));
  await writeFile(script, js);
  try {
    const run = spawnSync(process.execPath, [script], { cwd, encoding: 'utf8', timeout: 240_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const m = /test accuracy (0\.\d{3}); exported to (.+)/.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    // 38% of the square lies inside the circle: predicting "outside" everywhere scores about 0.62.
    expect(Number(m![1])).toBeGreaterThan(0.8);
    const metadata = JSON.parse(await readFile(join(m![2]!.trim(), 'metadata.json'), 'utf8'));
    expect(metadata.output).toEqual({ task: 'classification', labels: ['outside', 'inside'] });
    expect(metadata.input).toEqual({ kind: 'tensor', shape: [2] });
    expect(metadata.hyperparameters).toHaveProperty('units');
  } finally {
    await rm(script, { force: true });
    await rm(cwd, { recursive: true, force: true });
  }
}, 300_000);
