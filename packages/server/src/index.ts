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
export { GRPC_AUTH } from './grpc.js';
export {
  describePolicy,
  loadModelConfig,
  ModelConfigError,
  type ModelSpec,
  readModelConfig,
  type VersionPolicy,
} from './model/config.js';
export type { ModelManager, ServedVersion, VersionState } from './model/manager.js';
export type { ModelRegistry, RepositoryEntry, ServedModel } from './model/registry.js';
export type { RouteAuth, RouteEntry, RoutePolicy } from './route-policy.js';
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
