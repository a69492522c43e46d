/**
 * HTTP/1.1 over a plain TCP socket, for request targets that fetch and node:http would normalise or refuse
 * (absolute-form, percent-encoded, dot segments, odd slashes): the server sees exactly the bytes written here.
 */
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function rawRequest(
  baseUrl: string,
  method: string,
  target: string,
  options: {
    headers?: Record<string, string>;
    body?: string;
    /** Resolve once the status line and headers are in, and hang up (for streams that never end). */
    headersOnly?: boolean;
  } = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(baseUrl);
  const headers: Record<string, string> = { host: `${hostname}:${port}`, connection: 'close', ...options.headers };
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  const head = `${method} ${target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    // A request the server never finishes fails the test with its name instead of hanging it.
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no complete answer to ${method} ${target} within 10 s`));
    });
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, split < 0 ? text.length : split).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? Number.NaN);
      const replyHeaders: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const at = line.indexOf(':');
        if (at > 0) replyHeaders[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status, headers: replyHeaders, body: split < 0 ? '' : text.slice(split + 4) });
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (options.headersOnly && Buffer.concat(chunks).includes('\r\n\r\n')) {
        socket.destroy();
        finish();
      }
    });
    socket.on('error', reject);
    socket.on('end', finish);
    socket.write(head + (options.body ?? ''));
  });
}
