export { type ShiftedBatchesOptions, shiftedBatches, shiftImage } from './augment.js';
export {
  defaultMnistDir,
  type LoadMnistOptions,
  labelHistogram,
  limitSamples,
  loadMnist,
  loadMnistTest,
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
export { buildReport, type Report, type ReportInput, type ReportTrial } from './report.js';
export {
  BATCH_SIZES,
  DefaultHyperModel,
  hyperparametersFor,
  MLP_AUGMENT_SHIFT,
  resolveSpace,
  type SearchSpace,
  SearchSpaceError,
  SeedHyperModel,
  SPACE_NAMES,
} from './spaces.js';
export {
  type PipelineInfo,
  type RankedConfiguration,
  rankTrials,
  readPipelineInfo,
  requireStudy,
  type StudyLocation,
  StudyNotFoundError,
  writePipelineInfo,
} from './study.js';
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
export {
  createTuner,
  PRUNER_KINDS,
  type PrunerKind,
  runTune,
  TUNER_KINDS,
  type TuneOptions,
  type TuneResult,
  type TunerKind,
  TunerUnavailableError,
} from './tune.js';
