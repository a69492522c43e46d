/**
 * The model folder changing under a running server, for real on disk: a version copied in file by
 * file (`cp -r` style) is loaded once complete; a served folder deleted or overwritten with garbage
 * keeps serving the loaded version, readiness stays true while it can answer, and the log says why.
 */
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDir, image, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const servers: Running[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A pino destination that keeps every log line's message. */
function logSink(): { stream: Writable; messages: string[] } {
  const messages: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { stream, messages };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const predict = async (server: Running, pixel: number) =>
  (await http(`${server.url}/predict`, { body: { instances: image(pixel) } })).text;

describe('model files changing on disk while serving', () => {
  it('loads a version copied in file by file once the copy is complete', async () => {
    const base = await freshDir('copy');
    const root = join(base, 'mnist');
    await writeModel(join(root, '1'), 'identity');
    await writeModel(join(base, 'staged'), 'reversed');
    const log = logSink();
    const server = await start({ modelDir: root, pollIntervalMs: 30, logger: { level: 'info', stream: log.stream } });
    servers.push(server);
    expect(await predict(server, 3)).toBe('This number is a 3');

    // model.json first, as `cp -r` may do: the weights are missing, so the load fails...
    await mkdir(join(root, '2'));
    await cp(join(base, 'staged', 'model.json'), join(root, '2', 'model.json'));
    await until('the failed load', () => log.messages.some((m) => m.startsWith('could not load version 2')));
    // ...then half the weights (a truncated shard fails the byte count)...
    const weights = await readFile(join(base, 'staged', 'weights.bin'));
    await writeFile(join(root, '2', 'weights.bin'), weights.subarray(0, weights.length >> 1));
    await until('the second failed load', () => log.messages.filter((m) => m.includes('version 2')).length >= 3);
    expect(log.messages.join('\n')).toMatch(/could not load version 2: .*weights\.bin.* bytes/);
    expect(server.models.list()[0]?.versions.versions()).toEqual([1]);
    expect(await predict(server, 3)).toBe('This number is a 3');
    // ...then the rest: the changed files are noticed and version 2 loads.
    await writeFile(join(root, '2', 'weights.bin'), weights);
    await cp(join(base, 'staged', 'metadata.json'), join(root, '2', 'metadata.json'));
    await until('version 2', () => server.models.list()[0]?.versions.versions().includes(2) ?? false);
    expect(await predict(server, 3)).toBe('This number is a 6');
    expect(log.messages).toContain('version 2: its files changed since it failed to load; loading it again');
  });

  it('does not retry a broken version whose files do not change', async () => {
    const root = join(await freshDir('stuck'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    await mkdir(join(root, '2'));
    await writeFile(join(root, '2', 'model.json'), '{"modelTopology": ');
    const log = logSink();
    const server = await start({ modelDir: root, pollIntervalMs: 20, logger: { level: 'info', stream: log.stream } });
    servers.push(server);
    await until('version 1', () => server.models.list()[0]?.versions.versions().includes(1) ?? false);
    await new Promise((r) => setTimeout(r, 300)); // 15 more polls
    expect(log.messages.filter((m) => m.startsWith('could not load version 2'))).toHaveLength(1);
    expect(server.models.list()[0]?.versions.versions()).toEqual([1]);
  });

  it('keeps serving when the versions folder is deleted, then refilled with garbage', async () => {
    const root = join(await freshDir('deleted'), 'mnist');
    await writeModel(join(root, '1'), 'identity');
    const log = logSink();
    const server = await start({ modelDir: root, pollIntervalMs: 30, logger: { level: 'info', stream: log.stream } });
    servers.push(server);

    await rm(root, { recursive: true });
    await until('the log line', () => log.messages.some((m) => m.includes('is gone')));
    expect(log.messages).toContain(
      `version 1: its folder ${join(root, '1')} is gone or unreadable; still serving the copy loaded in memory (publish a new model as a new version folder)`,
    );
    expect(await predict(server, 4)).toBe('This number is a 4');
    const ready = await http(`${server.url}/v2/health/ready`);
    expect([ready.status, ready.json()]).toEqual([200, { ready: true }]);

    // The same version number comes back as garbage: not reloaded in place, still serving.
    await mkdir(join(root, '.staging'), { recursive: true });
    await writeFile(join(root, '.staging', 'model.json'), 'garbage');
    await writeFile(join(root, '.staging', 'weights.bin'), 'garbage');
    await rename(join(root, '.staging'), join(root, '1'));
    await until('the log line', () => log.messages.some((m) => m.includes('changed on disk')));
    // A garbage new version fails to load and does not replace the served one.
    await mkdir(join(root, '2'));
    await writeFile(join(root, '2', 'model.json'), '\u0000\u0001not json');
    await until('the failed load', () => log.messages.some((m) => m.startsWith('could not load version 2')));
    expect(log.messages.find((m) => m.startsWith('could not load version 2'))).toContain('not valid JSON');
    expect(await predict(server, 4)).toBe('This number is a 4');
    expect((await http(`${server.url}/v2/health/ready`)).status).toBe(200);
    const status = (await http(`${server.url}/v1/models/mnist`)).json() as {
      model_version_status: { version: string; state: string }[];
    };
    expect(status.model_version_status.map((s) => [s.version, s.state])).toEqual([['1', 'AVAILABLE']]);
    // Each change is logged once, not on every poll: quiet polls add no line.
    const drift = () => log.messages.filter((m) => m.includes('is gone') || m.includes('changed on disk')).length;
    const before = drift();
    await new Promise((r) => setTimeout(r, 300));
    expect(drift()).toBe(before);

    // The truth after a restart on that garbage: nothing loadable, so not ready.
    const restarted = await start({ modelDir: root, pollIntervalMs: 30 });
    servers.push(restarted);
    expect((await http(`${restarted.url}/v2/health/ready`)).status).toBe(503);
    expect((await http(`${restarted.url}/predict`, { body: { instances: image(4) } })).status).toBe(503);
  });

  it('keeps serving a single model folder whose files are overwritten, and says so', async () => {
    const dir = join(await freshDir('single'), 'digits');
    await writeModel(dir, 'reversed');
    const log = logSink();
    const server = await start({ modelDir: dir, pollIntervalMs: 30, logger: { level: 'info', stream: log.stream } });
    servers.push(server);
    expect(await predict(server, 2)).toBe('This number is a 7');
    await writeFile(join(dir, 'weights.bin'), 'garbage');
    await writeFile(join(dir, 'model.json'), '{}');
    await until('the log line', () => log.messages.some((m) => m.includes('changed on disk')));
    expect(await predict(server, 2)).toBe('This number is a 7');
    expect((await http(`${server.url}/v2/health/ready`)).status).toBe(200);
  });
});
