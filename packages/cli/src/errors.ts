/** A problem with what the user asked for (bad flag, missing file, unknown name): exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
