/**
 * KServe / Open Inference Protocol v2 REST: health, server and model metadata, readiness, and
 * infer with one FP32 input whose shape covers the batch (data flat or nested, row-major).
 */
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyPluginAsync } from 'fastify';
import { predictWithDeadline, resolveVersion, type ServingContext } from '../context.js';
import { InvalidInputError, NotFoundError, NotReadyError } from '../errors.js';
import { parseKserveInput } from '../tensor-input.js';

const errorSchema = { type: 'object', properties: { error: { type: 'string' } } };
const tags = ['kserve-v2'];
const open = { auth: 'open' as const };

export const kservePlugin: FastifyPluginAsync<{ ctx: ServingContext; version: string }> = async (
  app,
  { ctx, version },
) => {
  app.get('/v2/health/live', { config: open, schema: { tags, summary: 'Liveness' } }, async () => ({ live: true }));
  app.get(
    '/v2/health/ready',
    { config: open, schema: { tags, summary: 'Readiness: a model answered its warm-up' } },
    async (_req, reply) => reply.code(ctx.models.ready ? 200 : 503).send({ ready: ctx.models.ready }),
  );
  app.get('/v2', { config: open, schema: { tags, summary: 'Server metadata' } }, async () => ({
    name: 'tuneserve',
    version,
    extensions: [],
  }));
  app.get('/v2/models', { schema: { tags, summary: 'Models served' } }, async () => ({
    models: [{ name: ctx.modelName, versions: ctx.models.versions().map(String), ready: ctx.models.ready }],
  }));

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    type P = { Params: { name: string; version?: string } };
    const find = (p: P['Params']) => {
      if (p.name !== ctx.modelName) throw new NotFoundError(`Model with name ${p.name} does not exist.`);
      try {
        return resolveVersion(ctx, p.name, { version: p.version });
      } catch (e) {
        if (e instanceof NotReadyError) throw new NotReadyError(`Model with name ${p.name} is not ready.`);
        throw e;
      }
    };
    app.get<P>(prefix, { schema: { tags, summary: 'Model metadata', response: { 404: errorSchema } } }, async (req) => {
      const served = find(req.params);
      const sig = served.signature;
      return {
        name: ctx.modelName,
        versions: ctx.models.versions().map(String),
        platform: 'tensorflowjs_layers',
        inputs: [{ name: sig.inputName, datatype: 'FP32', shape: [-1, ...sig.exampleShape] }],
        outputs: [{ name: sig.outputName, datatype: 'FP32', shape: [-1, sig.outputSize] }],
      };
    });
    app.get<P>(`${prefix}/ready`, { schema: { tags, summary: 'Model readiness' } }, async (req) => {
      find(req.params);
      return { name: ctx.modelName, ready: true };
    });
    app.post<P>(
      `${prefix}/infer`,
      {
        schema: {
          tags,
          summary: 'Inference (Open Inference Protocol v2)',
          body: {
            type: 'object',
            required: ['inputs'],
            properties: {
              id: { type: 'string' },
              parameters: { type: 'object' },
              inputs: { type: 'array' },
              outputs: {
                type: 'array',
                items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
              },
            },
          },
          response: { 400: errorSchema, 404: errorSchema, 503: errorSchema },
        },
      },
      async (req) => {
        const served = find(req.params);
        const body = req.body as { id?: string; inputs: unknown; outputs?: { name: string }[] };
        const sig = served.signature;
        for (const out of body.outputs ?? []) {
          if (out.name !== sig.outputName) {
            throw new InvalidInputError(
              `requested output "${out.name}" does not exist; the model's output is "${sig.outputName}"`,
            );
          }
        }
        const batch = parseKserveInput(body.inputs, sig, ctx.maxInstances);
        const out = await predictWithDeadline(ctx, served, batch);
        return {
          model_name: ctx.modelName,
          model_version: String(served.version),
          id: body.id ?? req.id,
          outputs: [
            { name: sig.outputName, shape: [batch.count, sig.outputSize], datatype: 'FP32', data: Array.from(out) },
          ],
        };
      },
    );
  }
};
