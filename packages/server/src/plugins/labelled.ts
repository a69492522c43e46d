/**
 * tuneserve's own prediction route for people and the web page: any model, raw inputs in, class
 * names (or target values) out. `POST /api/models/{name}/predict` takes
 * - JSON `{"instances": [...], "top_k": 3}`: named features, `{"b64": ...}` images or plain tensors;
 * - a raw `image/png|jpeg|webp` (or application/octet-stream) body: one image;
 * - `multipart/form-data`: every file part is an image of the batch, a `top_k` field is read.
 * `top_k` may also be a query parameter. The answer: `{"model", "version", "predictions": [...]}`, each
 * prediction `{"label", "score", "top_k": [{"label", "score"}, ...]}` or `{"value"}`.
 */
import multipart from '@fastify/multipart';
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { answers, readTopK } from '../answers.js';
import { predictWithDeadline, resolveIn, type ServingContext } from '../context.js';
import { HttpError, InvalidInputError, NotFoundError } from '../errors.js';
import type { ServedVersion } from '../model/manager.js';
import { decodeImages, schemaRows } from '../raw-input.js';
import { type Batch, parseRowInstances } from '../tensor-input.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const labelledPlugin: FastifyPluginAsync<{ ctx: ServingContext }> = async (app, { ctx }) => {
  // Parsers and limits of this plugin's scope only: other routes keep taking JSON alone.
  await app.register(multipart, {
    limits: {
      fileSize: ctx.maxImageBytes,
      files: ctx.maxInstances,
      fields: 8,
      fieldSize: 1024,
      parts: ctx.maxInstances + 8,
    },
  });
  for (const type of [/^image\/[\w.+-]+$/, 'application/octet-stream'])
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: ctx.maxImageBytes }, (_req, body, done) =>
      done(null, body),
    );
  const limits = () => ({ maxPixels: ctx.maxImagePixels });

  const imageModel = (served: ServedVersion) => {
    if (served.input.kind !== 'image')
      throw new HttpError(415, `model takes ${served.input.kind} input, not images: send JSON {"instances": [...]}`);
    return served.input;
  };

  /** Every file part of a multipart upload is one image; a `top_k` field is read too. */
  async function fromMultipart(req: FastifyRequest, served: ServedVersion): Promise<{ batch: Batch; topK?: unknown }> {
    const schema = imageModel(served);
    const images: Uint8Array[] = [];
    let topK: unknown;
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') images.push(await part.toBuffer());
        else if (part.fieldname === 'top_k') topK = part.value;
      }
    } catch (e) {
      const err = e as { code?: string; statusCode?: number; message: string };
      if (err.code === 'FST_REQ_FILE_TOO_LARGE')
        throw new HttpError(413, `an uploaded image is larger than ${ctx.maxImageBytes} bytes`);
      if (err.statusCode && err.statusCode < 500) throw new HttpError(err.statusCode, err.message);
      throw new InvalidInputError(`the multipart body is malformed: ${err.message}`);
    }
    if (images.length === 0) throw new InvalidInputError('the multipart upload holds no file: attach an image');
    const batch = await decodeImages(schema, images, served.signature.exampleSize, limits(), (i) => `file ${i + 1}`);
    return { batch, topK };
  }

  app.post<{ Params: { name: string }; Querystring: { top_k?: string; version?: string } }>(
    '/api/models/:name/predict',
    {
      config: { auth: 'key' },
      bodyLimit: ctx.maxImageBytes,
      schema: {
        tags: ['web'],
        summary:
          'Predict with class names: JSON instances (named features, b64 images), a raw image body, or a multipart upload',
        querystring: {
          type: 'object',
          properties: { top_k: { type: 'string' }, version: { type: 'string' } },
        },
      },
    },
    async (req) => {
      const model = ctx.models.get(req.params.name);
      if (!model) throw new NotFoundError(`model "${req.params.name}" is not served here`);
      const served = resolveIn(model, { version: req.query.version });
      let batch: Batch;
      // The query's top_k is checked before any image is decoded.
      let topK: unknown = req.query.top_k;
      readTopK(topK, 'top_k');
      if (req.isMultipart()) {
        const upload = await fromMultipart(req, served);
        batch = upload.batch;
        topK ??= upload.topK;
      } else if (Buffer.isBuffer(req.body)) {
        if (req.body.length === 0) throw new InvalidInputError('the image body is empty');
        batch = await decodeImages(
          imageModel(served),
          [req.body],
          served.signature.exampleSize,
          limits(),
          () => 'body',
        );
      } else {
        if (!isRecord(req.body))
          throw new InvalidInputError('body must be {"instances": [...]}, an image, or a multipart upload');
        const { instances } = req.body;
        if (instances === undefined) throw new InvalidInputError('missing "instances"');
        topK ??= req.body.top_k;
        batch =
          (await schemaRows(served, instances, ctx.maxInstances, limits())) ??
          parseRowInstances(instances, served.signature, ctx.maxInstances);
      }
      const k = readTopK(topK, 'top_k');
      const out = await predictWithDeadline(ctx, served, batch);
      return {
        model: model.name,
        version: served.version,
        task: served.output.task,
        predictions: answers(served.output, out, batch.count, k),
      };
    },
  );
};
