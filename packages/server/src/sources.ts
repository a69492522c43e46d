/**
 * Read-only data the server can expose besides the model, injected by whoever starts it (the
 * CLI). The server knows nothing of tuning or of MNIST: it only sees these small interfaces.
 */

import type { StudyJson } from '@tuneserve/client';

// The study's wire types are the client package's (one declaration); re-exported for the server's users.
export type { HpValue, MetricPoint, StudyJson, TrialJson } from '@tuneserve/client';

export interface StudySource {
  /** The current state of the study, or undefined when none exists yet. */
  getStudy(): Promise<StudyJson | undefined>;
}

/** A labelled example from a data set (GET /api/samples/random, /api/samples/:index). */
export interface Sample {
  index: number;
  label: number;
  /** Flat input values, e.g. 784 floats in [0,1] for MNIST. */
  instances: number[];
}

export interface SampleSource {
  readonly size: number;
  sample(index: number): Sample;
}
