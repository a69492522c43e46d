export * from './hp-types.js';
export { HyperParameters } from './hyperparameters.js';
