/** Adapters from the tuner's study view and a data set's test split to the server's read-only sources. */
import { loadDataset, type Split } from '@tuneserve/data';
import type { Sample, SampleSource, StudyJson, StudySource } from '@tuneserve/server';
import { loadStudy } from '@tuneserve/tuner';

export function studySourceFor(at: { directory: string; projectName: string; storage?: string }): StudySource {
  return {
    async getStudy(): Promise<StudyJson | undefined> {
      const view = await loadStudy(at);
      if (!view) return undefined;
      return view;
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
