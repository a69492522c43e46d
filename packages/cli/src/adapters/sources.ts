/** Adapters from the tuner's study view and a data set's test split to the server's read-only sources. */
import { loadDataset, type Split } from '@tuneserve/data';
import type { Sample, SampleSource, StudyJson, StudyModel, StudySource } from '@tuneserve/server';
import { loadStudy } from '@tuneserve/tuner';

/** Where studies live, and which one to show for models that do not record theirs. */
export interface StudyPlace {
  directory: string;
  storage?: string;
  /** The study of a model without a training record (default: the one named after the model), and of no model. */
  projectName?: string;
}

/**
 * The study a served model was tuned in: the project `train` recorded in its metadata (training.study); none for a
 * model trained with fixed hyperparameters (training.study = null); for a model without a training record (exported
 * elsewhere, or before records), the configured study, else the one named after the model.
 */
export function studyProjectOf(model: StudyModel | undefined, configured: string | undefined): string | undefined {
  const training = model?.metadata?.training;
  if (training && typeof training === 'object' && 'study' in training) {
    const study = (training as { study: unknown }).study;
    if (study === null) return undefined;
    const project = (study as { projectName?: unknown }).projectName;
    if (typeof project === 'string' && project) return project;
  }
  return configured ?? model?.name ?? 'mnist';
}

export function studySourceFor(at: StudyPlace): StudySource {
  return {
    async getStudy(model?: StudyModel): Promise<StudyJson | undefined> {
      const projectName = studyProjectOf(model, at.projectName);
      if (projectName === undefined) return undefined;
      return loadStudy({ directory: at.directory, projectName, ...(at.storage ? { storage: at.storage } : {}) });
    },
  };
}

/** Test-split examples as samples: index in [0, size), the model's input values and the label (class index). */
export class SplitSampleSource implements SampleSource {
  constructor(private readonly split: Split) {}

  get size(): number {
    return this.split.count;
  }

  sample(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.split.count) {
      throw new RangeError(`sample index must be an integer in [0, ${this.split.count - 1}], got ${index}`);
    }
    const size = this.split.x.length / this.split.count;
    return {
      index,
      label: this.split.y[index] ?? -1,
      instances: Array.from(this.split.x.subarray(index * size, (index + 1) * size)),
    };
  }
}

/** The MNIST test images (or another IDX folder's) as samples for the digit page. */
export async function mnistSampleSource(dataDir?: string): Promise<SampleSource> {
  return new SplitSampleSource((await loadDataset(dataDir ?? 'mnist')).test);
}
