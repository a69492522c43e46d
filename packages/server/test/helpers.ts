/** Starting a real server on 127.0.0.1 for tests, and small HTTP helpers around fetch. */
import { createServer, type ServerOptions, type TuneServer } from '../src/index.js';

export interface Running extends TuneServer {
  url: string;
}

export async function start(options: ServerOptions): Promise<Running> {
  const server = await createServer({ logger: { level: 'silent' }, defaultMetrics: false, ...options });
  const url = await server.listen(0, '127.0.0.1');
  return { ...server, url };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

export async function http(
  url: string,
  init: { method?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (init.raw !== undefined) body = typeof init.raw === 'string' ? init.raw : new Uint8Array(init.raw);
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}
