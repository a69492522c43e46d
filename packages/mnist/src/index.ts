export {
  defaultMnistDir,
  type LoadMnistOptions,
  labelHistogram,
  limitSamples,
  loadMnist,
  type MnistData,
  MnistDataError,
  type Split,
  slice,
} from './data.js';
export {
  DIGIT_LABELS,
  type ExportOptions,
  exportModel,
  type FinalTrainingOptions,
  type FinalTrainingResult,
  type HpValues,
  trainFinalModel,
} from './export.js';
export { encodeIdx, type IdxArray, type IdxData, type IdxDtype, IdxFormatError, parseIdx, readIdx } from './idx.js';
export {
  buildCnn,
  buildMlp,
  buildReferenceModel,
  type CnnOptions,
  type CompileOptions,
  canTrainConvolutions,
  type MlpOptions,
  type OptimizerName,
} from './models.js';
export { toTensors } from './tensors.js';
export {
  type BestEpochResult,
  type Evaluation,
  evaluateModel,
  type FitListener,
  type FitSettings,
  findBestEpoch,
  fitModel,
  type History,
  type Phase,
  retrainEpochs,
} from './training.js';
