/** A model file is missing, unreadable or inconsistent; the message names the file and the problem. */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
  constructor(
    message: string,
    /** The file or URL the problem was found in. */
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The requested TF.js backend is unknown or cannot be initialised. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
}
