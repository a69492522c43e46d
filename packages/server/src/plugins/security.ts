/**
 * Security at the root of the app: security headers (helmet's for pages, OWASP's REST set for the API), CORS
 * allow-list, API-key checks with a lock-out of addresses that keep failing, and a rate limit per verified key or
 * client address (429 + Retry-After). Every decision reads the matched route's own declaration (route-policy.ts).
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import { ApiKeys } from '../auth.js';
import type { AuthFailureGuard } from '../auth-guard.js';
import { HttpError } from '../errors.js';
import { keyDigest, type RequestRateLimiter, rateBucket } from '../rate-limit.js';
import type { RoutePolicy, RouteTable } from '../route-policy.js';

export interface SecurityOptions {
  keys: ApiKeys;
  corsOrigins: string[];
  /** Requests per window per verified key (or per client address without one), shared with gRPC; absent: no limit. */
  rateLimiter?: RequestRateLimiter | undefined;
  /** Failed authentications per client address (shared with the gRPC server): past its limit, 429. */
  guard: AuthFailureGuard;
  https: boolean;
  /** Receives every route the app registers, with its declared auth. */
  routes: RouteTable;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A short digest of the API key this request presented, once verified; rate limits are keyed on it. */
    verifiedKey: string | null;
  }
}

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

/**
 * Decided on the route the router matched, the same one that will handle the request, so no spelling of a URL
 * (percent-encoded, absolute-form, odd case or slashes) can reach a handler the decision did not see. A route
 * that declares nothing, and a request that matched no route (the 404 handler), need a key.
 */
const needsKey = (req: FastifyRequest): boolean => req.routeOptions.config?.auth !== 'open';
/** Page headers only where a route says it renders a page; everything else, 404s included, gets the strict API set. */
const isPage = (req: FastifyRequest): boolean => req.routeOptions.config?.page === true;

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

const MISSING_KEY = 'missing API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"';

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
  app.decorateRequest('verifiedKey', null);

  // Routes registered while a third-party plugin loads here get this declaration (its OPTIONS catch-all, see below).
  let declaring: RoutePolicy | undefined;
  app.addHook('onRoute', (route) => {
    if (declaring && route.config?.auth === undefined) route.config = { ...route.config, ...declaring };
    opts.routes.record(route);
  });

  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(isPage(req) ? pageHeaders : restHeaders);
    reply.header('x-request-id', req.id);
    done();
  });
  // With no allowed origins @fastify/cors would only run a per-request hook that adds nothing and a
  // catch-all OPTIONS route that answers 404, which is what Fastify does without it.
  if (opts.corsOrigins.length > 0) {
    // @fastify/cors answers allowed preflights in its onRequest hook, before the key check (browsers send no
    // credentials on a preflight); its catch-all OPTIONS route only ends the others with an empty answer or a 404.
    declaring = { auth: 'open' };
    await app.register(cors, { origin: opts.corsOrigins });
    declaring = undefined;
  }

  // Key check (only when keys are set: without keys there is nothing to check, and no hook to run per request).
  const guard = opts.guard;
  if (opts.keys.enabled) {
    app.addHook('onRequest', (req, reply, done) => {
      if (!needsKey(req)) return done();
      const blocked = guard.blockedFor(req.ip);
      if (blocked > 0) return done(tooManyFailures(reply, blocked));
      const key = ApiKeys.fromHeaders(req.headers);
      if (key && opts.keys.matches(key)) {
        req.verifiedKey = keyDigest(key);
        return done();
      }
      // Only a presented, wrong key is a guess; a missing one is a client that forgot it.
      const nowBlocked = key ? guard.fail(req.ip) : 0;
      if (nowBlocked > 0) {
        req.log.warn({ ip: req.ip }, 'too many failed API keys from this address: refusing it for a while');
        return done(tooManyFailures(reply, nowBlocked));
      }
      reply.header('www-authenticate', 'Bearer');
      done(new HttpError(401, key ? 'invalid API key' : MISSING_KEY));
    });
  }

  // Registered after the key check: its per-route hook runs after every root hook, so it sees the verified key.
  const limiter = opts.rateLimiter;
  if (limiter) {
    const { max, windowMs } = limiter.limit;
    await app.register(rateLimit, {
      max,
      timeWindow: windowMs,
      store: limiter.fastifyStore(),
      // Never an unverified header: every guessed key would get a fresh bucket.
      keyGenerator: (req) => rateBucket(req.verifiedKey, req.ip),
      allowList: (req) => req.routeOptions.url?.startsWith('/v2/health/') === true,
      errorResponseBuilder: (_req, context) =>
        new HttpError(
          429,
          `rate limit exceeded: at most ${max} requests per ${windowMs} ms; retry in ${context.after}`,
        ),
    });
  }
};

function tooManyFailures(reply: FastifyReply, blockedMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(blockedMs / 1000));
  reply.header('retry-after', String(seconds));
  return new HttpError(429, `too many failed API keys from this address; retry in ${seconds} s`);
}

export const securityPlugin = fp(security, { name: 'tuneserve-security' });
