/**
 * Which study the dashboard shows for a served model: the one `train` recorded in its metadata, none for a model
 * trained with fixed hyperparameters, else the configured one or the one named after the model. Real studies,
 * written by the tuner (ask and tell) and read back through the CLI's study source.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HyperParameters, loadStudy, RandomSearch } from '@tuneserve/tuner';
import { beforeAll, describe, expect, it } from 'vitest';
import { studyProjectOf, studySourceFor } from '../src/adapters/sources.js';
import { formatTrials } from '../src/commands/trials.js';

let directory: string;

async function writeStudy(projectName: string, trials: number): Promise<void> {
  const hp = new HyperParameters();
  hp.float('x', { minValue: 0, maxValue: 1 });
  hp.choice('kind', ['a', 'b']);
  const tuner = new RandomSearch(null, {
    directory,
    projectName,
    hyperparameters: hp,
    objective: 'val_loss',
    maxTrials: trials,
    seed: 3,
    verbose: 0,
  });
  for (let trial = await tuner.ask(); trial; trial = await tuner.ask()) {
    const x = trial.hyperparameters.get('x') as number;
    await tuner.tell(trial, { val_loss: 3 * x + (trial.hyperparameters.get('kind') === 'a' ? 0 : 0.1) });
  }
  await tuner.close();
}

const model = (name: string, training?: unknown) => ({
  name,
  metadata: training === undefined ? { name } : { name, training },
});

describe('the study of a served model', () => {
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'tuneserve-study-source-'));
    await writeStudy('wine-search', 8);
    await writeStudy('wine', 3);
  });

  it('resolves the project: recorded, none for fixed hyperparameters, configured, else the model name', () => {
    const recorded = model('wine', { study: { projectName: 'wine-search', trialId: '3' } });
    expect(studyProjectOf(recorded, 'mnist')).toBe('wine-search');
    expect(studyProjectOf(model('wine', { study: null }), 'mnist')).toBeUndefined();
    expect(studyProjectOf(model('wine', { seed: 1 }), undefined)).toBe('wine');
    expect(studyProjectOf(model('wine'), 'other')).toBe('other');
    expect(studyProjectOf(undefined, undefined)).toBe('mnist');
  });

  it('reads the recorded study with its importance, and the one named after an unrecorded model', async () => {
    const source = studySourceFor({ directory });
    const recorded = model('wine', { study: { projectName: 'wine-search' } });
    let study = await source.getStudy(recorded);
    // Importance is fitted in the source's worker thread; reads answer at once until it is in.
    while (study?.importanceStatus?.state === 'computing') {
      await new Promise((r) => setTimeout(r, 50));
      study = await source.getStudy(recorded);
    }
    expect(study?.name).toBe('wine-search');
    expect(study?.trials).toHaveLength(8);
    expect(Object.keys(study?.importance ?? {})[0]).toBe('x'); // x drives val_loss
    expect(study?.trials[0]?.finalMetrics).toHaveProperty('val_loss');
    expect((await source.getStudy(model('wine')))?.trials).toHaveLength(3);
    expect(await source.getStudy(model('wine', { study: null }))).toBeUndefined();
    expect(await source.getStudy(model('nothing-tuned'))).toBeUndefined();
    await source.close?.();
  });

  it('`trials` ends its table with the importance, largest first', async () => {
    const study = await loadStudy({ directory, projectName: 'wine-search' });
    const text = formatTrials(study!);
    expect(text).toMatch(
      /\nhyperparameter importance \(share of the objective's variance, fANOVA\): x \d+\.\d%, kind \d+\.\d%\n$/,
    );
  });
});
