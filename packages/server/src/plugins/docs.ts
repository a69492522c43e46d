/** OpenAPI 3 description of every route (collected from the route schemas) at /openapi.json and /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { registerWithPolicy } from '../route-policy.js';

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
  // The documentation UI is open by design: it shows what /openapi.json shows, and holds no data.
  await registerWithPolicy(app, { auth: 'open', page: true }, async (scope) => {
    await scope.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { url: '/openapi.json' } as Record<string, unknown>,
    });
  });
  app.get('/openapi.json', { config: { auth: 'open' }, schema: { hide: true } }, async () => app.swagger());
}
