/**
 * Security at the root of the app: security headers (helmet's for pages, OWASP's REST set for the API), CORS allow-list, per-key/IP rate
 * limit (429 + Retry-After), and API-key checks. Health, docs and the web page stay open; model,
 * inference, /api and (unless configured open) /metrics routes need a key when keys are set.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import { ApiKeys, sha256 } from '../auth.js';
import { HttpError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'open': no key needed; 'key': key needed when keys are set. Unset: decided by URL prefix. */
    auth?: 'open' | 'key';
  }
}

export interface SecurityOptions {
  keys: ApiKeys;
  corsOrigins: string[];
  /** Requests per window per key (or per IP without a key); 0 turns rate limiting off. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  https: boolean;
}

const PROTECTED = /^\/(predict|v1\/|v2\/models|api\/|metrics)/;
/** Machine-facing routes: they answer JSON or text to programs, never a page a browser renders with sub-resources. */
const API = /^\/(predict|v1\/|v2\/|api\/|metrics|openapi\.json)/;

/**
 * Headers for API responses, after OWASP's REST Security Cheat Sheet: no caching of predictions, no sniffing, no
 * framing, a CSP that allows nothing (a JSON or text answer loads no resources). Helmet's full set is for pages; on
 * an API it adds ~600 bytes per response that every client must parse and that protect nothing there.
 */
function apiHeaders(https: boolean): Record<string, string> {
  return {
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    ...(https ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  };
}

function needsKey(req: FastifyRequest): boolean {
  const mode = req.routeOptions.config?.auth;
  if (mode) return mode === 'key';
  return PROTECTED.test(req.url);
}

/**
 * The headers helmet sets for these options, computed once. Our options hold no per-request
 * values (no nonces, no directive functions), so every response gets the same set; @fastify/helmet
 * instead rebuilds helmet and re-parses the CSP on every request, which cost more than inference.
 */
function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

const security: FastifyPluginAsync<SecurityOptions> = async (app, opts) => {
  const pageHeaders = helmetHeaders({
    hsts: opts.https,
    contentSecurityPolicy: {
      directives: {
        'img-src': ["'self'", 'data:', 'blob:'],
        // Over plain HTTP (e.g. a LAN address) upgrading sub-requests to https would break the page.
        'upgrade-insecure-requests': opts.https ? [] : null,
      },
    },
  });
  const restHeaders = apiHeaders(opts.https);
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(API.test(req.url) ? restHeaders : pageHeaders);
    reply.header('x-request-id', req.id);
    done();
  });
  // With no allowed origins @fastify/cors would only run a per-request hook that adds nothing and a
  // catch-all OPTIONS route that answers 404, which is what Fastify does without it.
  if (opts.corsOrigins.length > 0) await app.register(cors, { origin: opts.corsOrigins });
  if (opts.rateLimitMax > 0) {
    await app.register(rateLimit, {
      max: opts.rateLimitMax,
      timeWindow: opts.rateLimitWindowMs,
      keyGenerator: (req) => {
        const key = ApiKeys.fromHeaders(req.headers);
        return key ? `key:${sha256(key).toString('hex')}` : `ip:${req.ip}`;
      },
      allowList: (req) => req.url.startsWith('/v2/health/'),
      errorResponseBuilder: (_req, context) =>
        new HttpError(
          429,
          `rate limit exceeded: at most ${context.max} requests per ${opts.rateLimitWindowMs} ms; retry in ${context.after}`,
        ),
    });
  }
  // Without keys there is nothing to check, and no hook to run per request.
  if (!opts.keys.enabled) return;
  app.addHook('onRequest', (req, reply, done) => {
    if (!needsKey(req)) return done();
    const key = ApiKeys.fromHeaders(req.headers);
    if (!key || !opts.keys.matches(key)) {
      reply.header('www-authenticate', 'Bearer');
      return done(
        new HttpError(
          401,
          key ? 'invalid API key' : 'missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
        ),
      );
    }
    done();
  });
};

export const securityPlugin = fp(security, { name: 'tuneserve-security' });
