/**
 * The JSON body parser. Fastify's default parser (secure-json-parse) runs two regular expressions
 * over every object body to look for `"__proto__":` and `"constructor":` keys, spelled plainly or
 * with \u escapes. A body can only hold such a key if its text contains "proto", "constructor" or
 * a backslash-u escape, so bodies without any of them (every numeric tensor) are parsed with
 * JSON.parse alone; all others, and every body JSON.parse rejects, still go through the default
 * parser, which keeps its checks and its error replies (empty body, invalid JSON, poisoning).
 */
import type { FastifyInstance } from 'fastify';

function maySmuggleKeys(text: string): boolean {
  return text.includes('proto') || text.includes('constructor') || text.includes('\\u');
}

export function registerJsonParser(app: FastifyInstance): void {
  // JSON only: Fastify's stock text/plain parser would hand /predict a raw string (read as a reference
  // client's inner document) while the schema'd routes reject it, so every route answers it with 415.
  app.removeContentTypeParser('text/plain');
  const secure = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.length === 0 || text.charCodeAt(0) === 0xfeff || maySmuggleKeys(text)) {
      secure(req, text, done);
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      secure(req, text, done); // replies with Fastify's own invalid-JSON error
      return;
    }
    done(null, doc);
  });
}
