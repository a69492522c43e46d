export { adaptSplit } from './adapt.js';
export { type Augmentation, type AugmentedBatchesOptions, augmentedBatches } from './augment.js';
export type { Dataset, Split, SplitRecord, Task } from './dataset.js';
export {
  CrossValidationError,
  EnqueueError,
  ModelDataMismatchError,
  SearchSpaceError,
  StudyNotFoundError,
  TunerUnavailableError,
} from './errors.js';
export { evaluateModel, predictSplit } from './evaluate.js';
export {
  type ExportOptions,
  exportModel,
  type FinalTrainingOptions,
  type FinalTrainingResult,
  type HpValues,
  inputSchemaFor,
  trainFinalModel,
} from './export.js';
export {
  imageDims,
  PipelineHyperModel,
  type SpaceContext,
  type TrainingSettings,
} from './hypermodels/base.js';
export { IMAGE_BATCH_SIZES, ImageHyperModel } from './hypermodels/image.js';
export { TABULAR_BATCH_SIZES, TabularHyperModel } from './hypermodels/tabular.js';
export {
  type ClassificationMetrics,
  type ClassMetrics,
  classificationMetrics,
  type Evaluation,
  metricsSummary,
  type RegressionMetrics,
  regressionMetrics,
} from './metrics.js';
export {
  buildCnn,
  buildMlp,
  type CnnOptions,
  type CompileOptions,
  canTrainConvolutions,
  compileFor,
  type Head,
  headFor,
  type MlpOptions,
  type OptimizerName,
} from './models.js';
export { withSeed } from './random.js';
export { buildReport, type Report, type ReportInput, type ReportTrial } from './report.js';
export { exponentialDecay, type LearningRateSchedule, scheduleCallback } from './schedule.js';
export {
  autoSpaceName,
  hyperparametersFor,
  registerSpace,
  resolveSpace,
  type SearchSpace,
  type SpaceDefinition,
  searchSpace,
  spaceNames,
} from './space.js';
export {
  type DataSpec,
  frontLabel,
  type PipelineInfo,
  type RankedConfiguration,
  rankTrials,
  readPipelineInfo,
  requireStudy,
  type StudyLocation,
  writePipelineInfo,
} from './study.js';
export { limitSamples } from './subset.js';
export { modelInputShape, sliceSplit, toTensors } from './tensors.js';
export {
  type BestEpochResult,
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
  defaultObjective,
  describeObjective,
  type ObjectiveChoice,
  PRUNER_KINDS,
  type PrunerKind,
  runTune,
  TUNER_KINDS,
  type TuneOptions,
  type TuneResult,
  type TunerKind,
  toTunerObjective,
} from './tune.js';
