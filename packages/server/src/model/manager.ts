/**
 * Versions and hot reload, the way TF Serving does it: the model root holds integer version
 * folders; its version policy (newest N, all, or specific ones) says which are loaded. A poll notices a new version, loads it, warms it up
 * and only then swaps it in (availability preserving); a version leaving the set is disposed once
 * its in-flight requests have finished. A folder holding model.json itself is served as version 1.
 * A version that failed to load is tried again once its files change (a version still being copied
 * in loads when the copy is complete). A loaded version whose files are removed or overwritten
 * keeps serving from memory, and the log says so once.
 */
import { access, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputSchema, OutputSchema } from '@tuneserve/client';
import { chooseInference, type Inference, type InferencePath, ModelRepository } from '@tuneserve/runtime';
import { NotReadyError } from '../errors.js';
import type { Batch } from '../tensor-input.js';
import { Batcher, type BatchingOptions } from './batcher.js';
import { selectVersions, type VersionPolicy } from './config.js';
import { type LoadedModelFiles, loadModelDir, type ModelSignature } from './load.js';

export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface ManagerEvents {
  info(message: string): void;
  error(message: string): void;
  batch(examples: number): void;
  swap(version: number): void;
  /** Number of loaded versions after a change. */
  loaded(count: number): void;
}

export class ServedVersion {
  state: VersionState = 'LOADING';
  private inFlight = 0;
  private readonly batcher: Batcher;
  private readonly inference: Inference;
  /** Which path runs this version's batches (logged at load). */
  readonly inferencePath: InferencePath;
  private idle: (() => void) | undefined;

  constructor(
    readonly version: number,
    private readonly files: LoadedModelFiles,
    batching: BatchingOptions,
    onBatch: (examples: number) => void,
  ) {
    const inference = chooseInference(files.model, files.signature.exampleShape);
    this.inference = inference.run;
    this.inferencePath = inference.path;
    this.batcher = new Batcher(inference.run, files.signature.outputSize, batching, onBatch);
  }

  get signature(): ModelSignature {
    return this.files.signature;
  }

  get input(): InputSchema {
    return this.files.input;
  }

  get output(): OutputSchema {
    return this.files.output;
  }

  get metadata(): Record<string, unknown> {
    return { ...this.files.metadata, version: this.version };
  }

  /** Answers one warm-up prediction at batch size 1 and at the batch limit, on the path requests take. */
  warmUp(maxBatchSize: number): void {
    for (const n of [1, maxBatchSize]) this.inference([new Float32Array(n * this.signature.exampleSize)], n);
    this.state = 'AVAILABLE';
  }

  predict(batch: Batch): Promise<Float32Array> {
    if (this.state !== 'AVAILABLE') return Promise.reject(new NotReadyError(`version ${this.version} is unloading`));
    this.inFlight++;
    const answer = this.batcher.predict(batch);
    // Counted down on both outcomes; `answer` itself goes to the caller (no extra async frame per request).
    answer.then(this.settled, this.settled);
    return answer;
  }

  private readonly settled = (): void => {
    this.inFlight--;
    if (this.inFlight === 0) this.idle?.();
  };

  /** Stops taking requests, waits for the ones in flight, then frees the model's tensors. */
  async unload(): Promise<void> {
    if (this.state === 'END' || this.state === 'UNLOADING') return;
    this.state = 'UNLOADING';
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.files.model.dispose();
    this.state = 'END';
  }
}

export interface ManagerOptions {
  root: string;
  /** Which versions on disk are loaded (TF Serving's default: the newest one). */
  versionPolicy: VersionPolicy;
  pollIntervalMs: number;
  batching: BatchingOptions;
  events: ManagerEvents;
}

/** Names, sizes and modification times of a folder's entries; undefined when it cannot be read. */
async function fingerprint(dir: string): Promise<string | undefined> {
  try {
    const names = (await readdir(dir)).sort();
    const entries = await Promise.all(
      names.map(async (name) => {
        const s = await stat(join(dir, name));
        return `${name}:${s.size}:${s.mtimeMs}`;
      }),
    );
    return entries.join('|');
  } catch {
    return undefined;
  }
}

export class ModelManager {
  private readonly loaded = new Map<number, ServedVersion>();
  /** Versions that failed to load, with their folder's fingerprint then: retried when it changes. */
  private readonly failed = new Map<number, string | undefined>();
  /** Fingerprint of each loaded version's folder at load time, to notice files changing under it. */
  private readonly loadedPrints = new Map<number, string | undefined>();
  /** The last disk change logged for a loaded version, so each change is logged once. */
  private readonly drift = new Map<number, string>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private single = false;
  /** Why the last failed load failed (for the repository index), cleared by a successful load. */
  lastError: string | undefined;

  constructor(private readonly options: ManagerOptions) {}

