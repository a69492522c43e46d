export { DataError, type DataErrorWhere, FieldError, ImageDecodeError } from './errors.js';
export { drawFolds, type FoldOptions, foldSplits } from './folds.js';
export { type CsvOptions, csvLoader, loadCsv } from './loaders/csv.js';
export {
  defaultMnistDir,
  encodeIdx,
  type IdxArray,
  type IdxData,
  type IdxDtype,
  IdxFormatError,
  idxLoader,
  loadIdxDataset,
  MNIST_VALIDATION_SIZE,
  parseIdx,
  readIdx,
} from './loaders/idx.js';
export {
  defaultDecodeConcurrency,
  type ImageFolderOptions,
  imageFolderLoader,
  loadImageFolder,
} from './loaders/images.js';
export { loadDataset, loaders } from './registry.js';
export {
  complement,
  concat,
  DEFAULT_SEED,
  DEFAULT_TEST_SPLIT,
  DEFAULT_VAL_SPLIT,
  drawPartition,
  gather,
  head,
  type Partition,
} from './split.js';
export {
  DEFAULT_MAX_PIXELS,
  type DecodeLimits,
  decodeImage,
  type ImageFormat,
  sniffImageFormat,
} from './transform/image.js';
export {
  type CellValue,
  decodeRow,
  encodedWidth,
  encodeRows,
  type FeatureEncoder,
  featureEncoder,
  type TabularEncoder,
  tabularEncoder,
} from './transform/tabular.js';
export type { DataLoader, Dataset, LoadOptions, Split, SplitMembers, SplitRecord, Task } from './types.js';
