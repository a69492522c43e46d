/** Maps the libraries' typed input errors to UsageError (exit 2) and makes Ctrl-C a clean stop. */
import { DataError } from '@tuneserve/data';
import {
  CrossValidationError,
  ModelDataMismatchError,
  SearchSpaceError,
  StudyNotFoundError,
  TunerUnavailableError,
} from '@tuneserve/pipeline';
import { BackendError, ModelFileError } from '@tuneserve/runtime';
import { HyperParameterError, ObjectiveError, StorageError } from '@tuneserve/tuner';
import { UsageError } from '../errors.js';

const INPUT_ERRORS = [
  DataError,
  CrossValidationError,
  ModelDataMismatchError,
  SearchSpaceError,
  StudyNotFoundError,
  TunerUnavailableError,
  ModelFileError,
  BackendError,
  HyperParameterError,
  ObjectiveError,
  StorageError,
];

/** Whether the libraries threw `err` because of what the user gave us (a flag, a variable, a file). */
export function isInputError(err: unknown): err is Error {
  return INPUT_ERRORS.some((cls) => err instanceof cls);
}

/** Rethrows errors caused by what the user gave us as UsageError; anything else unchanged. */
export function toUsageError(err: unknown): never {
  if (isInputError(err)) throw new UsageError(err.message);
  throw err;
}

/**
 * On Ctrl-C (or SIGTERM) print what was kept and exit 130 at once. Every completed epoch is already committed
 * (SQLite transactions and atomic checkpoint renames), so stopping between two JS turns loses nothing.
 * Returns a function that removes the handlers.
 */
export function exitOnInterrupt(what: string, hint: string): () => void {
  const handler = (signal: NodeJS.Signals) => {
    process.stderr.write(`\ntuneserve: ${what} interrupted (${signal}); ${hint}\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
