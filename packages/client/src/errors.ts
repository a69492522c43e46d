/** Every failure of a client call is one of these, so callers can tell them apart with instanceof. */
export class ClientError extends Error {
  override name = 'ClientError';
}

/** The server could not be reached at all (connection refused, DNS, TLS, reset). */
export class UnreachableError extends ClientError {
  override name = 'UnreachableError';
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach the server at ${url}: ${describeCause(cause)}`, { cause });
  }
}

/** No answer within the configured timeout. */
export class TimeoutError extends ClientError {
  override name = 'TimeoutError';
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from ${url} within ${timeoutMs} ms`);
  }
}

/** The server answered with a non-2xx status; `message` is its `{"error": ...}` text when it sent one. */
export class HttpError extends ClientError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly url: string,
    readonly serverMessage: string,
  ) {
    super(`${status} from ${url}: ${serverMessage}`);
  }
}

/** 401/403: an API key is required or was refused. */
export class AuthError extends HttpError {
  override name = 'AuthError';
}

/** A 2xx answer whose body is not what the protocol promises. */
export class ResponseFormatError extends ClientError {
  override name = 'ResponseFormatError';
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as Error & { cause?: unknown }).cause;
    if (inner instanceof Error) {
      const code = (inner as Error & { code?: string }).code;
      return code ? `${code} (${inner.message})` : inner.message;
    }
    return cause.message;
  }
  return String(cause);
}
