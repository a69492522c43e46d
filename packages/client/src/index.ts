export { type ClientOptions, type LabelledOptions, type Timed, TuneserveClient, toClassification } from './client.js';
export { AuthError, ClientError, HttpError, ResponseFormatError, TimeoutError, UnreachableError } from './errors.js';
export { NamedError } from './named-error.js';
export {
  type Box,
  centreOfMass,
  EmptyImageError,
  greyToInk,
  ImageShapeError,
  type InkImage,
  inkBoundingBox,
  MNIST_BOX,
  MNIST_SIDE,
  type PreprocessOptions,
  toMnistInput,
} from './preprocess.js';
export { seededRandom } from './random.js';
export { dominates, hypervolume, type ParetoTrial, paretoFront, type RankableTrial, rankTrials } from './ranking.js';
export type {
  CategoricalFeature,
  ClassificationOutput,
  Feature,
  ImageInput,
  InputSchema,
  NumericFeature,
  OutputSchema,
  RegressionOutput,
  TabularInput,
  TensorInput,
} from './schema.js';
export {
  curveMetrics,
  hyperparameterNames,
  type ParallelAxis,
  parallelCoordinates,
  trialCurves,
  type ViewTrial,
} from './study-views.js';
export { renderDigit } from './terminal.js';
export type {
  Classification,
  HpValue,
  ImportanceStatus,
  LabelledAnswer,
  LabelledPrediction,
  MetricPoint,
  ModelList,
  ModelMetadataJson,
  ModelStatus,
  ModelSummary,
  RepositoryEntry,
  Sample,
  ScoredLabel,
  ServedModel,
  StudyJson,
  TrialJson,
  V2InferRequest,
  V2InferResponse,
  V2Tensor,
} from './types.js';
