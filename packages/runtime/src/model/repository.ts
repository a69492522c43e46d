/** Versioned model store in the TensorFlow Serving layout: <root>/<integer version>/{model.json, weights.bin, metadata.json}. */
import { access, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ModelMetadataJson } from '@tuneserve/client';
import { parseInteger } from '../env.js';
import { ModelFileError } from '../errors.js';
import { TUNESERVE_VERSION } from '../version.js';
import { MODEL_JSON, writeModelToTemp } from './files.js';

export const METADATA_JSON = 'metadata.json';

/** A version's metadata.json: the wire type the server answers with (declared once, in @tuneserve/client). */
export type ModelMetadata = ModelMetadataJson;

/** The version a folder name stands for: a positive safe integer written plainly ("7", not "07"); else undefined. */
export function versionOf(name: string): number | undefined {
  const v = parseInteger(name, 1);
  return v !== undefined && String(v) === name ? v : undefined;
}

export class ModelRepository {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Published versions, ascending (directories named by a positive integer that hold a model.json). */
  async listVersions(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const versions: number[] = [];
    for (const name of names) {
      const v = versionOf(name);
      if (v === undefined) continue;
      const ok = await access(join(this.root, name, MODEL_JSON)).then(
        () => true,
        () => false,
      );
      if (ok) versions.push(v);
    }
    return versions.sort((a, b) => a - b);
  }

  async latestVersion(): Promise<number | undefined> {
    return (await this.listVersions()).at(-1);
  }

  versionDir(v: number): string {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`model version must be a positive integer, got ${v}`);
    return join(this.root, String(v));
  }

  /**
   * Saves the model as the next version. The version directory appears atomically; if another writer takes the
   * same number first, the next free number is used.
   */
  async saveVersion(
    model: tf.LayersModel,
    metadata: Omit<ModelMetadata, 'version' | 'createdAt' | 'tuneserveVersion'>,
    extraFiles: Record<string, string | Uint8Array> = {},
  ): Promise<{ version: number; dir: string }> {
    let version = ((await this.latestVersion()) ?? 0) + 1;
    const full: ModelMetadata = {
      ...metadata,
      version,
      createdAt: new Date().toISOString(),
      tuneserveVersion: TUNESERVE_VERSION,
    } as ModelMetadata;
    const files = { ...extraFiles, [METADATA_JSON]: `${JSON.stringify(full, null, 2)}\n` };
    let tmp = await writeModelToTemp(model, this.versionDir(version), files);
    try {
      for (;;) {
        try {
          await rename(tmp, this.versionDir(version)); // fails when the directory exists and is not empty
          return { version, dir: this.versionDir(version) };
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
          // Another writer published this number first: rewrite metadata with the next number and retry.
          await rm(tmp, { recursive: true, force: true });
          version = Math.max(version + 1, ((await this.latestVersion()) ?? 0) + 1);
          full.version = version;
          tmp = await writeModelToTemp(model, this.versionDir(version), {
            ...extraFiles,
            [METADATA_JSON]: `${JSON.stringify(full, null, 2)}\n`,
          });
        }
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** The version's metadata.json, or undefined when the version or its metadata does not exist. */
  async readMetadata(v: number): Promise<ModelMetadata | undefined> {
    const file = join(this.versionDir(v), METADATA_JSON);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ModelFileError(`${file}: ${(e as Error).message}`, file, { cause: e });
    }
    try {
      const parsed = JSON.parse(text) as ModelMetadata;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed;
    } catch (e) {
      throw new ModelFileError(`${file}: corrupt metadata (${(e as Error).message})`, file, { cause: e });
    }
  }
}
