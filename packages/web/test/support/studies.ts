/**
 * Studies for the dashboard's browser tests, written through the tuner's own storage (a real SQLite study that
 * loadStudy reads, as the server does) with known values, so the tests can say exactly what each view must show:
 * numeric, log-scaled, categorical and conditional hyperparameters, pruned trials with shorter curves, the
 * cross-validation spread, and a two-objective study with a known Pareto front.
 */
import { HyperParameters, openStorage, type TrialRecord } from '@tuneserve/tuner';

type Values = Record<string, number | string | boolean>;

interface TrialSpec {
  values: Values;
  status: 'COMPLETED' | 'PRUNED' | 'FAILED';
  /** Per-epoch values of each metric (the pruner stopped pruned ones early). */
  curves: Record<string, number[]>;
  metrics: Record<string, number>;
  score: number | null;
}

async function writeStudy(
  directory: string,
  projectName: string,
  objective: { name: string; direction: 'min' | 'max' } | { name: string; direction: 'min' | 'max' }[],
  trials: TrialSpec[],
): Promise<void> {
  const storage = await openStorage('sqlite:', { directory, projectName, overwrite: true });
  try {
    const start = Date.UTC(2026, 0, 1);
    await storage.putStudy({
      name: projectName,
      tuner: 'RandomSearch',
      objective,
      maxTrials: trials.length,
      space: new HyperParameters().toConfig(),
      oracleState: {},
      createdAt: start,
    });
    for (const [seq, t] of trials.entries()) {
      const trialId = String(seq).padStart(2, '0');
      const record: TrialRecord = {
        trialId,
        seq,
        status: t.status,
        values: t.values,
        hash: trialId,
        score: t.score,
        bestStep: t.status === 'FAILED' ? null : 0,
        metrics: t.metrics,
        message: t.status === 'FAILED' ? 'diverged' : null,
        ownerId: null,
        heartbeatAt: null,
        startedAt: start + seq * 60_000,
        endedAt: start + seq * 60_000 + 30_000,
        retries: 0,
        userData: {},
      };
      await storage.putTrial(record);
      await storage.putMetrics(
        Object.entries(t.curves).flatMap(([name, values]) =>
          values.map((value, step) => ({ trialId, execution: 0, step, name, value })),
        ),
      );
    }
  } finally {
    await storage.close();
  }
}

/** A fixed sequence in [0, 1), so the study is the same on every run. */
const u = (i: number, stream: number) => (i * (0.6180339887 + stream * 0.1414213562) + 0.1) % 1;

/**
 * 14 trials of an MLP search: val_accuracy is driven mostly by the optimizer and the learning rate; units_2 exists
 * only with two layers; trials 04, 09 and 13 were pruned after 2 of 5 epochs, trial 11 failed. Every completed
 * trial has val_accuracy_std (5-fold cross-validation).
 */
export async function writeSingleObjectiveStudy(directory: string, projectName: string): Promise<void> {
  const optimizers = ['adam', 'sgd', 'rmsprop'];
  const trials = Array.from({ length: 14 }, (_, i): TrialSpec => {
    const optimizer = optimizers[i % 3]!;
    const layers = 1 + (Math.floor(i / 2) % 2);
    const lr = Number((10 ** (-4 + 3 * u(i, 1))).toPrecision(3));
    const values: Values = { optimizer, layers, units: 32 + 32 * Math.floor(u(i, 2) * 4), learning_rate: lr };
    if (layers === 2) values.units_2 = 16 + 16 * Math.floor(u(i, 3) * 4);
    const final = Number(((optimizer === 'sgd' ? 0.8 : 0.9) + 0.02 * (Math.log10(lr) + 4)).toFixed(4));
    const pruned = i === 4 || i === 9 || i === 13;
    const failed = i === 11;
    const epochs = pruned ? 2 : failed ? 0 : 5;
    const acc = Array.from({ length: epochs }, (_, e) => Number((final - 0.3 / (e + 1) ** 1.5 + 0.01).toFixed(4)));
    const loss = acc.map((a) => Number((1.2 * (1 - a)).toFixed(4)));
    const status = failed ? 'FAILED' : pruned ? 'PRUNED' : 'COMPLETED';
    const score = failed ? null : pruned ? acc[acc.length - 1]! : final;
    return {
      values,
      status,
      curves: epochs ? { val_accuracy: acc, val_loss: loss } : {},
      metrics: failed
        ? {}
        : { val_accuracy: score!, val_loss: loss[loss.length - 1]!, val_accuracy_std: 0.004 + i / 1000 },
      score,
    };
  });
  await writeStudy(directory, projectName, { name: 'val_accuracy', direction: 'max' }, trials);
}

/**
 * 10 trials of accuracy (max) against latency (min): a bigger model is more accurate and slower. The front is
 * trials 00, 03, 05, 07 and 09 (each faster than every more accurate one); the rest are dominated.
 */
export const PARETO_FRONT = ['00', '03', '05', '07', '09'];
export async function writeMultiObjectiveStudy(directory: string, projectName: string): Promise<void> {
  // [units, val_accuracy, latency_ms]
  const rows: [number, number, number][] = [
    [256, 0.97, 4.0], // 00 front (most accurate)
    [256, 0.95, 4.5], // 01 dominated by 00
    [128, 0.93, 3.1], // 02 dominated by 03
    [128, 0.94, 3.0], // 03 front
    [64, 0.9, 2.6], // 04 dominated by 05
    [64, 0.91, 2.0], // 05 front
    [32, 0.86, 1.9], // 06 dominated by 07
    [32, 0.88, 1.5], // 07 front
    [16, 0.8, 1.6], // 08 dominated by 07
    [16, 0.82, 1.0], // 09 front (fastest)
  ];
  const trials = rows.map(
    ([units, acc, latency], i): TrialSpec => ({
      values: { units, learning_rate: Number((10 ** (-3 + u(i, 1))).toPrecision(3)) },
      status: 'COMPLETED',
      curves: { val_accuracy: [acc - 0.1, acc - 0.03, acc] },
      metrics: { val_accuracy: acc, latency_ms: latency },
      score: acc,
    }),
  );
  await writeStudy(
    directory,
    projectName,
    [
      { name: 'val_accuracy', direction: 'max' },
      { name: 'latency_ms', direction: 'min' },
    ],
    trials,
  );
}
