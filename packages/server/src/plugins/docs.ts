/** OpenAPI 3 description of every route (collected from the route schemas) at /openapi.json and /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** Must be registered before the routes so it sees them all. */
export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tuneserve model server',
        version,
        description:
          'Reference /predict, TensorFlow Serving REST and KServe v2 inference for TF.js layers models. Errors are {"error": "..."}.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { url: '/openapi.json' } as Record<string, unknown>,
  });
  app.get('/openapi.json', { config: { auth: 'open' }, schema: { hide: true } }, async () => app.swagger());
}
