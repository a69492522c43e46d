export {
  BACKEND_NAMES,
  type BackendInfo,
  type BackendName,
  describe as describeBackend,
  type InitBackendOptions,
  initBackend,
} from './backend.js';
export { BOOLEAN_WORDS, booleanEnv, parseBoolean, parseInteger } from './env.js';
export { BackendError, ModelFileError } from './errors.js';
export {
  chooseInference,
  type Inference,
  type InferencePath,
} from './inference/choose.js';
export { hostConvPlan } from './inference/conv-plan.js';
export { type DensePlan, denseInferencePlan, type HostPlan, hostDensePlan } from './inference/dense-plan.js';
export { type LatencyOptions, type LatencyResult, measureLatency } from './inference/latency.js';
export {
  copyModel,
  diskFullReason,
  type LoadLimits,
  loadLayersModel,
  type ModelFiles,
  publishedDir,
  readModelFiles,
  saveLayersModel,
} from './model/files.js';
export { METADATA_JSON, type ModelMetadata, ModelRepository, versionOf } from './model/repository.js';
export { type HostConv, type HostGemm, hostConv, hostGemm, setBlasThreads } from './native/accelerator.js';
export {
  createOptimizer,
  DEFAULT_LEARNING_RATES,
  learningRateOf,
  OPTIMIZER_NAMES,
  type OptimizerName,
  setLearningRate,
} from './optimizers.js';
export { TUNESERVE_VERSION } from './version.js';
