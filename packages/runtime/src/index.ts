export {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  describe as describeBackend,
  type InitBackendOptions,
  initBackend,
} from './backend.js';
export { BOOLEAN_WORDS, booleanEnv, parseBoolean } from './env.js';
export { BackendError, ModelFileError } from './errors.js';
export { copyModel, type LoadLimits, loadLayersModel, saveLayersModel } from './model/files.js';
export { METADATA_JSON, type ModelMetadata, ModelRepository } from './model/repository.js';
export { type HostConv, type HostGemm, hostConv, hostGemm, setBlasThreads } from './native/accelerator.js';
export { createOptimizer, DEFAULT_LEARNING_RATES, OPTIMIZER_NAMES, type OptimizerName } from './optimizers.js';
export { TUNESERVE_VERSION } from './version.js';
export { geometry as addonGeometry } from './wasm/conv.js';
