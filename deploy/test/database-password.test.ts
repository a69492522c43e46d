/**
 * The study database's password travels the way compose.yaml and deploy/k8s pass it: in the
 * PGPASSWORD variable, with a storage URL that holds none, so it is on no command line. Checked with
 * the real CLI against the real PostgreSQL; a password put in the URL anyway (user info or
 * `?password=`) never shows in an error message.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasSystem, TEST_PG_URL } from '../../test-support/system.js';

const CLI = resolve(import.meta.dirname, '../../packages/cli/dist/bin.js');
const PROJECT = `no-such-study-${process.pid}`;

/** `tuneserve trials` against a storage URL: it connects, then finds no study (exit 2). */
function trials(storage: string, env: Record<string, string>): { code: number | null; output: string } {
  const run = spawnSync(process.execPath, [CLI, 'trials', '--storage', storage, '--project-name', PROJECT], {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: '', ...env },
    timeout: 60_000,
  });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

describe.skipIf(!hasSystem('postgres'))('the database password (real CLI, real PostgreSQL)', () => {
  const given = new URL(TEST_PG_URL);
  const password = decodeURIComponent(given.password);
  const bare = new URL(TEST_PG_URL);
  bare.password = '';

  it('is taken from PGPASSWORD when the storage URL holds none', () => {
    expect(bare.password).toBe('');
    const ok = trials(bare.toString(), { PGPASSWORD: password });
    expect(ok.output).toContain(`no study "${PROJECT}"`);
    expect(ok.code).toBe(2);
    // The control: the same URL with a wrong PGPASSWORD is refused by the server.
    const wrong = trials(bare.toString(), { PGPASSWORD: 'not-the-password' });
    expect(wrong.output).toMatch(/cannot connect to PostgreSQL at .*password authentication failed/);
    expect(wrong.code).toBe(2);
  });

  it('never prints a password given in the URL, as user info or as ?password=', () => {
    const secret = 'Sup3r-secret-value';
    const inQuery = new URL(bare);
    inQuery.search = `?sslmode=disable&password=${secret}`;
    const inUserInfo = new URL(bare);
    inUserInfo.password = secret;
    for (const url of [inQuery, inUserInfo]) {
      const run = trials(url.toString(), {});
      expect(run.output).toMatch(/password authentication failed/);
      expect(run.output).not.toContain(secret);
      expect(run.output).toContain('***');
    }
  });
});
