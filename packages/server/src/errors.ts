/**
 * Typed errors that carry the HTTP status they map to. Handlers throw these; the error handler in
 * app.ts turns them into `{"error": message}` with the status. Messages are meant for clients:
 * they never hold stack traces or paths of this machine.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed or out-of-contract input (TF Serving INVALID_ARGUMENT). */
export class InvalidInputError extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

/** Unknown model, version or label (TF Serving NOT_FOUND). */
export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

/** No model is loaded yet, or the server is shutting down (TF Serving UNAVAILABLE). */
export class NotReadyError extends HttpError {
  constructor(message: string) {
    super(503, message);
  }
}

/** The prediction did not finish within the deadline (TF Serving DEADLINE_EXCEEDED). */
export class DeadlineExceededError extends HttpError {
  constructor(message: string) {
    super(504, message);
  }
}

/** A verb or feature we do not offer (TF Serving UNIMPLEMENTED). */
export class UnimplementedError extends HttpError {
  constructor(message: string) {
    super(501, message);
  }
}

/** A model directory that cannot be loaded; the message names the file, relative to the model root. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}