  /** Loads what is there (maybe nothing yet) and starts polling. */
  async start(): Promise<void> {
    try {
      await access(join(this.options.root, 'model.json'));
      this.single = true;
    } catch {
      this.single = false;
    }
    await this.poll();
    this.scheduleNext();
  }

  get ready(): boolean {
    return this.latest() !== undefined;
  }

  latest(): ServedVersion | undefined {
    let best: ServedVersion | undefined;
    for (const v of this.loaded.values()) {
      if (v.state === 'AVAILABLE' && (!best || v.version > best.version)) best = v;
    }
    return best;
  }

  get(version: number): ServedVersion | undefined {
    const v = this.loaded.get(version);
    return v?.state === 'AVAILABLE' ? v : undefined;
  }

  /** Latest version or 503. */
  require(): ServedVersion {
    const v = this.latest();
    if (!v) throw new NotReadyError('no model version is loaded yet');
    return v;
  }

  versions(): number[] {
    return [...this.loaded.values()]
      .filter((v) => v.state === 'AVAILABLE')
      .map((v) => v.version)
      .sort((a, b) => a - b);
  }

  statuses(): { version: number; state: VersionState }[] {
    return [...this.loaded.values()]
      .map((v) => ({ version: v.version, state: v.state }))
      .sort((a, b) => b.version - a.version);
  }

  private scheduleNext(): void {
    // A single folder is polled too: to retry a failed load and to notice its files changing.
    if (this.closed || this.options.pollIntervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => this.scheduleNext());
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** Complete version folders, newest first (the runtime's ModelRepository decides what a version folder is). */
  private async onDisk(): Promise<number[]> {
    if (this.single) return [1];
    try {
      return (await new ModelRepository(this.options.root).listVersions()).reverse();
    } catch {
      return [];
    }
  }

  private dirOf(version: number): string {
    return this.single ? this.options.root : join(this.options.root, String(version));
  }

  /** One reconciliation pass: load wanted versions newest first, then unload the rest. */
  async poll(): Promise<void> {
    const present = await this.onDisk();
    for (const [v, print] of this.failed) {
      if (!present.includes(v)) this.failed.delete(v);
      else if ((await fingerprint(this.dirOf(v))) !== print) {
        this.failed.delete(v);
        this.options.events.info(`version ${v}: its files changed since it failed to load; loading it again`);
      }
    }
    await this.checkLoadedFiles();
    const candidates = present.filter((v) => !this.failed.has(v));
    const wanted = selectVersions(candidates, this.options.versionPolicy);
    for (const version of wanted) {
      if (this.closed) return;
      if (this.loaded.has(version)) continue;
      const dir = this.dirOf(version);
      // Taken before reading, so a copy that goes on during the load counts as a change.
      const print = await fingerprint(dir);
      try {
        const files = await loadModelDir(dir, this.single ? 'model' : `version ${version}`);
        const served = new ServedVersion(version, files, this.options.batching, this.options.events.batch);
        served.warmUp(this.options.batching.maxBatchSize);
        this.loaded.set(version, served);
        this.loadedPrints.set(version, print);
        this.drift.delete(version);
        this.lastError = undefined;
        this.options.events.info(`loaded and warmed up version ${version} (inference: ${served.inferencePath})`);
        if (this.latest() === served) this.options.events.swap(version);
      } catch (e) {
        this.failed.set(version, print);
        this.lastError = `version ${version}: ${(e as Error).message}`;
        this.options.events.error(
          `could not load version ${version}: ${(e as Error).message} (tried again when its files change)`,
        );
      }
    }
    const keep = new Set(wanted.filter((v) => this.loaded.has(v)));
    // never drop the last servable version when nothing replaces it
    if (keep.size > 0) {
      for (const [version, served] of this.loaded) {
        if (keep.has(version)) continue;
        this.loaded.delete(version);
        this.loadedPrints.delete(version);
        this.drift.delete(version);
        this.options.events.info(`unloading version ${version}`);
        void served.unload();
      }
    }
    this.options.events.loaded(this.versions().length);
  }

  /** Logs, once per change, a loaded version whose folder was removed or whose files were replaced. */
  private async checkLoadedFiles(): Promise<void> {
    for (const [version, atLoad] of this.loadedPrints) {
      const dir = this.dirOf(version);
      const now = await fingerprint(dir);
      if (now === atLoad) {
        this.drift.delete(version);
        continue;
      }
      const change = now === undefined ? 'gone' : now;
      if (this.drift.get(version) === change) continue;
      this.drift.set(version, change);
      const what =
        now === undefined
          ? `its folder ${dir} is gone or unreadable`
          : `its files in ${dir} changed on disk since it was loaded`;
      this.options.events.error(
        `version ${version}: ${what}; still serving the copy loaded in memory (publish a new model as a new version folder)`,
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    const all = [...this.loaded.values()];
    this.loaded.clear();
    await Promise.all(all.map((v) => v.unload()));
  }
}
