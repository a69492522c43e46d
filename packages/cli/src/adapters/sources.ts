/** Adapters from the tuner's study view and the MNIST test set to the server's read-only sources. */
import { loadMnistTest, type Split } from '@tuneserve/mnist';
import type { Sample, SampleSource, StudyJson, StudySource } from '@tuneserve/server';
import { loadStudy } from '@tuneserve/tuner';

export function studySourceFor(at: { directory: string; projectName: string; storage?: string }): StudySource {
  return {
    async getStudy(): Promise<StudyJson | undefined> {
      const view = await loadStudy(at);
      if (!view) return undefined;
      return {
        name: view.name,
        tuner: view.tuner,
        objective: view.objective,
        maxTrials: view.maxTrials,
        trials: view.trials.map(({ finalMetrics: _final, ...trial }) => trial),
      };
    },
  };
}

/** Test-set images as samples: index in [0, size), 784 floats in [0,1] and the label. */
export class SplitSampleSource implements SampleSource {
  constructor(private readonly split: Split) {}

  get size(): number {
    return this.split.count;
  }

  sample(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.split.count) {
      throw new RangeError(`sample index must be an integer in [0, ${this.split.count - 1}], got ${index}`);
    }
    const size = this.split.rows * this.split.cols;
    return {
      index,
      label: this.split.labels[index] ?? -1,
      instances: Array.from(this.split.images.subarray(index * size, (index + 1) * size)),
    };
  }
}

export async function mnistSampleSource(dataDir?: string): Promise<SampleSource> {
  return new SplitSampleSource(await loadMnistTest(dataDir ? { dataDir } : {}));
}
