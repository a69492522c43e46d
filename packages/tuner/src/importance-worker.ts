/**
 * Worker thread of BackgroundImportance: fits the importance forests for one study at a time, so the serving
 * process's event loop never runs them. Answers each job with its id and the importances or the error's message.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { type ImportanceOptions, type ObjectiveTrial, objectiveImportances } from './importance.js';

// Background work: on Linux a thread can have its own nice value (setpriority on its thread id), so on a busy
// machine this thread yields the cores to the server's event loop. Elsewhere it keeps the process's priority.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
} catch {
  // no /proc (not Linux) or not permitted: same priority as the server
}

export interface ImportanceJob {
  id: number;
  trials: ObjectiveTrial[];
  objectives: string[];
  options?: ImportanceOptions;
}

export type ImportanceAnswer =
  | { id: number; importances: Record<string, Record<string, number>> }
  | { id: number; error: string };

parentPort?.on('message', (job: ImportanceJob) => {
  let answer: ImportanceAnswer;
  try {
    answer = { id: job.id, importances: objectiveImportances(job.trials, job.objectives, job.options) };
  } catch (e) {
    answer = { id: job.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(answer);
});
