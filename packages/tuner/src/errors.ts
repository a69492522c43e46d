/** Typed errors of the tuner. Callers branch on the class, never on the message. */
import { NamedError } from '@tuneserve/client';

/** An invalid hyperparameter definition or lookup (bad range, unknown name, redefinition...). */
export class HyperParameterError extends NamedError {}

/** An objective that cannot be resolved (unknown direction, missing from a trial's metrics). */
export class ObjectiveError extends NamedError {}

/** Aborts the whole search at once (Keras Tuner's FatalError). */
export class FatalError extends NamedError {}

/** Marks the current trial FAILED without retrying it (Keras Tuner's FailedTrialError). */
export class FailedTrialError extends NamedError {}

/** Raised by the search when too many trials failed in a row. */
export class TooManyFailedTrialsError extends NamedError {}

/** The study storage could not be opened, read or written. */
export class StorageError extends NamedError {}

/**
 * This worker no longer owns the trial: it stopped heartbeating long enough for another worker to
 * take the trial over (or finish it). Its result is discarded so it cannot overwrite the new owner's.
 */
export class TrialLostError extends NamedError {}

/** A checkpoint could not be written (e.g. the disk is full); the previous checkpoint is untouched. */
export class CheckpointError extends NamedError {}
