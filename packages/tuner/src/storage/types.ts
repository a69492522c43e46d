/**
 * The study storage contract. Every process that shares a study talks to it only through this
 * interface; oracle decisions are made inside `transaction`, which holds an exclusive lock on the
 * study across processes (SQLite: BEGIN IMMEDIATE; PostgreSQL: e.g. a row lock or advisory lock).
 */
import type { HyperParametersConfig } from '../hyperparameters/index.js';
import type { ObjectiveSpec } from '../objective.js';
import type { HpValues, Trial } from '../trial.js';

export interface StudyRecord {
  /** The project name. */
  name: string;
  /** The tuner class that created the study (RandomSearch, GridSearch, ...). */
  tuner: string;
  objective: ObjectiveSpec;
  maxTrials: number | null;
  space: HyperParametersConfig;
  /** The oracle's persisted state (seed, counters, subclass data). */
  oracleState: Record<string, unknown>;
  createdAt: number;
}

/** A trial as stored: the Trial's bookkeeping fields (declared once, in trial.ts), with the values as a record. */
export interface TrialRecord
  extends Pick<
    Trial,
    | 'trialId'
    | 'status'
    | 'score'
    | 'bestStep'
    | 'metrics'
    | 'message'
    | 'ownerId'
    | 'heartbeatAt'
    | 'startedAt'
    | 'endedAt'
    | 'retries'
    | 'userData'
  > {
  /** Creation order (0, 1, ...). */
  seq: number;
  values: HpValues;
  /** Duplicate key of the values (valuesHash). */
  hash: string;
}

/** One metric at one epoch of one execution of a trial. */
export interface EpochMetric {
  trialId: string;
  execution: number;
  step: number;
  name: string;
  value: number;
}

/** The data operations, usable both inside and outside a transaction. */
export interface StudyStore {
  getStudy(): Promise<StudyRecord | undefined>;
  putStudy(study: StudyRecord): Promise<void>;
  listTrials(): Promise<TrialRecord[]>;
  getTrial(trialId: string): Promise<TrialRecord | undefined>;
  /** Insert or replace the trial row. */
  putTrial(trial: TrialRecord): Promise<void>;
  /** Insert or replace metrics (same trial, execution, step and name overwrite). */
  putMetrics(rows: EpochMetric[]): Promise<void>;
  /** All metrics, or one trial's. */
  listMetrics(trialId?: string): Promise<EpochMetric[]>;
  deleteMetrics(trialId: string): Promise<void>;
  /** Record that `ownerId` is still working on the trial. */
  heartbeat(trialId: string, ownerId: string, at: number): Promise<void>;
}

export interface StudyStorage extends StudyStore {
  /** Where the data lives, for messages (a file path or a URL without password). */
  readonly location: string;
  /** Folder under which each trial's checkpoint folder `trial_<id>` lives (a shared filesystem for many hosts). */
  readonly checkpointRoot: string;
  /** Runs fn holding the study's exclusive lock; fn's writes commit together or not at all. */
  transaction<T>(fn: (tx: StudyStore) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StorageContext {
  directory: string;
  projectName: string;
  /** true: discard any existing study of this project first. */
  overwrite: boolean;
  /** Open without creating or writing anything (loadStudy). */
  readOnly?: boolean;
}

export type StorageFactory = (url: string, context: StorageContext) => Promise<StudyStorage>;
