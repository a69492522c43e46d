/**
 * Each served model's study: /api/models/:name/study (and its event stream) hands the study source that model's
 * name and metadata, /api/study the default model's; unknown models and models without a study get 404 naming
 * them. Real HTTP on 127.0.0.1 against a server with two models on disk.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyJson, StudyModel, StudySource } from '../src/sources.js';
import { freshDir, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';
import { writeWine } from './schema-fixtures.js';

/** A study named after what the source was asked for: the model and the project its metadata records. */
const echo: StudySource = {
  async getStudy(model?: StudyModel): Promise<StudyJson | undefined> {
    const training = model?.metadata?.training as { study?: { projectName: string } } | undefined;
    if (model?.name === 'mnist') return undefined; // this model has no study
    return {
      name: `${model?.name ?? 'none'}/${training?.study?.projectName ?? 'unrecorded'}`,
      tuner: 'random',
      objective: { name: 'val_accuracy', direction: 'max' },
      maxTrials: 1,
      trials: [],
    };
  },
};

describe('per-model studies', () => {
  let server: Running;
  beforeAll(async () => {
    const root = join(await freshDir('study-routes'), 'models');
    await writeModel(join(root, 'mnist', '1'), 'identity');
    const wine = await writeWine(root);
    const file = join(wine, 'metadata.json');
    const metadata = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...metadata, training: { study: { projectName: 'wine-search' } } }));
    server = await start({ modelRoot: root, defaultModel: 'wine', study: echo, pollIntervalMs: 0, studyPollMs: 20 });
  });
  afterAll(async () => server?.close());

  it("gives the source each model's name and metadata, and /api/study the default model's", async () => {
    const wine = await http(`${server.url}/api/models/wine/study`);
    expect(wine.status).toBe(200);
    expect((wine.json() as StudyJson).name).toBe('wine/wine-search');
    expect(((await http(`${server.url}/api/study`)).json() as StudyJson).name).toBe('wine/wine-search');
  });

  it('answers 404 naming the model when it is not served or has no study', async () => {
    const unknown = await http(`${server.url}/api/models/nope/study`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'model "nope" is not served here' });
    const none = await http(`${server.url}/api/models/mnist/study`);
    expect(none.status).toBe(404);
    expect(none.json()).toEqual({ error: 'no tuning study is available for model "mnist"' });
    expect((await http(`${server.url}/api/models/nope/study/events`)).status).toBe(404);
  });

  it("streams the model's own study as server-sent events", async () => {
    const abort = new AbortController();
    const res = await fetch(`${server.url}/api/models/wine/study/events`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('event: study')) text += (await reader.read()).value ?? '';
    while (!/event: study\ndata: .*\n\n/.test(text)) text += (await reader.read()).value ?? '';
    const data = /event: study\ndata: (.*)\n\n/.exec(text)![1]!;
    expect((JSON.parse(data) as StudyJson).name).toBe('wine/wine-search');
    abort.abort();
  });
});
