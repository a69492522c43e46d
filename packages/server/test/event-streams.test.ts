/**
 * /api/study/events under load: one shared poll of the study however many streams, a cap on open streams (503
 * beyond it), heartbeats, and a reader that stops reading dropped instead of buffered for. Real HTTP on 127.0.0.1.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyJson, StudySource } from '../src/sources.js';
import { freshDir, writeModel } from './fixtures.js';
import { type Running, start } from './helpers.js';

let modelDir: string;
const servers: Running[] = [];
const run = async (options: Omit<Parameters<typeof start>[0], 'modelDir'>) => {
  const s = await start({ modelDir, ...options });
  servers.push(s);
  return s;
};
beforeAll(async () => {
  modelDir = join(await freshDir('event-streams'), 'mnist');
  await writeModel(join(modelDir, '1'), 'identity');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const study = (maxTrials: number, message = ''): StudyJson => ({
  name: 's',
  tuner: 'random',
  objective: { name: 'val_acc', direction: 'max' },
  maxTrials,
  trials: message
    ? [
        {
          trialId: '0',
          status: 'RUNNING',
          hyperparameters: {},
          score: null,
          bestStep: null,
          startedAt: null,
          endedAt: null,
          durationMs: null,
          metrics: {},
          message,
        },
      ]
    : [],
});

/** A study that changes on every read: maxTrials counts the reads, so a stream's events show which reads it saw. */
function countingSource(message = ''): StudySource & { reads: number } {
  const source = {
    reads: 0,
    async getStudy() {
      source.reads++;
      return study(source.reads, message);
    },
  };
  return source;
}

interface OpenStream {
  status: number;
  text(): string;
  /** maxTrials of every `event: study` received so far. */
  versions(): number[];
  close(): void;
}

async function openStream(base: string): Promise<OpenStream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/study/events`, { signal: abort.signal });
  let text = '';
  if (res.ok && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    })().catch(() => {});
  } else {
    text = await res.text();
  }
  return {
    status: res.status,
    text: () => text,
    versions: () =>
      text
        .split('\n\n')
        .filter((e) => e.startsWith('event: study'))
        .map((e) => (JSON.parse(e.slice(e.indexOf('data: ') + 6)) as StudyJson).maxTrials ?? -1),
    close: () => abort.abort(),
  };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const metric = async (server: Running, name: string): Promise<number> => {
  const text = await server.metrics.registry.getSingleMetricAsString(name);
  return Number(/\s(\d+(?:\.\d+)?)\s*$/.exec(text)?.[1] ?? Number.NaN);
};

describe('study event streams', () => {
  it('reads the study once per poll for all streams together, not once per stream', async () => {
    const source = countingSource();
    const server = await run({ study: source, studyPollMs: 20 });
    const streams = await Promise.all(Array.from({ length: 5 }, () => openStream(server.url)));
    await until('every stream has seen 8 versions', () => streams.every((s) => s.versions().length >= 8));
    for (const s of streams) s.close();
    for (const s of streams) {
      const seen = s.versions();
      // Each stream saw every read from the one it joined at: consecutive numbers, no reads of its own in between.
      expect(seen.slice(1).map((v, i) => v - (seen[i] ?? 0))).toEqual(Array(seen.length - 1).fill(1));
    }
    const newest = Math.max(...streams.flatMap((s) => s.versions()));
    expect(source.reads - newest).toBeLessThanOrEqual(2);
  });

  it('refuses streams beyond the cap with 503 and Retry-After, and takes new ones as others close', async () => {
    const server = await run({ study: countingSource(), eventStreams: { max: 2 } });
    const first = await openStream(server.url);
    const second = await openStream(server.url);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await fetch(`${server.url}/api/study/events`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(((await third.json()) as { error: string }).error).toMatch(/too many open event streams \(at most 2\)/);
    expect(await metric(server, 'tuneserve_event_streams')).toBe(2);
    first.close();
    await until('the server saw the stream close', async () => (await metric(server, 'tuneserve_event_streams')) === 1);
    const again = await openStream(server.url);
    expect(again.status).toBe(200);
    again.close();
    second.close();
  });

  it('sends heartbeat comment lines while the study does not change', async () => {
    const server = await run({ study: { getStudy: async () => study(1) }, eventStreams: { heartbeatMs: 30 } });
    const stream = await openStream(server.url);
    await until('two heartbeats arrived', () => stream.text().split(': heartbeat\n\n').length > 2);
    expect(stream.versions()).toEqual([1]);
    stream.close();
  });

  it('drops a reader that stopped reading, and keeps streaming to the others', async () => {
    // 100 kB frames 50 times a second: a reader that takes nothing fills the socket buffers within seconds.
    const server = await run({ study: countingSource('x'.repeat(100_000)), studyPollMs: 20 });
    const { port } = new URL(server.url);
    const stalled: Socket = connect(Number(port), '127.0.0.1');
    let stalledClosed = false;
    stalled.on('close', () => {
      stalledClosed = true;
    });
    stalled.on('error', () => {});
    stalled.write('GET /api/study/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    stalled.pause(); // never reads: no 'data' listener, paused
    const healthy = await openStream(server.url);
    await until(
      'the stalled stream was dropped',
      async () => (await metric(server, 'tuneserve_event_streams_dropped_total')) >= 1,
      60_000,
    );
    expect(await metric(server, 'tuneserve_event_streams')).toBe(1);
    const before = healthy.versions().length;
    await until('the healthy stream keeps receiving', () => healthy.versions().length >= before + 3);
    stalled.resume(); // now read what was sent before the drop, up to the server's hang-up
    await until('the stalled socket saw the hang-up', () => stalledClosed);
    healthy.close();
  });
});
