export { shiftAugmentation, shiftImage } from './augment.js';
export {
  BATCH_SIZES,
  DefaultHyperModel,
  MLP_AUGMENT_SHIFT,
  MNIST_CONTEXT,
  MNIST_SPACE_NAMES,
  registerMnistSpaces,
  SeedHyperModel,
} from './spaces.js';
