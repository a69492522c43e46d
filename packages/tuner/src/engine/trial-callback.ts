/**
 * The per-epoch trial callback (Keras Tuner's tuner_utils.SaveBestEpoch + report + prune): after
 * each epoch it checks the worker still owns the trial, saves the best weights, reports the
 * epoch's metrics, saves the resume checkpoint, heartbeats and asks the pruner whether to stop.
 */
import * as tf from '@tensorflow/tfjs';
import { saveCheckpoint } from '../checkpoint.js';
import type { SearchDisplay } from '../display.js';
import { TrialLostError } from '../errors.js';
import type { EpochMetric } from '../storage/types.js';
import type { Oracle } from './oracle.js';

export interface TrialCallbackOptions {
  oracle: Oracle;
  tunerId: string;
  trialId: string;
  execution: number;
  /** Last epoch (exclusive), for the display. */
  epochs: number;
  model: tf.LayersModel;
  /** Folder of the best-epoch checkpoint and of the per-epoch resume checkpoint. */
  bestDir: string;
  resumeDir: string;
  /** The best objective value already checkpointed for this trial (from an earlier execution or run). */
  bestValue: number | undefined;
  display: SearchDisplay | undefined;
  /** Called when the pruner stopped the trial. */
  onPruned: () => void;
}

export function trialCallback(o: TrialCallbackOptions): tf.CustomCallback {
  const objective = o.oracle.objective;
  let bestValue = o.bestValue;
  return new tf.CustomCallback({
    onEpochEnd: async (epoch, logs) => {
      // A worker that lost the trial (missed heartbeats) must not touch its checkpoints or metrics.
      if (!(await o.oracle.ownsTrial(o.trialId, o.tunerId))) {
        throw new TrialLostError(`Trial ${o.trialId} was taken over by another worker; stopping it here.`);
      }
      const values = numericLogs(logs);
      const value = objective.getValue(values);
      // Best weights first, so a checkpoint never lags the metrics that claim it.
      if (
        value === undefined ||
        (Number.isFinite(value) && (bestValue === undefined || objective.better(value, bestValue)))
      ) {
        await saveCheckpoint(o.model, o.bestDir, { value, execution: o.execution, epoch });
        if (value !== undefined) bestValue = value;
      }
      const rows: EpochMetric[] = Object.entries(values).map(([name, v]) => ({
        trialId: o.trialId,
        execution: o.execution,
        step: epoch,
        name,
        value: v,
      }));
      await o.oracle.reportMetrics(rows);
      await saveCheckpoint(o.model, o.resumeDir, { execution: o.execution, epoch }, true);
      await o.oracle.heartbeat(o.trialId, o.tunerId);
      o.display?.epochEnd(epoch, o.epochs, o.execution, value, values);
      if (value !== undefined && Number.isNaN(value)) {
        o.model.stopTraining = true; // a diverged run cannot recover; the NaN fails the trial
      } else if (await o.oracle.shouldPrune(o.trialId, epoch)) {
        o.model.stopTraining = true;
        o.onPruned();
      }
    },
  });
}

function numericLogs(logs: tf.Logs | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(logs ?? {})) if (typeof v === 'number') out[k] = v;
  return out;
}
