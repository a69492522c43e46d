export {
  type AcquisitionKind,
  type AcquisitionSpec,
  acquisitionValue,
  type Candidate,
  optimizeAcquisition,
} from './acquisition.js';
export { type FitOptions, GaussianProcess, GaussianProcessError, type Prediction } from './gaussian-process.js';
export { minimize } from './lbfgs.js';
export { type MaternParams, matern52 } from './matern.js';
export { createRandom, type Random } from './random.js';
