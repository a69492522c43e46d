export { createServer, MiB, SERVER_VERSION, type ServerOptions, startServer, type TuneServer } from './app.js';
export { ApiKeys, parseKeyFile, sha256 } from './auth.js';
export {
  DeadlineExceededError,
  HttpError,
  InvalidInputError,
  ModelLoadError,
  NotFoundError,
  NotReadyError,
  UnimplementedError,
} from './errors.js';
export type { ModelManager, ServedVersion, VersionState } from './model/manager.js';
export type * from './sources.js';
export {
  type Batch,
  type InputSpec,
  parseBatchTensor,
  parseColumnarInputs,
  parseKserveInput,
  parseRowInstances,
  parseSingleExample,
  readDenseTensor,
} from './tensor-input.js';
