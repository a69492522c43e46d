/**
 * What each route declares about itself, read by the security plugin on the *matched* route (never on the raw URL,
 * which the router decodes and normalises differently: `/%70redict` is routed to `/predict`). A route without a
 * declaration needs a key (deny by default), and so does a request that matches no route.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

/** 'open': anyone may call it; 'key': a valid API key is needed whenever keys are configured. */
export type RouteAuth = 'open' | 'key';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route. Unset counts as 'key'. */
    auth?: RouteAuth;
    /** The route answers a page a browser renders with sub-resources (HTML, scripts): page headers, not API ones. */
    page?: boolean;
  }
}

export interface RoutePolicy {
  auth: RouteAuth;
  page?: boolean;
}

/** One registered route and what it declared (`declared: false` means it fell back to 'key'). */
export interface RouteEntry {
  method: string;
  url: string;
  auth: RouteAuth;
  declared: boolean;
}

const methodsOf = (route: RouteOptions): string[] => (Array.isArray(route.method) ? route.method : [route.method]);

/**
 * Every route the app registers, as the onRoute hook saw it (the auth tests walk this list). The route's options are
 * read when the list is asked for: a scope's own onRoute hook (registerWithPolicy) runs after the root's recorder.
 */
export class RouteTable {
  private readonly seen: { method: string; url: string; route: RouteOptions }[] = [];

  record(route: RouteOptions): void {
    for (const method of methodsOf(route)) this.seen.push({ method, url: route.url, route });
  }

  get routes(): RouteEntry[] {
    return this.seen.map(({ method, url, route }) => {
      const declared = route.config?.auth;
      return { method, url, auth: declared ?? 'key', declared: declared !== undefined };
    });
  }
}

/**
 * Registers routes whose plugins we do not write (swagger-ui, @fastify/static) in their own encapsulated scope, and
 * gives each route that declares nothing there this policy. The onRoute hook runs before Fastify reads a route's
 * config, and again for the HEAD route it adds to each GET, so both carry the declaration.
 */
export async function registerWithPolicy(
  app: FastifyInstance,
  policy: RoutePolicy,
  register: (scope: FastifyInstance) => Promise<void>,
): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      if (route.config?.auth !== undefined) return;
      route.config = { ...route.config, auth: policy.auth, ...(policy.page ? { page: true } : {}) };
    });
    await register(scope);
  });
}
