/**
 * API keys. Keys are kept only as SHA-256 digests (plain keys from API_KEYS are hashed at start;
 * a key file holds digests), and a presented key is hashed and compared with timingSafeEqual over
 * every stored digest, so neither the comparison nor the loop reveals where a guess went wrong.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(plainKeys: string[] = [], hexDigests: string[] = []) {
    this.digests = [
      ...plainKeys.map((k) => sha256(k)),
      ...hexDigests.map((h, i) => {
        if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new Error(`API key hash #${i + 1} is not 64 hex digits (SHA-256)`);
        return Buffer.from(h, 'hex');
      }),
    ];
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  matches(key: string): boolean {
    const digest = sha256(key);
    let ok = false;
    for (const stored of this.digests) ok = timingSafeEqual(stored, digest) || ok;
    return ok;
  }

  /** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
  static fromHeaders(headers: Record<string, string | string[] | undefined>): string | undefined {
    const auth = headers.authorization;
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m?.[1]) return m[1];
    }
    const key = headers['x-api-key'];
    return typeof key === 'string' && key.length > 0 ? key : undefined;
  }
}

/** Parses a key file: one SHA-256 hex digest per line; blank lines and `#` comments are ignored. */
export function parseKeyFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0);
}
