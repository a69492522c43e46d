/**
 * The reference system's route, wire-compatible with its Python client, which sends
 * `requests.post(url, json=json.dumps({"instances": data}))`: the JSON body is a *string* holding
 * the JSON document. The plain object is accepted too. The answer is the reference's exact text.
 * The inner document is read by a scanner for its common form (instances-text.ts) or with JSON.parse (the reference
 * used ast.literal_eval); nothing is evaluated.
 */
import type { FastifyPluginAsync } from 'fastify';
import { defaultModel, predictWithDeadline, resolveIn, type ServingContext } from '../context.js';
import { InvalidInputError } from '../errors.js';
import { readFlatInstances } from '../instances-text.js';
import { allocFloats, parseSingleExample } from '../tensor-input.js';

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function envelope(body: unknown): Record<string, unknown> {
  let doc = body;
  if (typeof body === 'string') {
    try {
      doc = JSON.parse(body);
    } catch {
      throw new InvalidInputError('body is a JSON string, but its content is not valid JSON');
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidInputError('body must be an object {"instances": [...]} (or a JSON string holding one)');
  }
  return doc as Record<string, unknown>;
}

export const referencePlugin: FastifyPluginAsync<{ ctx: ServingContext }> = async (app, { ctx }) => {
  /** The reference client's common case, read straight from the text; undefined sends it the general way. */
  const readFast = (body: unknown): Float32Array | undefined => {
    const size = ctx.models.defaultModel()?.latest()?.signature.exampleSize;
    if (typeof body !== 'string' || size === undefined) return undefined;
    const out = allocFloats(size);
    return readFlatInstances(body, out) ? out : undefined;
  };

  app.post(
    '/predict',
    {
      config: { auth: 'key' },
      schema: {
        tags: ['reference'],
        summary: 'Reference-compatible prediction: one image in, "This number is a N" out',
        description:
          'Body: {"instances": [784 numbers]} or a JSON string holding that document (what the reference Python client sends). instances may be flat, [[784]] or 28x28.',
        body: { anyOf: [{ type: 'string' }, { type: 'object' }] },
        response: { 200: { type: 'string', description: 'text/html: This number is a N' } },
      },
    },
    async (request, reply) => {
      const served = resolveIn(defaultModel(ctx), {});
      const values = readFast(request.body) ?? parseSingleExample(envelope(request.body).instances, served.signature);
      const out = await predictWithDeadline(ctx, served, { values, count: 1 });
      let best = 0;
      for (let i = 1; i < out.length; i++) if ((out[i] ?? -Infinity) > (out[best] ?? -Infinity)) best = i;
      const label = served.signature.labels[best] ?? String(best);
      return reply.type('text/html; charset=utf-8').send(`This number is a ${escapeHtml(label)}`);
    },
  );
};
