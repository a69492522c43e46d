/** Adapters from the tuner's study view and a data set's test split to the server's read-only sources. */
import type { InputSchema, OutputSchema } from '@tuneserve/client';
import { decodeRow, loadDataset, type Split, type SplitRecord } from '@tuneserve/data';
import type { DataSpec } from '@tuneserve/pipeline';
import type { ModelSampleSource, Sample, SampleSource, StudyJson, StudyModel, StudySource } from '@tuneserve/server';
import { BackgroundImportance, type BackgroundImportanceOptions, loadStudy } from '@tuneserve/tuner';
import { loadData } from './data.js';

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

/**
 * The server's study source. Importance is computed in a worker thread (one per source, started on first need):
 * a read answers at once with the last importance and its status, never stalling the server's requests.
 */
export function studySourceFor(at: StudyPlace, options: BackgroundImportanceOptions = {}): StudySource {
  const importance = new BackgroundImportance(options);
  return {
    async getStudy(model?: StudyModel): Promise<StudyJson | undefined> {
      const projectName = studyProjectOf(model, at.projectName);
      if (projectName === undefined) return undefined;
      return loadStudy({
        directory: at.directory,
        projectName,
        importance,
        ...(at.storage ? { storage: at.storage } : {}),
      });
    },
    close: () => importance.close(),
  };
}

/**
 * Test-split examples as samples: index in [0, size), the model's input values, the label (class index, -1 for
 * regression) and, given the data's schema, the raw named values of a table row and the true answer by name.
 */
export class SplitSampleSource implements SampleSource {
  constructor(
    private readonly split: Split,
    private readonly input?: InputSchema,
    private readonly output?: OutputSchema,
  ) {}

  get size(): number {
    return this.split.count;
  }

  sample(index: number): Sample {
    if (!Number.isInteger(index) || index < 0 || index >= this.split.count) {
      throw new RangeError(`sample index must be an integer in [0, ${this.split.count - 1}], got ${index}`);
    }
    const size = this.split.x.length / this.split.count;
    const values = this.split.x.subarray(index * size, (index + 1) * size);
    const y = this.split.y[index] ?? -1;
    const sample: Sample = {
      index,
      label: this.output?.task === 'regression' ? -1 : y,
      instances: Array.from(values),
    };
    if (this.input?.kind === 'tabular') sample.features = decodeRow(this.input, values);
    if (this.output?.task === 'regression') {
      sample.truth = Number((y * this.output.std + this.output.mean).toPrecision(6));
    } else if (this.output) sample.truth = this.output.labels[y] ?? String(y);
    return sample;
  }
}

/** The MNIST test images (or another IDX folder's) as samples for the digit page. */
export async function mnistSampleSource(dataDir?: string): Promise<SampleSource> {
  const data = await loadDataset(dataDir ?? 'mnist');
  return new SplitSampleSource(data.test, data.input, data.output);
}

/**
 * Each model's samples from the data `train` recorded in its metadata (training.data and the split, so the test
 * examples are the ones the model never saw), loaded on first request and kept per model version; a model without
 * such a record gets `fallback` (the server's --samples set). Data that cannot be loaded here (moved, another
 * machine) gives none, said once in the log.
 */
export function modelSampleSourceFor(
  fallback: SampleSource | undefined,
  log: (line: string) => void,
): ModelSampleSource {
  const loaded = new Map<string, Promise<SampleSource | undefined>>();
  return {
    samplesFor(model: StudyModel): Promise<SampleSource | undefined> {
      const training = model.metadata?.training as { data?: DataSpec; split?: SplitRecord } | undefined;
      const spec = training?.data;
      if (!spec || typeof spec.path !== 'string') return Promise.resolve(fallback);
      const key = `${model.name}@${String(model.metadata?.version)}`;
      let pending = loaded.get(key);
      if (!pending) {
        pending = loadData(spec, training.split).then(
          (data) => new SplitSampleSource(data.test, data.input, data.output),
          (error: unknown) => {
            log(
              `no test examples for model ${model.name}: its data ${spec.path} did not load (${(error as Error).message})`,
            );
            return undefined;
          },
        );
        loaded.set(key, pending);
      }
      return pending;
    },
  };
}
