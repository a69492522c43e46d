/**
 * keepCheckpoints: only the best K trials keep their best-epoch checkpoints, and no checkpoint is deleted while a
 * running trial or a later Hyperband round still needs it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  Hyperband,
  hasCheckpoint,
  hyperbandTrial,
  RandomSearch,
  saveCheckpoint,
  type Trial,
  type TrialResult,
} from '@tuneserve/tuner';
import { describe, expect, it } from 'vitest';
import { buildMlp, tempDir, toyData } from './helpers.js';

const dir = tempDir('retention-test-');
const quiet = { directory: dir, overwrite: true, verbose: 0 as const };

/** Trial ids whose folder holds a best-epoch checkpoint. */
async function withCheckpoint(tuner: RandomSearch | Hyperband): Promise<string[]> {
  const ids: string[] = [];
  for (const t of await tuner.oracle.getTrials()) {
    if (hasCheckpoint(path.join(await tuner.trialDir(t.trialId), 'checkpoint'))) ids.push(t.trialId);
  }
  return ids.sort();
}

describe('keepCheckpoints', () => {
  it('keeps the best K trials checkpoints at every trial end, and getBestModels says why a K+1th is gone', async () => {
    const { x, y } = toyData(120, 5);
    const counts: number[] = [];
    const tuner: RandomSearch = new RandomSearch(buildMlp, {
      ...quiet,
      projectName: 'top2',
      objective: 'val_accuracy',
      maxTrials: 5,
      seed: 4,
      keepCheckpoints: 2,
      onTrialEnd: async () => {
        counts.push((await withCheckpoint(tuner)).length);
      },
    });
    await tuner.search(x, y, { epochs: 2, validationSplit: 0.25, batchSize: 32 });
    expect(counts).toEqual([1, 2, 2, 2, 2]);
    const best = (await tuner.oracle.getBestTrials(2)).map((t) => t.trialId).sort();
    expect(await withCheckpoint(tuner)).toEqual(best);
    const models = await tuner.getBestModels(2);
    expect(models).toHaveLength(2);
    for (const m of models) m.dispose();
    await expect(tuner.getBestModels(3)).rejects.toThrow(/keepCheckpoints 2 keeps the best 2/);
    await tuner.close();
    tf.dispose([x, y]);
  });

  it('never deletes the checkpoint of a trial another worker is still running', async () => {
    const { x, y } = toyData(120, 6);
    const options = { ...quiet, projectName: 'shared', objective: 'val_accuracy', maxTrials: 4, seed: 2 };
    // Worker A takes a trial and has written its checkpoints (best epoch and per-epoch resume state) when B runs.
    const a = new RandomSearch(buildMlp, { ...options, tunerId: 'a', keepCheckpoints: 1 });
    const running = (await a.ask()) as Trial;
    const model = buildMlp(running.hyperparameters);
    const runningDir = await a.trialDir(running.trialId);
    await saveCheckpoint(model, path.join(runningDir, 'checkpoint'), { value: 0.1, execution: 0, epoch: 0 });
    await saveCheckpoint(model, path.join(runningDir, 'resume'), { execution: 0, epoch: 0 }, true);
    const whileRunning: { best: boolean; resume: boolean; kept: number }[] = [];
    const b: RandomSearch = new RandomSearch(buildMlp, {
      ...options,
      overwrite: false,
      tunerId: 'b',
      keepCheckpoints: 1,
      onTrialEnd: async () => {
        whileRunning.push({
          best: hasCheckpoint(path.join(runningDir, 'checkpoint')),
          resume: hasCheckpoint(path.join(runningDir, 'resume')),
          kept: (await withCheckpoint(b)).length,
        });
        // B has run the other three trials: A's trial ends now (worst score), so B's search can finish.
        if (whileRunning.length === 3) await a.tell(running, { val_accuracy: 0 } as TrialResult);
      },
    });
    await b.search(x, y, { epochs: 1, validationSplit: 0.25, batchSize: 32 });
    // While A ran, its checkpoints stayed; B kept one of its own (the best so far) besides them.
    expect(whileRunning).toEqual([
      { best: true, resume: true, kept: 2 },
      { best: true, resume: true, kept: 2 },
      { best: true, resume: true, kept: 2 },
    ]);
    // Once A's trial ended with the worst score, its checkpoints went as well.
    expect((await b.oracle.getTrials()).map((t) => t.status)).toEqual(Array(4).fill('COMPLETED'));
    expect(existsSync(path.join(runningDir, 'checkpoint'))).toBe(false);
    expect(existsSync(path.join(runningDir, 'resume'))).toBe(false);
    expect(await withCheckpoint(b)).toHaveLength(1);
    model.dispose();
    await a.close();
    await b.close();
    tf.dispose([x, y]);
  });

  it('Hyperband keeps what a later round promotes from, though only the best trial is kept in the end', async () => {
    const { x, y } = toyData(120, 7);
    const missingParents: string[] = [];
    class Checked extends Hyperband {
      override async runTrial(trial: Trial, ...args: unknown[]): Promise<TrialResult> {
        const parent = hyperbandTrial(trial)?.parentId;
        if (parent !== undefined && !hasCheckpoint(path.join(await this.trialDir(parent), 'checkpoint')))
          missingParents.push(`${trial.trialId} <- ${parent}`);
        return super.runTrial(trial, ...args);
      }
    }
    const tuner = new Checked(buildMlp, {
      ...quiet,
      projectName: 'hyperband',
      objective: 'val_accuracy',
      maxEpochs: 4,
      factor: 2,
      seed: 5,
      keepCheckpoints: 1,
    });
    await tuner.search(x, y, { validationSplit: 0.25, batchSize: 32 });
    const trials = await tuner.oracle.getTrials();
    expect(trials.filter((t) => hyperbandTrial(t)?.parentId !== undefined).length).toBeGreaterThan(1);
    expect(missingParents).toEqual([]);
    expect(await withCheckpoint(tuner)).toEqual([(await tuner.oracle.getBestTrials(1))[0]?.trialId]);
    await tuner.close();
    tf.dispose([x, y]);
  });

  it('refuses a keepCheckpoints that is not a positive integer', () => {
    expect(() => new RandomSearch(buildMlp, { ...quiet, projectName: 'bad', keepCheckpoints: 0 })).toThrow(
      /keepCheckpoints must be a positive integer/,
    );
  });
});
