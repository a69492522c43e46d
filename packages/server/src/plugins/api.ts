/**
 * Routes for the web page: the served model, labelled samples, and the tuning study (as JSON and
 * as server-sent events that fire whenever the study changes).
 */

import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import { parseInteger } from '@tuneserve/runtime';
import type { FastifyPluginAsync } from 'fastify';
import { defaultModel, resolveIn, type ServingContext } from '../context.js';
import { HttpError, InvalidInputError, NotFoundError } from '../errors.js';
import type { ServedModel } from '../model/registry.js';
import type { SampleSource, StudySource } from '../sources.js';
import type { StudyFeed } from '../study-feed.js';

export interface ApiOptions {
  ctx: ServingContext;
  study?: StudySource | undefined;
  /** The study's event stream, shared by every /api/study/events client. */
  feed?: StudyFeed | undefined;
  samples?: SampleSource | undefined;
}

const tags = ['web'];
const config = { auth: 'key' as const };

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app, { ctx, study, feed, samples }) => {
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

  const sampleAt = (index: number) => {
    if (!samples) throw new NotFoundError('no sample data set is attached to this server');
    if (index < 0 || index >= samples.size)
      throw new NotFoundError(`sample ${index} does not exist (0..${samples.size - 1})`);
    return samples.sample(index);
  };
  app.get('/api/samples/random', { config, schema: { tags, summary: 'A random labelled sample' } }, async () => {
    if (!samples) throw new NotFoundError('no sample data set is attached to this server');
    return sampleAt(Math.floor(Math.random() * samples.size));
  });
  app.get<{ Params: { index: string } }>(
    '/api/samples/:index',
    {
      config,
      schema: {
        tags,
        summary: 'The labelled sample at an index',
        params: { type: 'object', properties: { index: { type: 'string' } } },
      },
    },
    async (req) => {
      const index = parseInteger(req.params.index);
      if (index === undefined)
        throw new InvalidInputError(`sample index "${req.params.index}" is not a non-negative integer`);
      return sampleAt(index);
    },
  );

  app.get('/api/study', { config, schema: { tags, summary: 'The tuning study and its trials' } }, async () => {
    const current = study ? await study.getStudy() : undefined;
    if (!current) throw new NotFoundError('no tuning study is available');
    return current;
  });

  // Open event streams are ended when the server closes, so shutdown never waits on them.
  app.addHook('preClose', async () => feed?.close());
  app.get(
    '/api/study/events',
    { config, schema: { tags, summary: 'Server-sent events: `event: study` with the study each time it changes' } },
    async (req, reply) => {
      if (!feed) throw new NotFoundError('no tuning study is available');
      if (feed.size >= feed.maxStreams) {
        reply.header('retry-after', '5');
        throw new HttpError(503, `too many open event streams (at most ${feed.maxStreams}); retry later`);
      }
      reply.hijack();
      const res = reply.raw;
      // The security headers and request id set so far, which a hijacked reply would otherwise lose.
      for (const [name, value] of Object.entries(reply.getHeaders()))
        if (value !== undefined) res.setHeader(name, value);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      // HEAD: the headers say what a GET would stream; there is no body to wait for.
      if (req.method === 'HEAD' || !feed.subscribe(res)) res.end();
    },
  );
};
