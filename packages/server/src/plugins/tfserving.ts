/**
 * TensorFlow Serving REST API (api_rest.md): predict in row (`instances`) or columnar (`inputs`)
 * format, model status and metadata, by latest, `/versions/N` or `/labels/L`. The verb follows a
 * colon in the last path segment (`mnist:predict`), so routes capture that segment and split it.
 */
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { inTargetUnits, ranked, readTopK } from '../answers.js';
import {
  predictWithDeadline,
  resolveVersion,
  rowsJson,
  type ServingContext,
  type VersionSelector,
} from '../context.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import type { ServedVersion } from '../model/manager.js';
import { schemaColumns, schemaRows } from '../raw-input.js';
import { parseColumnarInputs, parseRowInstances } from '../tensor-input.js';

const SIGNATURE = 'serving_default';
const key = { auth: 'key' as const };
/** Predict handlers answer JSON text they wrote themselves (rowsJson); the type tells Fastify not to serialize it. */
const JSON_TYPE = 'application/json; charset=utf-8';
const errorSchema = { type: 'object', properties: { error: { type: 'string' } } };
const predictBody = {
  type: 'object',
  properties: {
    signature_name: { type: 'string' },
    examples: { description: 'Classify/regress: a list of examples (named features, {"b64": ...} images)' },
    context: { type: 'object', description: 'Classify/regress: features shared by every example' },
    instances: { description: 'Row format: a list with one element per example' },
    inputs: { description: 'Columnar format: the batch tensor, or {input_name: tensor}' },
  },
};
const predictResponse = {
  type: 'object',
  properties: {
    predictions: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    outputs: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    result: {
      type: 'array',
      description: 'classify: [[label, score], ...] per example, best first; regress: one value per example',
    },
  },
};

type Verb = 'predict' | 'classify' | 'regress';

function splitVerb(segment: string): { head: string; verb: Verb } {
  const at = segment.lastIndexOf(':');
  if (at <= 0) throw new NotFoundError(`expected <name>:predict in the URL, got "${segment}"`);
  const verb = segment.slice(at + 1);
  if (verb !== 'predict' && verb !== 'classify' && verb !== 'regress')
    throw new NotFoundError(`unknown verb ":${verb}"; use :predict, :classify or :regress`);
  return { head: segment.slice(0, at), verb };
}

/**
 * TF Serving's Classify and Regress (api_rest.md): `{"examples": [...], "context": {...}}`, each example
 * merged with the context. Examples are named features (tabular), `{"b64": ...}` images, or
 * `{"<input>": [numbers]}` for plain tensors. Classify answers `{"result": [[[label, score], ...], ...]}`
 * (best first; `top_k` optional), regress `{"result": [value, ...]}`.
 */
async function classifyOrRegress(
  ctx: ServingContext,
  body: unknown,
  served: ServedVersion,
  verb: Verb,
): Promise<string> {
  const doc = body as Record<string, unknown>;
  const output = served.output;
  if (verb === 'classify' && output.task !== 'classification')
    throw new InvalidInputError('this model is a regressor: use :regress (or :predict)');
  if (verb === 'regress' && output.task !== 'regression')
    throw new InvalidInputError('this model is a classifier: use :classify (or :predict)');
  if (doc.signature_name !== undefined && doc.signature_name !== SIGNATURE)
    throw new InvalidInputError(`Serving signature name: "${String(doc.signature_name)}" not found in signature def`);
  const examples = doc.examples;
  if (!Array.isArray(examples)) throw new InvalidInputError('missing "examples": a list of examples');
  const context = doc.context;
  if (context !== undefined && (typeof context !== 'object' || context === null || Array.isArray(context)))
    throw new InvalidInputError('"context" must be an object of features shared by every example');
  const merged = context
    ? examples.map((e) => (typeof e === 'object' && e !== null && !Array.isArray(e) ? { ...context, ...e } : e))
    : examples;
  const topK = readTopK(doc.top_k, 'top_k');
  const limits = { maxPixels: ctx.maxImagePixels };
  let batch = await schemaRows(served, merged, ctx.maxInstances, limits, 'examples');
  if (!batch) {
    // A plain-tensor model: each example names its one input, as a tf.Example feature list would.
    const rows = merged.map((e, i) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e) || Object.keys(e).length !== 1)
        throw new InvalidInputError(`examples[${i}] must be an object with the model's one input`);
      return Object.values(e)[0];
    });
    batch = parseRowInstances(rows, served.signature, ctx.maxInstances);
  }
  const out = await predictWithDeadline(ctx, served, batch);
  const size = served.signature.outputSize;
  if (output.task === 'regression') return JSON.stringify({ result: Array.from(inTargetUnits(served.output, out)) });
  const result = [];
  for (let r = 0; r < batch.count; r++) {
    const top = ranked(out.subarray(r * size, (r + 1) * size), output.labels, Math.min(topK ?? size, size));
    result.push(top.map((c) => [c.label, c.score]));
  }
  return JSON.stringify({ result });
}

