export { shiftAugmentation, shiftImage } from './augment.js';
export {
  AUGMENT_SHIFT,
  BATCH_SIZES,
  CNN_LR_DECAY,
  DefaultHyperModel,
  MNIST_CONTEXT,
  MNIST_SPACE_NAMES,
  registerMnistSpaces,
  SeedHyperModel,
} from './spaces.js';
