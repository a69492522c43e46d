/**
 * What a new user meets in the first minutes, through the built CLI: one clear line and exit 2 for bad
 * input (flags, variables, a busy port, a study of another space), and output that says what it shows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';

const TINY = ['--limit-samples', '200', '--executions-per-trial', '1', '--epochs', '1', '--quiet'];
let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'tuneserve-first-steps-'));
  // What `npm start` leaves behind, on a tiny budget: an MLP-space study in tuning/mnist and models/mnist/1.
  const up = await runCli(
    [
      'up',
      '--no-serve',
      '--max-trials',
      '2',
      '--epochs',
      '1',
      '--max-epochs',
      '1',
      '--seed',
      '1',
      '--limit-samples',
      '200',
    ],
    cwd,
  );
  expect(up.code, up.stderr).toBe(0);
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

/** Exit code 2 and exactly one line on stderr that matches `pattern`; nothing on stdout. */
async function expectOneLine(args: string[], pattern: RegExp, env: Record<string, string> = {}) {
  const run = await runCli(args, cwd, env);
  expect(run.code, run.stderr + run.stdout).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tuneserve runtime:'));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('bad input: one line, exit 2', () => {
  it('commander errors: unknown option, bad value, unknown command', async () => {
    await expectOneLine(['tune', '--bogus'], /^tuneserve: unknown option '--bogus' \(see --help\)$/);
    await expectOneLine(['serve', '--port', 'abc'], /^tuneserve: option '--port <n>' argument 'abc' is invalid/);
    await expectOneLine(['bogus'], /^tuneserve: unknown command 'bogus'/);
  });

  it('an unknown TUNESERVE_BACKEND', async () => {
    const env = { TUNESERVE_BACKEND: 'bogus' };
    const message = /^tuneserve: unknown backend "bogus" \(from TUNESERVE_BACKEND\); expected one of: /;
    await expectOneLine(['train', '--max-epochs', '1', '--limit-samples', '200'], message, env);
    await expectOneLine(['serve', '--model', 'models/mnist', '--port', '0'], message, env);
  });

  it('a busy port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expectOneLine(
        [
          'serve',
          '--model',
          join(cwd, 'models', 'mnist'),
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--log-level',
          'error',
        ],
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use; choose another with --port`),
      );
    } finally {
      blocker.close();
    }
  });
});

describe('a study keeps its search space', () => {
  it('after the quick start, tuning another space says what to do; --overwrite does it', async () => {
    await expectOneLine(
      ['tune', '--space', 'default', '--max-trials', '1', ...TINY],
      /^tuneserve: tuning\/mnist holds a study of space "mlp"; to search space "default" add --overwrite \(starts that study afresh\) or --project-name <another name> \(keeps both\)$/,
    );
    // The refused run left the study as it was.
    const trials = await runCli(['trials', '--best', '1'], cwd);
    expect(trials.code, trials.stderr).toBe(0);
    const [header, , , ...rest] = trials.stdout.trimEnd().split('\n');
    expect(header).toMatch(/, 2 trials \(2 completed of max 2\); the best 1$/);
    // The table's rows end at the blank line before the study's hyperparameter importance.
    const rows = rest.slice(0, rest.indexOf(''));
    expect(rows).toHaveLength(1);
    expect(rest.at(-1)).toMatch(/^hyperparameter importance .*: /);
    const again = await runCli(['tune', '--space', 'seed', '--max-trials', '1', '--overwrite', ...TINY], cwd);
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('help', () => {
  it('tune --help names every built-in space', async () => {
    const help = await runCli(['tune', '--help'], cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--space <name\|file>\s+auto, tabular, image, default, mlp, seed, or a/);
  });
});