/** Answers the JSON text of `{"predictions": ...}` (row format) or `{"outputs": ...}` (columnar format). */
async function predict(ctx: ServingContext, body: unknown, served: ServedVersion): Promise<string> {
  const doc = body as Record<string, unknown>;
  if (doc.signature_name !== undefined && doc.signature_name !== SIGNATURE) {
    throw new InvalidInputError(`Serving signature name: "${String(doc.signature_name)}" not found in signature def`);
  }
  const hasRows = doc.instances !== undefined;
  const hasColumns = doc.inputs !== undefined;
  if (hasRows && hasColumns) throw new InvalidInputError('a request may not hold both "instances" and "inputs"');
  if (!hasRows && !hasColumns)
    throw new InvalidInputError('missing "instances" (row format) or "inputs" (columnar format)');
  const sig = served.signature;
  const limits = { maxPixels: ctx.maxImagePixels };
  // Named features and b64 images for models with a schema; plain tensors for every model.
  const raw =
    served.input.kind === 'tensor'
      ? undefined
      : hasRows
        ? await schemaRows(served, doc.instances, ctx.maxInstances, limits)
        : await schemaColumns(served, doc.inputs, ctx.maxInstances, limits);
  const batch =
    raw ??
    (hasRows
      ? parseRowInstances(doc.instances, sig, ctx.maxInstances)
      : parseColumnarInputs(doc.inputs, sig, ctx.maxInstances));
  const out = inTargetUnits(served.output, await predictWithDeadline(ctx, served, batch));
  return rowsJson(hasRows ? 'predictions' : 'outputs', out, batch.count, sig.outputSize);
}

function status(ctx: ServingContext, name: string, sel: VersionSelector) {
  if (sel.version !== undefined || sel.label !== undefined) {
    const served = resolveVersion(ctx, name, sel);
    return { model_version_status: [entry(served.version, served.state)] };
  }
  const model = ctx.models.get(name);
  if (!model) throw new NotFoundError(`Could not find any versions of model ${name}`);
  const all = model.versions.statuses();
  if (all.length === 0) throw new NotFoundError(`Could not find any versions of model ${name}`);
  return { model_version_status: all.map((s) => entry(s.version, s.state)) };
}

const entry = (version: number, state: string) => ({
  version: String(version),
  state,
  status: { error_code: 'OK', error_message: '' },
});

function metadata(ctx: ServingContext, name: string, sel: VersionSelector) {
  const served = resolveVersion(ctx, name, sel);
  const sig = served.signature;
  const dims = (shape: number[]) => ({
    dim: [{ size: '-1', name: '' }, ...shape.map((d) => ({ size: String(d), name: '' }))],
    unknown_rank: false,
  });
  return {
    model_spec: { name, signature_name: '', version: String(served.version) },
    metadata: {
      signature_def: {
        signature_def: {
          [SIGNATURE]: {
            inputs: {
              [sig.inputName]: {
                dtype: 'DT_FLOAT',
                tensor_shape: dims(sig.exampleShape),
                name: `${SIGNATURE}_${sig.inputName}:0`,
              },
            },
            outputs: {
              [sig.outputName]: {
                dtype: 'DT_FLOAT',
                tensor_shape: dims([sig.outputSize]),
                name: `StatefulPartitionedCall:0`,
              },
            },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

function routes(
  app: FastifyInstance,
  ctx: ServingContext,
  prefix: string,
  selector: (p: Record<string, string>) => VersionSelector,
) {
  const tags = ['tensorflow-serving'];
  const response = { 400: errorSchema, 404: errorSchema, 503: errorSchema };
  app.get<{ Params: Record<string, string> }>(
    `/v1/models/:name${prefix}`,
    { config: key, schema: { tags, summary: 'Model status', response } },
    async (req) => status(ctx, req.params.name ?? '', selector(req.params)),
  );
  app.get<{ Params: Record<string, string> }>(
    `/v1/models/:name${prefix}/metadata`,
    { config: key, schema: { tags, summary: 'Model metadata (signature_def)', response } },
    async (req) => metadata(ctx, req.params.name ?? '', selector(req.params)),
  );
}

export const tfServingPlugin: FastifyPluginAsync<{ ctx: ServingContext }> = async (app, { ctx }) => {
  const tags = ['tensorflow-serving'];
  const schema = (summary: string) => ({
    tags,
    summary,
    body: predictBody,
    response: { 200: predictResponse, 400: errorSchema, 404: errorSchema, 503: errorSchema },
  });
  const run = (verb: Verb, body: unknown, served: ServedVersion) =>
    verb === 'predict' ? predict(ctx, body, served) : classifyOrRegress(ctx, body, served, verb);
  app.post<{ Params: { target: string } }>(
    '/v1/models/:target',
    { config: key, schema: schema('Predict with the latest version (POST /v1/models/{name}:predict)') },
    async (req, reply) => {
      const { head, verb } = splitVerb(req.params.target);
      reply.type(JSON_TYPE);
      return run(verb, req.body, resolveVersion(ctx, head, {}));
    },
  );
  app.post<{ Params: { name: string; target: string } }>(
    '/v1/models/:name/versions/:target',
    { config: key, schema: schema('Predict with a specific version (POST /v1/models/{name}/versions/{v}:predict)') },
    async (req, reply) => {
      const { head, verb } = splitVerb(req.params.target);
      reply.type(JSON_TYPE);
      return run(verb, req.body, resolveVersion(ctx, req.params.name, { version: head }));
    },
  );
  app.post<{ Params: { name: string; target: string } }>(
    '/v1/models/:name/labels/:target',
    { config: key, schema: schema('Predict with a labelled version (POST /v1/models/{name}/labels/{label}:predict)') },
    async (req, reply) => {
      const { head, verb } = splitVerb(req.params.target);
      reply.type(JSON_TYPE);
      return run(verb, req.body, resolveVersion(ctx, req.params.name, { label: head }));
    },
  );
  routes(app, ctx, '', () => ({}));
  routes(app, ctx, '/versions/:version', (p) => ({ version: p.version }));
  routes(app, ctx, '/labels/:label', (p) => ({ label: p.label }));
};
