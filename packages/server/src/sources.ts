/**
 * Read-only data the server can expose besides the model, injected by whoever starts it (the
 * CLI). The server knows nothing of tuning or of MNIST: it only sees these small interfaces.
 */

import type { Sample, StudyJson } from '@tuneserve/client';

// The study's wire types are the client package's (one declaration); re-exported for the server's users.
export type { HpValue, MetricPoint, Sample, StudyJson, TrialJson } from '@tuneserve/client';

/** A served model as a study source sees it: its name and the metadata of its latest version (what it was tuned in). */
export interface StudyModel {
  name: string;
  /** metadata.json as exported (the pipeline records the study under `training.study`). */
  metadata: Record<string, unknown> | undefined;
}

export interface StudySource {
  /**
   * The current state of the study `model` was tuned in (without a model: the server's study), or undefined when
   * there is none (yet).
   */
  getStudy(model?: StudyModel): Promise<StudyJson | undefined>;
  /** Releases what the source holds (a worker computing importance); called once when the server closes. */
  close?(): Promise<void>;
}

/** Labelled test examples of one data set (GET /api/samples/random, /api/samples/:index). */
export interface SampleSource {
  readonly size: number;
  sample(index: number): Sample;
}

/** The test examples of the data each served model was trained on (GET /api/models/:name/samples/…). */
export interface ModelSampleSource {
  /** The model's samples, or undefined when its data is not known or not at hand. */
  samplesFor(model: StudyModel): Promise<SampleSource | undefined>;
}
