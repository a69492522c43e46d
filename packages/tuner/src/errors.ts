/** Typed errors of the tuner. Callers branch on the class, never on the message. */

/** An invalid hyperparameter definition or lookup (bad range, unknown name, redefinition...). */
export class HyperParameterError extends Error {
  override name = 'HyperParameterError';
}

/** An objective that cannot be resolved (unknown direction, missing from a trial's metrics). */
export class ObjectiveError extends Error {
  override name = 'ObjectiveError';
}

/** Aborts the whole search at once (Keras Tuner's FatalError). */
export class FatalError extends Error {
  override name = 'FatalError';
}

/** Marks the current trial FAILED without retrying it (Keras Tuner's FailedTrialError). */
export class FailedTrialError extends Error {
  override name = 'FailedTrialError';
}

/** Raised by the search when too many trials failed in a row. */
export class TooManyFailedTrialsError extends Error {
  override name = 'TooManyFailedTrialsError';
}

/** The study storage could not be opened, read or written. */
export class StorageError extends Error {
  override name = 'StorageError';
}

/**
 * This worker no longer owns the trial: it stopped heartbeating long enough for another worker to
 * take the trial over (or finish it). Its result is discarded so it cannot overwrite the new owner's.
 */
export class TrialLostError extends Error {
  override name = 'TrialLostError';
}

/** A checkpoint could not be written (e.g. the disk is full); the previous checkpoint is untouched. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
