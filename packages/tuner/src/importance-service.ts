/**
 * Where a study view's importance comes from. Commands compute it at once (inlineImportance); a server must not:
 * fitting the forests takes 0.3-1 s of CPU per newly finished trial, which would stall every request on its event
 * loop. BackgroundImportance fits them in one reused worker thread and answers at once with the last importance it
 * has, saying whether a newer one is being computed, so a dashboard that polls picks the new one up on its next read.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { ImportanceStatus } from '@tuneserve/client';
import { type ImportanceOptions, type ObjectiveTrial, objectiveImportances } from './importance.js';
import type { ImportanceAnswer, ImportanceJob } from './importance-worker.js';

export interface ImportanceSnapshot {
  /** Each objective's importance by name (empty while none has been computed yet). */
  byObjective: Record<string, Record<string, number>>;
  status: ImportanceStatus;
}

/** Gives a study view its importance: `study` names the study (its cache key), the trials are all of its trials. */
export interface ImportanceProvider {
  importanceOf(study: string, trials: readonly ObjectiveTrial[], objectives: readonly string[]): ImportanceSnapshot;
}

const completed = (trials: readonly ObjectiveTrial[]) => trials.filter((t) => t.status === 'COMPLETED');

/** Computes on the caller's thread, every time: for commands that read a study once. */
export const inlineImportance: ImportanceProvider = {
  importanceOf(_study, trials, objectives) {
    const done = completed(trials);
    return {
      byObjective: objectiveImportances(done, objectives),
      status: { state: 'ready', completedTrials: done.length },
    };
  },
};

export interface BackgroundImportanceOptions {
  /** Heap cap of the worker thread in MB (default 256): a runaway computation fails instead of growing the server. */
  maxHeapMb?: number;
  /** Longest one computation may run before the worker is stopped and the failure reported (default 120 s). */
  timeoutMs?: number;
  /** Forest settings (tests). */
  forest?: ImportanceOptions;
  /** Told of each failed computation (the server's log). */
  onError?: (message: string) => void;
}

interface Job {
  fingerprint: string;
  trials: ObjectiveTrial[];
  objectives: string[];
}

interface StudyState {
  /** The last computed importance and the fingerprint of the trials it is of. */
  done: { fingerprint: string; byObjective: Record<string, Record<string, number>>; completedTrials: number };
  /** The newest set of trials asked for and not started yet (a newer one replaces it). */
  waiting?: Job;
  running?: string;
  failed?: { fingerprint: string; error: string };
}

/**
 * Importance computed in a worker thread, cached per study by the fingerprint of its completed trials. One
 * computation at a time (one worker, reused); per study at most one waiting, the newest. Failures (an error in
 * the computation, the worker dying or running out of its heap, a timeout) are reported in the status and not
 * retried until the trials change. `close()` stops the worker.
 */
export class BackgroundImportance implements ImportanceProvider {
  private readonly studies = new Map<string, StudyState>();
  /** Studies with a waiting job, in the order they asked. */
  private readonly queue: string[] = [];
  private worker: Worker | undefined;
  private current: { id: number; study: string; job: Job; timer: NodeJS.Timeout } | undefined;
  private nextId = 1;
  private closed = false;
  /** Computations finished and failed since construction (for logs and tests). */
  readonly stats = { computed: 0, failed: 0 };

  constructor(private readonly o: BackgroundImportanceOptions = {}) {}

