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
export { encodeIdx, type IdxArray, type IdxData, type IdxDtype, IdxFormatError, parseIdx, readIdx } from './idx.js';
export { toTensors } from './tensors.js';
