export { DataError, type DataErrorWhere, FieldError, ImageDecodeError } from './errors.js';
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
  seededRandom,
} from './split.js';
export type { DataLoader, Dataset, LoadOptions, Split, SplitMembers, SplitRecord, Task } from './types.js';
