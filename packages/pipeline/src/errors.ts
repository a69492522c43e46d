/** Typed errors of the pipeline; the CLI turns each into one line and exit code 2. */
import { NamedError } from '@tuneserve/client';

/** An unknown space name, or a space file that cannot be loaded or exports nothing usable. */
export class SearchSpaceError extends NamedError {}

/** No study under the given directory/project/storage. */
export class StudyNotFoundError extends NamedError {}

/** A tuner kind this build of @tuneserve/tuner does not provide. */
export class TunerUnavailableError extends NamedError {}

/** A model whose input or output does not fit the data it is given (another schema, another number of classes). */
export class ModelDataMismatchError extends NamedError {}

/** Cross-validation the data cannot do (a validation split of its own). Too few examples for the folds is a DataError. */
export class CrossValidationError extends NamedError {}

/** A configuration to enqueue that the space does not accept (an unknown name, a value out of range). */
export class EnqueueError extends NamedError {}
