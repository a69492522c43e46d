export {
  dominates,
  hypervolume,
  type ParetoTrial,
  paretoFront,
  type RankableTrial,
  rankTrials,
} from '@tuneserve/client';
export {
  type CheckpointState,
  hasCheckpoint,
  loadCheckpoint,
  readCheckpointState,
  saveCheckpoint,
} from './checkpoint.js';
export { SearchDisplay, type Verbosity } from './display.js';
export { BaseTuner, type BaseTunerOptions } from './engine/base-tuner.js';
export {
  BUILTIN_METRICS,
  type BuiltinMetric,
  builtinMetricsOf,
  measureBuiltinMetrics,
} from './engine/builtin-metrics.js';
export { disposeModel } from './engine/executions.js';
export { type AggregatedMetrics, aggregateExecutions, intermediateValues, stdName } from './engine/metrics.js';
export {
  type EndTrialInput,
  Oracle,
  type OracleContext,
  type OracleOptions,
  type PopulateResult,
  type StudyLocation,
} from './engine/oracle.js';
export {
  type FoldData,
  type Folds,
  type SearchFitArgs,
  type TrialEpochs,
  Tuner,
  type TunerOptions,
} from './engine/tuner.js';
export {
  CheckpointError,
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
} from './hyperparameters/index.js';
export {
  hyperparameterImportance,
  type ImportanceOptions,
  type ImportanceTrial,
  type ObjectiveTrial,
  objectiveImportances,
} from './importance.js';
export {
  BackgroundImportance,
  type BackgroundImportanceOptions,
  type ImportanceProvider,
  type ImportanceSnapshot,
  inlineImportance,
} from './importance-service.js';
export {
  DefaultObjective,
  type Direction,
  inferDirection,
  MultiObjective,
  Objective,
  type ObjectiveInput,
  type ObjectiveSpec,
  objectiveFromSpec,
  paretoObjectives,
  scoreOf,
  toObjective,
} from './objective.js';
export { crowdingDistances, nonDominatedRanks } from './pareto.js';
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
export {
  BayesianOptimization,
  type BayesianOptimizationOptions,
  BayesianOptimizationOracle,
  type BayesianOptimizationOracleOptions,
} from './tuners/bayesian.js';
export { GridSearch, GridSearchOracle, gridSize, nextCombination } from './tuners/grid-search.js';
export {
  Hyperband,
  type HyperbandOptions,
  HyperbandOracle,
  type HyperbandOracleOptions,
  type HyperbandRound,
  type HyperbandTrialInfo,
  hyperbandBracketCount,
  hyperbandSchedule,
  hyperbandTrial,
} from './tuners/hyperband.js';
export { NSGA2, type NSGA2Options, NSGA2Oracle, type NSGA2OracleOptions } from './tuners/nsga2.js';
export { RandomSearch, RandomSearchOracle } from './tuners/random-search.js';
export {
  createTuner,
  isTunerKind,
  TUNER_KINDS,
  TUNERS,
  type TunerKind,
  type TunerOptionsByKind,
} from './tuners/registry.js';
export {
  defaultGamma,
  defaultWeights,
  TPE,
  type TPEOptions,
  TPEOracle,
  type TPEOracleOptions,
} from './tuners/tpe.js';
