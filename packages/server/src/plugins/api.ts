/**
 * Routes for the web page: the served model, labelled samples, and the tuning study (as JSON and
 * as server-sent events that fire whenever the study changes).
 */

import type { ServerResponse } from 'node:http';
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyPluginAsync } from 'fastify';
import type { ServingContext } from '../context.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { SampleSource, StudySource } from '../sources.js';

export interface ApiOptions {
  ctx: ServingContext;
  study?: StudySource | undefined;
  samples?: SampleSource | undefined;
  studyPollMs: number;
}

const tags = ['web'];

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app, { ctx, study, samples, studyPollMs }) => {
  app.get(
    '/api/model',
    { schema: { tags, summary: 'The served model: name, latest version, loaded versions, metadata' } },
    async () => {
      const served = ctx.models.require();
      return {
        name: ctx.modelName,
        version: served.version,
        versions: ctx.models.versions(),
        metadata: served.metadata,
      };
    },
  );

  const sampleAt = (index: number) => {
    if (!samples) throw new NotFoundError('no sample data set is attached to this server');
    if (index < 0 || index >= samples.size)
      throw new NotFoundError(`sample ${index} does not exist (0..${samples.size - 1})`);
    return samples.sample(index);
  };
  app.get('/api/samples/random', { schema: { tags, summary: 'A random labelled sample' } }, async () => {
    if (!samples) throw new NotFoundError('no sample data set is attached to this server');
    return sampleAt(Math.floor(Math.random() * samples.size));
  });
  app.get<{ Params: { index: string } }>(
    '/api/samples/:index',
    {
      schema: {
        tags,
        summary: 'The labelled sample at an index',
        params: { type: 'object', properties: { index: { type: 'string' } } },
      },
    },
    async (req) => {
      if (!/^\d{1,9}$/.test(req.params.index))
        throw new InvalidInputError(`sample index "${req.params.index}" is not a non-negative integer`);
      return sampleAt(Number(req.params.index));
    },
  );

  app.get('/api/study', { schema: { tags, summary: 'The tuning study and its trials' } }, async () => {
    const current = study ? await study.getStudy() : undefined;
    if (!current) throw new NotFoundError('no tuning study is available');
    return current;
  });

  // Open event streams are ended when the server closes, so shutdown never waits on them.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  app.get(
    '/api/study/events',
    { schema: { tags, summary: 'Server-sent events: `event: study` with the study each time it changes' } },
    async (req, reply) => {
      if (!study) throw new NotFoundError('no tuning study is available');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-request-id': req.id,
      });
      streams.add(res);
      let last = '';
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const stop = () => {
        stopped = true;
        clearTimeout(timer);
        streams.delete(res);
      };
      const tick = async () => {
        try {
          const current = await study.getStudy();
          const text = current ? JSON.stringify(current) : '';
          if (text && text !== last && !stopped) {
            last = text;
            res.write(`event: study\ndata: ${text}\n\n`);
          }
        } catch (e) {
          req.log.warn({ err: (e as Error).message }, 'study source failed');
        }
        if (!stopped) timer = setTimeout(tick, studyPollMs);
      };
      res.on('close', stop);
      res.write(': connected\n\n');
      await tick();
    },
  );
};
