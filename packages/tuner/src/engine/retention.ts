/**
 * Checkpoint retention (`keepCheckpoints: K`): a long search keeps the best-epoch checkpoints of its best K trials
 * only, so it does not fill the disk (the Keras Tuner requests #172, #288, #481). A checkpoint is removed only when
 * its trial has ended for good (COMPLETED, PRUNED or FAILED; an INVALID trial may be retried) and no trial still
 * needs it: the tuner names those (a running trial's resume files are never touched, Hyperband's parents are kept).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Trial } from '../trial.js';
import { BEST_DIR, RESUME_DIR } from './executions.js';
import type { Oracle } from './oracle.js';

const ENDED: ReadonlySet<Trial['status']> = new Set(['COMPLETED', 'PRUNED', 'FAILED']);

/** Checks the option: a positive integer, or undefined for "keep every checkpoint". */
export function checkKeepCheckpoints(keep: number | undefined): number | undefined {
  if (keep !== undefined && (!Number.isSafeInteger(keep) || keep < 1)) {
    throw new RangeError(`keepCheckpoints must be a positive integer, got ${keep}.`);
  }
  return keep;
}

/**
 * Deletes the checkpoints of ended trials outside the best `keep` (the oracle's ranking, so a multi-objective study
 * keeps its front) that are not in `inUse`. Returns the ids of the trials whose checkpoints were deleted.
 */
export async function removeSurplusCheckpoints(
  oracle: Oracle,
  trials: readonly Trial[],
  keep: number,
  inUse: ReadonlySet<string>,
): Promise<string[]> {
  const best = new Set((await oracle.getBestTrials(keep)).map((t) => t.trialId));
  const removed: string[] = [];
  for (const trial of trials) {
    if (!ENDED.has(trial.status) || best.has(trial.trialId) || inUse.has(trial.trialId)) continue;
    const dir = await oracle.trialDir(trial.trialId);
    const found = await Promise.all(
      [BEST_DIR, RESUME_DIR].map((name) =>
        rm(path.join(dir, name), { recursive: true }).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (found.some(Boolean)) removed.push(trial.trialId);
  }
  return removed;
}
