/** The web front end's static bundle at `/`; without one, `/` lists the API entry points. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { ServingContext } from '../context.js';

export const staticPlugin: FastifyPluginAsync<{ webRoot?: string | undefined; ctx: ServingContext }> = async (
  app,
  { webRoot, ctx },
) => {
  if (webRoot && existsSync(webRoot)) {
    await app.register(fastifyStatic, { root: resolve(webRoot), prefix: '/' });
    return;
  }
  app.get('/', { config: { auth: 'open' }, schema: { hide: true } }, async () => {
    const modelName = ctx.models.defaultModel()?.name ?? '{name}';
    return {
      name: 'tuneserve',
      model: modelName,
      endpoints: [
        '/predict',
        `/v1/models/${modelName}:predict`,
        `/v2/models/${modelName}/infer`,
        '/api/models',
        '/metrics',
        '/docs',
        '/openapi.json',
      ],
    };
  });
};
