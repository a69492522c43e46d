/**
 * Many models in one server. Each model is a ModelManager over its own versions root (load → warm
 * up → swap per version). Models come from a fixed list (`--model`, a config file) and/or a model
 * root whose every sub-folder is a model: a folder that appears there is loaded, one that disappears
 * is dropped from routing first and unloaded once its in-flight requests are done. The KServe v2
 * repository extension can unload and load models by name.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BatchingOptions } from './batcher.js';
import { MODEL_NAME, type ModelSpec, type VersionPolicy } from './config.js';
import { type ManagerEvents, ModelManager, type ServedVersion } from './manager.js';

export class ServedModel {
  constructor(
    readonly spec: ModelSpec,
    readonly versions: ModelManager,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get labels(): Record<string, number> {
    return this.spec.labels;
  }

  get ready(): boolean {
    return this.versions.ready;
  }

  latest(): ServedVersion | undefined {
    return this.versions.latest();
  }
}

/** One row of the KServe v2 repository index (state names as Triton's). */
export interface RepositoryEntry {
  name: string;
  version?: string;
  state: 'READY' | 'LOADING' | 'UNAVAILABLE';
  reason: string;
}

export interface RegistryOptions {
  /** Models named one by one (`--model DIR --name X`, a config file). */
  models: ModelSpec[];
  /** A folder whose every sub-folder `<name>/` is a model's versions root. */
  root?: string | undefined;
  /** Version policy of models found under `root`. */
  rootPolicy: VersionPolicy;
  /** Model that answers the reference `/predict` and `/api/model`; default: see `defaultModel`. */
  defaultModel?: string | undefined;
  pollIntervalMs: number;
  batching: BatchingOptions;
  /** Events of one model's manager (logs and metrics carry its name). */
  events(model: string): ManagerEvents;
  /** Logs registry-level changes. */
  log(message: string, model: string): void;
}

