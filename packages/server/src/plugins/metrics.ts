/** GET /metrics in the Prometheus text format, plus the hooks that count requests and latency. */
import type {} from '@fastify/swagger'; // brings the OpenAPI fields (tags, summary) into route schemas
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerMetrics } from '../metrics.js';

const hooks: FastifyPluginAsync<{ metrics: ServerMetrics }> = async (app, { metrics }) => {
  // The labelled series of each (method, route, status), resolved once: prom-client otherwise validates and hashes
  // the label object on every call. Routes are the registered patterns, so the map stays small.
  const series = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();
  // A callback-style hook (no promise per request); Fastify already times the request.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${req.method} ${reply.statusCode} ${route}`;
    let s = series.get(key);
    if (!s) {
      const labels = { method: req.method, route };
      s = {
        count: metrics.requests.labels({ ...labels, status: String(reply.statusCode) }),
        latency: metrics.latency.labels(labels),
      };
      series.set(key, s);
    }
    s.count.inc();
    s.latency.observe(reply.elapsedTime / 1000);
    done();
  });
};

/** Registered at the root (fastify-plugin) so the hooks see every route. */
export const metricsHooks = fp(hooks, { name: 'tuneserve-metrics-hooks' });

export const metricsPlugin: FastifyPluginAsync<{ metrics: ServerMetrics; open: boolean }> = async (
  app,
  { metrics, open },
) => {
  app.get(
    '/metrics',
    { config: { auth: open ? 'open' : 'key' }, schema: { tags: ['operations'], summary: 'Prometheus metrics' } },
    async (_req, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
};
