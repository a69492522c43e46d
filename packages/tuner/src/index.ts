export {
  type CheckpointState,
  hasCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  saveCheckpoint,
} from './checkpoint.js';
export { SearchDisplay, type Verbosity } from './display.js';
export {
  FailedTrialError,
  FatalError,
  HyperParameterError,
  ObjectiveError,
  StorageError,
  TooManyFailedTrialsError,
  TrialLostError,
} from './errors.js';
export { valuesHash } from './hash.js';
export { type BuildFn, type FitInput, FunctionHyperModel, HyperModel, type HyperModelOptions } from './hypermodel.js';
export {
  BooleanHp,
  Choice,
  type Condition,
  Fixed,
  Float,
  type HpKind,
  type HpValue,
  HyperParameter,
  type HyperParameterConfig,
  HyperParameters,
  type HyperParametersConfig,
  hyperParameterFromConfig,
  Int,
  type Sampling,
} from './hyperparameters.js';
export {
  DefaultObjective,
  type Direction,
  inferDirection,
  MultiObjective,
  Objective,
  type ObjectiveInput,
  type ObjectiveSpec,
  objectiveFromSpec,
  toObjective,
} from './objective.js';
export {
  type EndTrialInput,
  intermediateValues,
  Oracle,
  type OracleContext,
  type OracleOptions,
  type PopulateResult,
} from './oracle.js';
export {
  BayesianOptimization,
  type BayesianOptimizationOptions,
  BayesianOptimizationOracle,
  type BayesianOptimizationOracleOptions,
} from './oracles/bayesian.js';
export { GridSearchOracle, gridSize, nextCombination } from './oracles/grid-search.js';
export {
  Hyperband,
  type HyperbandOptions,
  HyperbandOracle,
  type HyperbandOracleOptions,
  type HyperbandRound,
  hyperbandBracketCount,
  hyperbandSchedule,
} from './oracles/hyperband.js';
export { RandomSearchOracle } from './oracles/random-search.js';
export {
  MedianPruner,
  type MedianPrunerOptions,
  type Pruner,
  type PrunerContext,
  SuccessiveHalvingPruner,
  type SuccessiveHalvingPrunerOptions,
} from './pruners.js';
export { seededUniform } from './random.js';
export { openStorage, registeredSchemes, registerStorage } from './storage/registry.js';
export { openSqliteStorage, SqliteStudyStorage } from './storage/sqlite.js';
export type {
  EpochMetric,
  StorageContext,
  StorageFactory,
  StudyRecord,
  StudyStorage,
  StudyStore,
  TrialRecord,
} from './storage/types.js';
export { type LoadStudyOptions, loadStudy, type StudyTrialView, type StudyView } from './study.js';
export type { HpValues, Trial, TrialResult, TrialStatus } from './trial.js';
export { FINISHED_STATUSES } from './trial.js';
export { disposeModel, type SearchFitArgs, Tuner, type TunerOptions } from './tuner.js';
export { GridSearch, RandomSearch } from './tuners.js';
