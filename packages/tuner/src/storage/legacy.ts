/**
 * Reading studies written by earlier versions. Hyperband used to keep its bookkeeping among a
 * trial's values (`tuner/epochs`, `tuner/initial_epoch`, `tuner/trial_id`, `tuner/bracket`,
 * `tuner/round`); it now lives in the trial's userData, so every reader sees only real
 * hyperparameters. Both storage backends pass the records they read through here.
 */
import type { HpValue } from '../hyperparameters/index.js';
import type { TrialRecord } from './types.js';

const PREFIX = 'tuner/';
const FIELDS: Record<string, string> = {
  'tuner/epochs': 'epochs',
  'tuner/initial_epoch': 'initialEpoch',
  'tuner/trial_id': 'parentId',
  'tuner/bracket': 'bracket',
  'tuner/round': 'round',
};

/** The record with legacy `tuner/*` values moved to `userData.hyperband` (unchanged when it has none). */
export function upgradeTrialRecord(rec: TrialRecord): TrialRecord {
  const legacy = Object.keys(rec.values).filter((k) => k.startsWith(PREFIX));
  if (legacy.length === 0) return rec;
  const values: Record<string, HpValue> = {};
  const hyperband: Record<string, HpValue> = {};
  for (const [name, value] of Object.entries(rec.values)) {
    if (name.startsWith(PREFIX)) hyperband[FIELDS[name] ?? name.slice(PREFIX.length)] = value;
    else values[name] = value;
  }
  return {
    ...rec,
    values,
    userData: { ...rec.userData, hyperband: { ...hyperband, ...(rec.userData.hyperband ?? {}) } },
  };
}