export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  /** Names unloaded through the repository API: not reloaded by the root scan until loaded again. */
  private readonly unloaded = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private closed = false;
  /** The root could not be read on the last scan (logged once). */
  private rootMissing = false;
  private readonly fixed: Map<string, ModelSpec>;

  constructor(private readonly options: RegistryOptions) {
    this.fixed = new Map(options.models.map((m) => [m.name, m]));
  }

  async start(): Promise<void> {
    for (const spec of this.options.models) await this.add(spec);
    await this.scan();
    this.scheduleScan();
  }

  get(name: string): ServedModel | undefined {
    return this.models.get(name);
  }

  /** Loaded models, by name. */
  list(): ServedModel[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Ready when some model has a version that answered its warm-up. */
  get ready(): boolean {
    for (const m of this.models.values()) if (m.ready) return true;
    return false;
  }

  /**
   * The model of the single-model routes: the configured one, else the only one, else `mnist` (the
   * reference's model), else the first by name.
   */
  defaultModel(): ServedModel | undefined {
    if (this.options.defaultModel !== undefined) return this.models.get(this.options.defaultModel);
    const all = this.list();
    if (all.length <= 1) return all[0];
    return this.models.get('mnist') ?? all[0];
  }

  /** Every model the server knows of (loaded, loading, unloaded or failed), for the repository index. */
  async index(): Promise<RepositoryEntry[]> {
    const names = new Set([...this.fixed.keys(), ...(await this.onDisk()), ...this.models.keys(), ...this.unloaded]);
    const rows: RepositoryEntry[] = [];
    for (const name of [...names].sort()) {
      const model = this.models.get(name);
      if (!model) {
        rows.push({ name, state: 'UNAVAILABLE', reason: this.unloaded.has(name) ? 'unloaded' : 'not loaded' });
        continue;
      }
      const versions = model.versions.versions();
      if (versions.length === 0) {
        rows.push({ name, state: 'UNAVAILABLE', reason: model.versions.lastError ?? 'no version found yet' });
        continue;
      }
      for (const v of versions) rows.push({ name, version: String(v), state: 'READY', reason: '' });
    }
    return rows;
  }

  /** Loads (or re-reads) a model the server knows of; false when there is no such model. */
  async load(name: string): Promise<boolean> {
    const existing = this.models.get(name);
    if (existing) {
      await existing.versions.poll();
      return true;
    }
    const spec = this.fixed.get(name) ?? (await this.rootSpec(name));
    if (!spec) return false;
    this.unloaded.delete(name);
    await this.add(spec);
    return true;
  }

  /** Stops routing to a model and unloads it once its requests are done; false when it is not loaded. */
  async unload(name: string): Promise<boolean> {
    const model = this.models.get(name);
    if (!model) return false;
    this.unloaded.add(name);
    await this.drop(model);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.scanning;
    const all = [...this.models.values()];
    this.models.clear();
    await Promise.all(all.map((m) => m.versions.close()));
  }

  private async add(spec: ModelSpec): Promise<void> {
    if (this.closed || this.models.has(spec.name)) return;
    const versions = new ModelManager({
      root: spec.basePath,
      versionPolicy: spec.versionPolicy,
      pollIntervalMs: this.options.pollIntervalMs,
      batching: this.options.batching,
      events: this.options.events(spec.name),
    });
    const model = new ServedModel(spec, versions);
    // Routed only after its first load pass: a new model is 503-free from its first request.
    await versions.start();
    if (this.closed) {
      await versions.close();
      return;
    }
    this.models.set(spec.name, model);
    this.options.log(versions.ready ? 'model loaded' : 'model added; no version loaded yet', spec.name);
  }

  private async drop(model: ServedModel): Promise<void> {
    this.models.delete(model.name);
    this.options.log('unloading model', model.name);
    await model.versions.close();
  }

  private async rootSpec(name: string): Promise<ModelSpec | undefined> {
    if (!this.options.root || !MODEL_NAME.test(name)) return undefined;
    return (await this.onDisk()).includes(name) ? this.specUnderRoot(name) : undefined;
  }

  private specUnderRoot(name: string): ModelSpec {
    return {
      name,
      basePath: join(resolve(this.options.root ?? '.'), name),
      versionPolicy: this.options.rootPolicy,
      labels: {},
    };
  }

  /**
   * Model folders under the root (valid names only; fixed models take precedence over a folder of the same name);
   * undefined when the root itself cannot be read, which must not be taken for "every model was removed".
   */
  private async listRoot(): Promise<string[] | undefined> {
    if (!this.options.root) return [];
    let names: string[];
    try {
      names = await readdir(this.options.root);
    } catch {
      return undefined;
    }
    const found: string[] = [];
    for (const name of names) {
      if (!MODEL_NAME.test(name) || this.fixed.has(name)) continue;
      try {
        if ((await stat(join(this.options.root, name))).isDirectory()) found.push(name);
      } catch {
        // removed while we looked
      }
    }
    return found;
  }

  private async onDisk(): Promise<string[]> {
    return (await this.listRoot()) ?? [];
  }

  /** One pass over the model root: add new model folders, drop vanished ones (not when the root is unreadable). */
  private async scan(): Promise<void> {
    if (!this.options.root) return;
    const listed = await this.listRoot();
    if (listed === undefined) {
      if (!this.rootMissing) this.options.log('model root cannot be read; keeping the loaded models', '*');
      this.rootMissing = true;
      return;
    }
    this.rootMissing = false;
    const present = new Set(listed);
    for (const name of present) {
      if (this.closed) return;
      if (!this.models.has(name) && !this.unloaded.has(name)) await this.add(this.specUnderRoot(name));
    }
    for (const model of [...this.models.values()]) {
      if (!this.fixed.has(model.name) && !present.has(model.name)) await this.drop(model);
    }
    for (const name of this.unloaded) if (!present.has(name) && !this.fixed.has(name)) this.unloaded.delete(name);
  }

  private scheduleScan(): void {
    if (this.closed || !this.options.root || this.options.pollIntervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.scanning = this.scan()
        .catch((e: unknown) => this.options.log(`model root scan failed: ${(e as Error).message}`, '*'))
        .finally(() => this.scheduleScan());
    }, this.options.pollIntervalMs);
    this.timer.unref();
  }
}
