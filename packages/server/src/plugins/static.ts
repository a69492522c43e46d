/** The web front end's static bundle at `/`; without one, `/` lists the API entry points. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { ServingContext } from '../context.js';
import { registerWithPolicy } from '../route-policy.js';

export const staticPlugin: FastifyPluginAsync<{ webRoot?: string | undefined; ctx: ServingContext }> = async (
  app,
  { webRoot, ctx },
) => {
  if (webRoot && existsSync(webRoot)) {
    // The page's files are public by design; the data it shows comes from /api routes, which need a key. One route
    // per file found at start (no catch-all): any other path stays with the 404 handler, which needs a key.
    await registerWithPolicy(app, { auth: 'open', page: true }, async (scope) => {
      await scope.register(fastifyStatic, { root: resolve(webRoot), prefix: '/', wildcard: false });
    });
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
