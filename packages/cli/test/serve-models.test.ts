/**
 * `tuneserve serve` with many models, as a user runs it (the built CLI): --model-root and --config
 * start and serve every model (gRPC too with --grpc-port), and a bad config exits 2 with one line
 * naming the file, entry and field.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDir, writeModel } from '../../server/test/fixtures.js';
import { writeWine } from '../../server/test/schema-fixtures.js';

const BIN = resolve(import.meta.dirname, '../dist/bin.js');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGTERM');
});

function serve(...args: string[]): Promise<{ url: string; line: string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--samples', 'none', ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  return new Promise((done, fail) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /tuneserve: (serving .* at (\S+).*)\n/.exec(stderr);
      if (m?.[1] && m[2]) done({ url: m[2], line: m[1] });
    });
    child.on('exit', (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

function run(...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, 'serve', '--port', '0', ...args], { timeout: 120_000 }, (error, _out, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr });
    });
  });
}

describe('tuneserve serve with many models', () => {
  it('--model-root and --config serve every model; --grpc-port opens gRPC', async () => {
    const dir = await freshDir('cli-models');
    await writeModel(join(dir, 'root', 'mnist', '1'), 'identity');
    await writeWine(join(dir, 'root'));
    const rooted = await serve('--model-root', join(dir, 'root'), '--grpc-port', '0');
    expect(rooted.line).toMatch(/^serving mnist, wine at http:\/\/127\.0\.0\.1:\d+ \(gRPC 127\.0\.0\.1:\d+\)$/);
    const list = (await (await fetch(`${rooted.url}/api/models`)).json()) as { models: { name: string }[] };
    expect(list.models.map((m) => m.name)).toEqual(['mnist', 'wine']);

    await writeFile(
      join(dir, 'models.yaml'),
      'models:\n  - name: digits\n    base_path: root/mnist\n    version_policy: { all: true }\n',
    );
    const configured = await serve('--config', join(dir, 'models.yaml'));
    expect(configured.line).toMatch(/^serving digits at /);
    const answer = await fetch(`${configured.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: Array.from({ length: 784 }, (_, i) => (i === 5 ? 1 : 0)) }),
    });
    expect(await answer.text()).toBe('This number is a 5');
  });

  it('a bad config or model root exits 2 with one line naming the problem', async () => {
    const dir = await freshDir('cli-bad-config');
    const file = join(dir, 'models.yaml');
    await writeFile(file, 'models:\n  - name: a\n    base_path: x\n    version_policy: { latest: 0 }\n');
    const bad = await run('--config', file);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(
      /--config: .*models\.yaml: models\[0\]\.version_policy\.latest must be a positive integer/,
    );
    const missing = await run('--model-root', join(dir, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--model-root ".*nope" is not a directory/);
  });
});
