/**
 * Routes for the web page: the served model, labelled samples, and the tuning study — the server's, and the one
 * each model was tuned in — as JSON and as server-sent events that fire whenever the study changes.
 */

import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import { parseInteger } from '@tuneserve/runtime';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { defaultModel, resolveIn, type ServingContext } from '../context.js';
import { HttpError, InvalidInputError, NotFoundError } from '../errors.js';
import type { ServedModel } from '../model/registry.js';
import type { ModelSampleSource, SampleSource, StudyModel, StudySource } from '../sources.js';
import type { StudyFeeds } from '../study-feed.js';

export interface ApiOptions {
  ctx: ServingContext;
  study?: StudySource | undefined;
  /** The studies' event streams, one feed per study shared by every client watching it. */
  feeds?: StudyFeeds | undefined;
  samples?: SampleSource | undefined;
  modelSamples?: ModelSampleSource | undefined;
}

const tags = ['web'];
const config = { auth: 'key' as const };

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app, { ctx, study, feeds, samples, modelSamples }) => {
  const describe = (model: ServedModel) => {
    const served = resolveIn(model, {});
    return {
      name: model.name,
      version: served.version,
      versions: model.versions.versions(),
      metadata: served.metadata,
    };
  };
  app.get(
    '/api/model',
    { config, schema: { tags, summary: 'The default model: name, latest version, loaded versions, metadata' } },
    async () => describe(defaultModel(ctx)),
  );
  app.get(
    '/api/models',
    {
      config,
      schema: {
        tags,
        summary: 'Every served model: name, readiness, latest version, input and output schema (for the model picker)',
      },
    },
    async () => ({
      default: ctx.models.defaultModel()?.name ?? null,
      models: ctx.models.list().map((model) => {
        const served = model.latest();
        return {
          name: model.name,
          ready: served !== undefined,
          version: served?.version ?? null,
          versions: model.versions.versions(),
          input: served?.input ?? null,
          output: served?.output ?? null,
          metadata: served?.metadata ?? null,
        };
      }),
    }),
  );
  app.get<{ Params: { name: string } }>(
    '/api/models/:name',
    { config, schema: { tags, summary: 'One model: latest version, loaded versions, metadata' } },
    async (req) => {
      const model = ctx.models.get(req.params.name);
      if (!model) throw new NotFoundError(`model "${req.params.name}" is not served here`);
      return describe(model);
    },
  );

  /** A served model as the sources see it: name and the latest version's metadata (404 when not served). */
  const studyModel = (name: string): StudyModel => {
    const model = ctx.models.get(name);
    if (!model) throw new NotFoundError(`model "${name}" is not served here`);
    return { name: model.name, metadata: model.latest()?.metadata };
  };

  const NO_SAMPLES = 'no sample data set is attached to this server';
  const sampleAt = (source: SampleSource | undefined, index: number | 'random', missing: string) => {
    if (!source || source.size === 0) throw new NotFoundError(missing);
    const at = index === 'random' ? Math.floor(Math.random() * source.size) : index;
    if (at < 0 || at >= source.size) throw new NotFoundError(`sample ${at} does not exist (0..${source.size - 1})`);
    return source.sample(at);
  };
  const indexOf = (text: string): number => {
    const index = parseInteger(text);
    if (index === undefined) throw new InvalidInputError(`sample index "${text}" is not a non-negative integer`);
    return index;
  };
  /** The test examples of the data the model was trained on; without a per-model source, the server's for the default model. */
  const samplesOf = async (name: string): Promise<{ source: SampleSource | undefined; missing: string }> => {
    const model = studyModel(name);
    const isDefault = ctx.models.defaultModel()?.name === model.name;
    const source = modelSamples ? await modelSamples.samplesFor(model) : isDefault ? samples : undefined;
    return { source, missing: `no test examples of the data model "${model.name}" was trained on are at hand` };
  };
  const indexParams = { type: 'object', properties: { name: { type: 'string' }, index: { type: 'string' } } };
  app.get('/api/samples/random', { config, schema: { tags, summary: 'A random labelled sample' } }, async () =>
    sampleAt(samples, 'random', NO_SAMPLES),
  );
  app.get<{ Params: { index: string } }>(
    '/api/samples/:index',
    { config, schema: { tags, summary: 'The labelled sample at an index', params: indexParams } },
    async (req) => sampleAt(samples, indexOf(req.params.index), NO_SAMPLES),
  );
  app.get<{ Params: { name: string } }>(
    '/api/models/:name/samples/random',
    {
      config,
      schema: { tags, summary: "A random test example of the model's data, with its raw values and true answer" },
    },
    async (req) => {
      const { source, missing } = await samplesOf(req.params.name);
      return sampleAt(source, 'random', missing);
    },
  );
  app.get<{ Params: { name: string; index: string } }>(
    '/api/models/:name/samples/:index',
    { config, schema: { tags, summary: "The model's test example at an index", params: indexParams } },
    async (req) => {
      const index = indexOf(req.params.index);
      const { source, missing } = await samplesOf(req.params.name);
      return sampleAt(source, index, missing);
    },
  );

  /** The server's study is the default model's when there is one, so /api/study and the picker's first model agree. */
  const defaultStudyModel = (): StudyModel | undefined => {
    const model = ctx.models.defaultModel();
    return model ? studyModel(model.name) : undefined;
  };
  const readStudy = async (model: StudyModel | undefined, missing: string) => {
    const current = study ? await study.getStudy(model) : undefined;
    if (!current) throw new NotFoundError(missing);
    return current;
  };
  app.get(
    '/api/study',
    { config, schema: { tags, summary: "The default model's tuning study and its trials" } },
    async () => readStudy(defaultStudyModel(), 'no tuning study is available'),
  );
  app.get<{ Params: { name: string } }>(
    '/api/models/:name/study',
    { config, schema: { tags, summary: 'The tuning study this model was tuned in, with its trials and importance' } },
    async (req) => {
      const model = studyModel(req.params.name);
      return readStudy(model, `no tuning study is available for model "${model.name}"`);
    },
  );

  // Open event streams are ended when the server closes, so shutdown never waits on them.
  app.addHook('preClose', async () => feeds?.close());
  const stream = (req: FastifyRequest, reply: FastifyReply, key: string, model: () => StudyModel | undefined) => {
    if (!feeds || !study) throw new NotFoundError('no tuning study is available');
    if (feeds.size >= feeds.maxStreams) {
      reply.header('retry-after', '5');
      throw new HttpError(503, `too many open event streams (at most ${feeds.maxStreams}); retry later`);
    }
    // The model is looked up on every poll, so a new version's study is followed.
    const feed = feeds.feed(key, () => study.getStudy(model()));
    reply.hijack();
    const res = reply.raw;
    // The security headers and request id set so far, which a hijacked reply would otherwise lose.
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) res.setHeader(name, value);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // HEAD: the headers say what a GET would stream; there is no body to wait for.
    if (req.method === 'HEAD' || !feed.subscribe(res)) res.end();
  };
  app.get(
    '/api/study/events',
    {
      config,
      schema: {
        tags,
        summary: "Server-sent events: `event: study` with the default model's study each time it changes",
      },
    },
    async (req, reply) => stream(req, reply, '', defaultStudyModel),
  );
  app.get<{ Params: { name: string } }>(
    '/api/models/:name/study/events',
    {
      config,
      schema: { tags, summary: "Server-sent events: `event: study` with this model's study each time it changes" },
    },
    async (req, reply) => {
      const name = studyModel(req.params.name).name;
      stream(req, reply, `model:${name}`, () => (ctx.models.get(name) ? studyModel(name) : undefined));
    },
  );
};
