/**
 * The model's input and output schema as stored in an exported model's metadata.json (`input`,
 * `output`). Training fits it on the training split; the server, the client and the web page read it
 * to turn raw inputs (a row of named values, an image file) into the tensor the model takes, and the
 * model's output back into class names or values. Declared here, in the wire-types package, so every
 * side imports one definition.
 */

/** A numeric column: standardised as (x - mean) / std (std is never 0: constant columns store 1). */
export interface NumericFeature {
  name: string;
  type: 'number';
  mean: number;
  std: number;
  /** Training split's range, for forms and sanity checks (values outside are still accepted). */
  min: number;
  max: number;
  /** Fill value for a missing value when the model was trained with imputation; absent: missing is an error. */
  impute?: number;
}

/** A string column: one-hot over `categories` (in this order), plus one slot for unseen values when `other`. */
export interface CategoricalFeature {
  name: string;
  type: 'category';
  categories: string[];
  other: boolean;
  impute?: string;
}

export type Feature = NumericFeature | CategoricalFeature;

/** Named features; the model's input vector is each feature's encoding concatenated in this order. */
export interface TabularInput {
  kind: 'tabular';
  features: Feature[];
}

/**
 * An image: decoded, converted to `channels`, resized to width x height with `fit`, scaled to [0, 1]
 * (pixel / 255). `layout` says whether the model takes [height, width, channels] or the same values
 * flattened to [height * width * channels] (MNIST MLPs).
 */
export interface ImageInput {
  kind: 'image';
  width: number;
  height: number;
  channels: 1 | 3;
  fit: 'fill' | 'cover' | 'contain';
  layout: 'hwc' | 'flat';
  /** MNIST draws white ink on black; images are taken as they are otherwise. */
  invert?: boolean;
}

/** A plain numeric tensor of this shape (no preprocessing; models exported before schemas). */
export interface TensorInput {
  kind: 'tensor';
  shape: number[];
}

export type InputSchema = TabularInput | ImageInput | TensorInput;

export interface ClassificationOutput {
  task: 'classification';
  labels: string[];
}

/** The model predicts the standardised target; value = prediction * std + mean. */
export interface RegressionOutput {
  task: 'regression';
  target: string;
  mean: number;
  std: number;
}

export type OutputSchema = ClassificationOutput | RegressionOutput;