  importanceOf(study: string, trials: readonly ObjectiveTrial[], objectives: readonly string[]): ImportanceSnapshot {
    const done = completed(trials).map((t) => ({
      status: t.status,
      hyperparameters: t.hyperparameters,
      score: t.score,
      ...(t.values ? { values: t.values } : {}),
    }));
    const fingerprint = JSON.stringify([objectives, done.map((t) => [t.score, t.values, t.hyperparameters])]);
    let state = this.studies.get(study);
    if (!state) {
      state = { done: { fingerprint: '', byObjective: {}, completedTrials: 0 } };
      this.studies.set(study, state);
    }
    const snapshot = (status: ImportanceStatus['state'], error?: string): ImportanceSnapshot => ({
      byObjective: state.done.byObjective,
      status: { state: status, completedTrials: state.done.completedTrials, ...(error ? { error } : {}) },
    });
    if (state.done.fingerprint === fingerprint) return snapshot('ready');
    if (done.length < 2) {
      // Nothing to fit (importance needs two trials): no thread for a study that has just begun.
      state.done = { fingerprint, byObjective: objectiveImportances(done, objectives), completedTrials: done.length };
      return snapshot('ready');
    }
    if (state.failed?.fingerprint === fingerprint) return snapshot('failed', state.failed.error);
    if (this.closed) return snapshot('failed', 'the importance worker is stopped (server closing)');
    if (state.running !== fingerprint && state.waiting?.fingerprint !== fingerprint) {
      if (!state.waiting) this.queue.push(study);
      state.waiting = { fingerprint, trials: done, objectives: [...objectives] };
      this.pump();
    }
    return snapshot('computing');
  }

  /** Stops the worker; later reads answer with the importance already computed. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.current) clearTimeout(this.current.timer);
    this.current = undefined;
    this.queue.length = 0;
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const study = this.queue.shift();
    if (study === undefined) return;
    const state = this.studies.get(study);
    const job = state?.waiting;
    if (!state || !job) {
      this.pump();
      return;
    }
    state.waiting = undefined;
    state.running = job.fingerprint;
    const id = this.nextId++;
    const timeoutMs = this.o.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      this.stopWorker(); // first, so the next job goes to a fresh worker
      this.fail(id, `importance took longer than ${timeoutMs / 1000} s; stopped`);
    }, timeoutMs);
    timer.unref();
    this.current = { id, study, job, timer };
    try {
      const message: ImportanceJob = { id, trials: job.trials, objectives: job.objectives };
      if (this.o.forest) message.options = this.o.forest;
      this.ensureWorker().postMessage(message);
    } catch (e) {
      this.fail(id, `the importance worker did not start: ${(e as Error).message}`);
    }
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const file = workerFile();
    if (!file) throw new Error('importance-worker.js not found (build the tuner package)');
    const worker = new Worker(file, {
      resourceLimits: { maxOldGenerationSizeMb: this.o.maxHeapMb ?? 256 },
    });
    // An idle worker must not keep a process alive that is otherwise done.
    worker.unref();
    worker.on('message', (answer: ImportanceAnswer) => {
      if ('error' in answer) this.fail(answer.id, `importance failed: ${answer.error}`);
      else this.finish(answer.id, answer.importances);
    });
    worker.on('error', (e) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.current) this.fail(this.current.id, `the importance worker failed: ${e.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return; // stopped on purpose (timeout, close) or already replaced after an error
      this.worker = undefined;
      if (this.current) this.fail(this.current.id, `the importance worker exited (code ${code})`);
    });
    this.worker = worker;
    return worker;
  }

  private stopWorker(): void {
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
  }

  private finish(id: number, byObjective: Record<string, Record<string, number>>): void {
    const current = this.settle(id);
    if (!current) return;
    const state = this.studies.get(current.study)!;
    state.done = { fingerprint: current.job.fingerprint, byObjective, completedTrials: current.job.trials.length };
    state.failed = undefined;
    this.stats.computed++;
    this.pump();
  }

  private fail(id: number, error: string): void {
    const current = this.settle(id);
    if (!current) return;
    this.studies.get(current.study)!.failed = { fingerprint: current.job.fingerprint, error };
    this.stats.failed++;
    this.o.onError?.(error);
    this.pump();
  }

  /** Ends the current job if it is `id` (a late answer of a stopped job is dropped). */
  private settle(id: number): { study: string; job: Job } | undefined {
    const current = this.current;
    if (!current || current.id !== id) return undefined;
    clearTimeout(current.timer);
    this.current = undefined;
    const state = this.studies.get(current.study);
    if (state?.running === current.job.fingerprint) state.running = undefined;
    return current;
  }
}

/** The worker's compiled file: beside this one when built, in dist/ when this file runs from source (tests). */
function workerFile(): URL | undefined {
  for (const candidate of ['./importance-worker.js', '../dist/importance-worker.js']) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(url)) return url;
  }
  return undefined;
}
