/**
 * The HTTP ceiling for bench:serve: a Fastify server on the same machine that parses the same
 * bodies as tuneserve (JSON, and the reference route's JSON-in-a-string) and answers a constant
 * (also for KServe v2 infer, the REST side of the gRPC comparison).
 * Usage: node noop.js <port>
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
const constant = { predictions: [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]] };

app.post('/predict', async (req, reply) => {
  const doc =
    typeof req.body === 'string'
      ? (JSON.parse(req.body) as { instances?: unknown })
      : (req.body as { instances?: unknown });
  if (!Array.isArray(doc.instances)) return reply.code(400).send({ error: 'no instances' });
  return reply.type('text/html; charset=utf-8').send('This number is a 0');
});
app.post('/v1/models/:target', async (req, reply) => {
  const doc = req.body as { instances?: unknown };
  if (!Array.isArray(doc.instances)) return reply.code(400).send({ error: 'no instances' });
  return constant;
});

const v2Answer = {
  model_name: 'mnist',
  outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 10], data: constant.predictions[0] }],
};
app.post('/v2/models/:name/infer', async (req, reply) => {
  const doc = req.body as { inputs?: unknown };
  if (!Array.isArray(doc.inputs)) return reply.code(400).send({ error: 'no inputs' });
  return v2Answer;
});

const port = Number(process.argv[2] ?? 0);
const url = await app.listen({ port, host: '127.0.0.1' });
process.stderr.write(`noop listening at ${url}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
