export { type ClientOptions, type Timed, TuneserveClient, toClassification } from './client.js';
export { AuthError, ClientError, HttpError, ResponseFormatError, TimeoutError, UnreachableError } from './errors.js';
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
export { type RankableTrial, rankTrials } from './ranking.js';
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
export { renderDigit } from './terminal.js';
export type {
  Classification,
  HpValue,
  MetricPoint,
  ModelMetadataJson,
  ModelStatus,
  Sample,
  ServedModel,
  StudyJson,
  TrialJson,
} from './types.js';
