/**
 * Multi-objective search through the real CLI on a small CSV: `tune --objective` repeated (NSGA-II,
 * accuracy against the built-in latency_ms), `trials` marking the Pareto front, `train --top 2`
 * exporting front members as labelled versions, and `serve --config` answering each label over
 * TF Serving's /labels/<label> route. Bad --objective values exit 2 naming the flag.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowerRows, writeLines } from '../../data/test/fixtures.js';
import { BIN, runCli } from './cli-helpers.js';

let cwd: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-multi-objective-'));
  await writeLines(cwd, 'flowers.csv', flowerRows(120));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await rm(cwd, { recursive: true, force: true });
});

function serve(...args: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--samples', 'none', ...args],
    {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  return new Promise((done, fail) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /tuneserve: serving .* at (\S+)/.exec(stderr);
      if (m?.[1]) done(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
  });
}

interface StudyJson {
  objective: { name: string };
  objectives?: { name: string; direction: string }[];
  trials: { trialId: string; status: string; score: number | null; values?: number[] | null }[];
}

describe('multi-objective search from the CLI', () => {
  it('tune --objective x2, trials marks the front, train --top 2 exports labelled versions that serve side by side', async () => {
    const tuned = await runCli(
      [
        'tune',
        '--data',
        'flowers.csv',
        '--tuner',
        'nsga2',
        '--objective',
        'val_accuracy:max',
        '--objective',
        'latency_ms', // direction inferred: min
        '--max-trials',
        '6',
        '--epochs',
        '2',
        '--executions-per-trial',
        '1',
        '--seed',
        '3',
        '--quiet',
      ],
      cwd,
    );
    expect(tuned.code, tuned.stderr).toBe(0);
    expect(tuned.stdout).toMatch(/with nsga2, objective val_accuracy \(max\), latency_ms \(min\)/);

    const table = await runCli(['trials', '--project-name', 'flowers'], cwd);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/objectives val_accuracy \(max\), latency_ms \(min\), Pareto front \d+ \(\*\)/);
    const header = table.stdout.split('\n')[1] ?? '';
    expect(header).toMatch(/^trial\s+status\s+front\s+val_accuracy\s+latency_ms\s+best epoch/);

    const json = await runCli(['trials', '--project-name', 'flowers', '--json'], cwd);
    const study = JSON.parse(json.stdout) as StudyJson;
    expect(study.objectives).toEqual([
      { name: 'val_accuracy', direction: 'max' },
      { name: 'latency_ms', direction: 'min' },
    ]);
    const completed = study.trials.filter((t) => t.status === 'COMPLETED');
    expect(completed.length).toBe(6);
    for (const t of completed) {
      expect(t.values).toHaveLength(2);
      expect(t.score).toBe(t.values?.[0]);
      expect(t.values?.[1]).toBeGreaterThan(0);
    }
    const frontJson = JSON.parse(
      (await runCli(['trials', '--project-name', 'flowers', '--front', '--json'], cwd)).stdout,
    ) as StudyJson;
    const front = frontJson.trials;
    expect(front.length).toBeGreaterThan(0);
    // Every row marked '*' is a front member, and only those.
    const marked = table.stdout
      .split('\n')
      .slice(3)
      .filter((line) => /^\S+\s+COMPLETED\s+\*/.test(line))
      .map((line) => line.split(/\s+/)[0]);
    expect(marked.sort()).toEqual(front.map((t) => t.trialId).sort());

    const trained = await runCli(
      ['train', '--project-name', 'flowers', '--top', '2', '--max-epochs', '3', '--patience', '1'],
      cwd,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const config = JSON.parse(await readFile(join(cwd, 'models', 'flowers.front.json'), 'utf8')) as {
      models: { name: string; labels: Record<string, number> }[];
    };
    const labels = config.models[0]?.labels ?? {};
    const expected = front.length >= 2 ? 2 : 1;
    expect(Object.keys(labels)).toHaveLength(expected);
    expect(Object.keys(labels)[0]).toBe('accurate'); // the best val_accuracy comes first
    if (expected === 2) expect(['fast', 'front_2']).toContain(Object.keys(labels)[1]);
    expect(trained.stdout).toMatch(/serve them side by side: tuneserve serve --config /);
    const metadata = JSON.parse(
      await readFile(join(cwd, 'models', 'flowers', String(labels.accurate), 'metadata.json'), 'utf8'),
    ) as {
      training: { study: { label: string; values: number[] } };
    };
    expect(metadata.training.study.label).toBe('accurate');
    expect(metadata.training.study.values).toHaveLength(2);

    const url = await serve('--config', join('models', 'flowers.front.json'));
    for (const [label, version] of Object.entries(labels)) {
      const status = await fetch(`${url}/v1/models/flowers/labels/${label}`);
      expect(status.status).toBe(200);
      const body = (await status.json()) as { model_version_status: { version: string }[] };
      expect(body.model_version_status[0]?.version).toBe(String(version));
      const answer = await fetch(`${url}/v1/models/flowers/labels/${label}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [{ petal_length: 5.2, petal_width: 1.9, colour: 'white' }] }),
      });
      expect(answer.status, await answer.clone().text()).toBe(200);
      const { predictions } = (await answer.json()) as { predictions: number[][] };
      expect(predictions[0]).toHaveLength(3);
    }
  }, 600_000);

  it('a bad --objective exits 2 naming the flag', async () => {
    const base = ['tune', '--data', 'flowers.csv', '--max-trials', '1', '--epochs', '1', '--quiet'];
    const unknown = await runCli([...base, '--objective', 'val_accuracy', '--objective', 'wobble'], cwd);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--objective: cannot tell whether "wobble" should be minimized or maximized/);
    const badDirection = await runCli([...base, '--objective', 'latency_ms:down'], cwd);
    expect(badDirection.code).toBe(2);
    expect(badDirection.stderr).toMatch(/--objective must look like .* got "latency_ms:down"/);
    const twice = await runCli([...base, '--objective', 'val_accuracy', '--objective', 'val_accuracy:max'], cwd);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/--objective "val_accuracy" is given twice/);
  }, 300_000);
});
