/**
 * Trial ranking, the one implementation shared by the tuner, the CLI and the dashboard (pure, no
 * dependencies, so the browser bundle can use it).
 */

/** What ranking needs of a trial: the tuner's Trial, a StudyJson trial and the CLI's view all fit. */
export interface RankableTrial {
  status: string;
  score: number | null;
}

/**
 * The COMPLETED trials with a finite score, best first for the objective's direction. Trials with
 * equal scores keep their order (the earlier trial wins, as in Keras Tuner and Optuna).
 */
export function rankTrials<T extends RankableTrial>(trials: readonly T[], direction: 'min' | 'max'): T[] {
  const sign = direction === 'min' ? 1 : -1;
  return trials
    .filter((t) => t.status === 'COMPLETED' && t.score !== null && Number.isFinite(t.score))
    .sort((a, b) => sign * ((a.score as number) - (b.score as number)));
}
