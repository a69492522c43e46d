/** The web front end's static bundle at `/`; without one, `/` lists the API entry points. */
import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

export const staticPlugin: FastifyPluginAsync<{ webRoot?: string | undefined; modelName: string }> = async (
  app,
  { webRoot, modelName },
) => {
  if (webRoot && existsSync(webRoot)) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/' });
    return;
  }
  app.get('/', { config: { auth: 'open' }, schema: { hide: true } }, async () => ({
    name: 'tuneserve',
    model: modelName,
    endpoints: [
      '/predict',
      `/v1/models/${modelName}:predict`,
      `/v2/models/${modelName}/infer`,
      '/metrics',
      '/docs',
      '/openapi.json',
    ],
  }));
};
