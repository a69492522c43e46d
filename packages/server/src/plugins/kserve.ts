/**
 * KServe / Open Inference Protocol v2 REST: health, server and model metadata, readiness, and
 * infer with one FP32 input whose shape covers the batch (data flat or nested, row-major).
 */
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyPluginAsync } from 'fastify';
import { classificationStrings, inTargetUnits } from '../answers.js';
import { predictWithDeadline, resolveIn, type ServingContext } from '../context.js';
import { HttpError, InvalidInputError, NotFoundError, NotReadyError } from '../errors.js';
import { schemaKserveInputs, v2Inputs } from '../raw-input.js';
import { parseKserveInput } from '../tensor-input.js';

const errorSchema = { type: 'object', properties: { error: { type: 'string' } } };
const tags = ['kserve-v2'];
const open = { auth: 'open' as const };
const key = { auth: 'key' as const };

export const kservePlugin: FastifyPluginAsync<{ ctx: ServingContext; version: string; modelControl: boolean }> = async (
  app,
  { ctx, version, modelControl },
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
    extensions: ['model_repository'],
  }));
  app.get('/v2/models', { config: key, schema: { tags, summary: 'Models served' } }, async () => ({
    models: ctx.models
      .list()
      .map((m) => ({ name: m.name, versions: m.versions.versions().map(String), ready: m.ready })),
  }));

  // Repository extension (as Triton's): the index always; load/unload only when model control is on.
  app.post(
    '/v2/repository/index',
    {
      config: key,
      schema: {
        tags,
        summary: 'Repository index: every model known to the server, its versions and state',
        body: { type: ['object', 'null'], properties: { ready: { type: 'boolean' } } },
      },
    },
    async (req) => {
      const onlyReady = (req.body as { ready?: boolean } | null | undefined)?.ready === true;
      const rows = await ctx.models.index();
      return onlyReady ? rows.filter((r) => r.state === 'READY') : rows;
    },
  );
  for (const action of ['load', 'unload'] as const) {
    app.post<{ Params: { name: string } }>(
      `/v2/repository/models/:name/${action}`,
      {
        config: key,
        schema: {
          tags,
          summary: `${action === 'load' ? 'Load (or re-read)' : 'Unload'} a model (needs --model-control)`,
        },
      },
      async (req, reply) => {
        if (!modelControl)
          throw new HttpError(403, `explicit model ${action} is disabled; start the server with model control enabled`);
        const name = req.params.name;
        const done = action === 'load' ? await ctx.models.load(name) : await ctx.models.unload(name);
        if (!done)
          throw new NotFoundError(
            action === 'load' ? `no model named ${name} in the repository` : `model ${name} is not loaded`,
          );
        return reply.code(200).send({});
      },
    );
  }

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    type P = { Params: { name: string; version?: string } };
    const find = (p: P['Params']) => {
      const model = ctx.models.get(p.name);
      if (!model) throw new NotFoundError(`Model with name ${p.name} does not exist.`);
      try {
        return { model, served: resolveIn(model, { version: p.version }) };
      } catch (e) {
        if (e instanceof NotReadyError) throw new NotReadyError(`Model with name ${p.name} is not ready.`);
        throw e;
      }
    };
    app.get<P>(
      prefix,
      { config: key, schema: { tags, summary: 'Model metadata', response: { 404: errorSchema } } },
      async (req) => {
        const { model, served } = find(req.params);
        const sig = served.signature;
        return {
          name: model.name,
          versions: model.versions.versions().map(String),
          platform: 'tensorflowjs_layers',
          inputs: v2Inputs(served),
          outputs: [{ name: sig.outputName, datatype: 'FP32', shape: [-1, sig.outputSize] }],
        };
      },
    );
    app.get<P>(`${prefix}/ready`, { config: key, schema: { tags, summary: 'Model readiness' } }, async (req) => {
      const { model } = find(req.params);
      return { name: model.name, ready: true };
    });
    app.post<P>(
      `${prefix}/infer`,
      {
        config: key,
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
                items: {
                  type: 'object',
                  required: ['name'],
                  properties: { name: { type: 'string' }, parameters: { type: 'object' } },
                },
              },
            },
          },
          response: { 400: errorSchema, 404: errorSchema, 503: errorSchema },
        },
      },
      async (req) => {
        const { model, served } = find(req.params);
        const body = req.body as {
          id?: string;
          inputs: unknown;
          outputs?: { name: string; parameters?: { classification?: unknown } }[];
        };
        const sig = served.signature;
        for (const out of body.outputs ?? []) {
          if (out.name !== sig.outputName) {
            throw new InvalidInputError(
              `requested output "${out.name}" does not exist; the model's output is "${sig.outputName}"`,
            );
          }
        }
        const batch =
          (await schemaKserveInputs(served, body.inputs, ctx.maxInstances, { maxPixels: ctx.maxImagePixels })) ??
          parseKserveInput(body.inputs, sig, ctx.maxInstances);
        const out = inTargetUnits(served.output, await predictWithDeadline(ctx, served, batch));
        const classes = body.outputs?.[0]?.parameters?.classification;
        const output =
          classes === undefined
            ? { name: sig.outputName, shape: [batch.count, sig.outputSize], datatype: 'FP32', data: Array.from(out) }
            : (() => {
                const data = classificationStrings(served.output, out, batch.count, classes);
                return {
                  name: sig.outputName,
                  shape: [batch.count, data.length / batch.count],
                  datatype: 'BYTES',
                  data,
                };
              })();
        return {
          model_name: model.name,
          model_version: String(served.version),
          id: body.id ?? req.id,
          outputs: [output],
        };
      },
    );
  }
};
