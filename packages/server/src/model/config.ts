/**
 * Which models a server serves and which of their versions, in the spirit of TF Serving's model
 * config: a list of models, each with a name, a base path (its versions root), a version policy
 * (latest N, all, or specific versions) and version labels. Read from JSON or YAML; every mistake is
 * reported with the entry and field it is in.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseInteger } from '@tuneserve/runtime';
import { parse as parseYaml } from 'yaml';

/** TF Serving's ServableVersionPolicy: the newest N, every version on disk, or the listed ones. */
export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

export interface ModelSpec {
  /** Name in URLs. */
  name: string;
  /** The model's versions root (holding 1/, 2/, ...) or a single model folder. */
  basePath: string;
  versionPolicy: VersionPolicy;
  /** Version labels, e.g. {stable: 2}; a label resolves only while its version is loaded. */
  labels: Record<string, number>;
}

/** Names that are safe in every URL form we serve (`/v1/models/<name>:predict`, `/v2/models/<name>/infer`). */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LABEL = /^[A-Za-z0-9_]{1,64}$/;

export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** The versions a policy keeps, given the versions on disk (newest first). */
export function selectVersions(present: readonly number[], policy: VersionPolicy): number[] {
  if ('latest' in policy) return present.slice(0, policy.latest);
  if ('all' in policy) return [...present];
  return present.filter((v) => policy.specific.includes(v));
}

export function describePolicy(policy: VersionPolicy): string {
  if ('latest' in policy) return `latest ${policy.latest}`;
  if ('all' in policy) return 'all';
  return `specific ${policy.specific.join(',')}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function positiveInt(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  const parsed = typeof value === 'string' ? parseInteger(value, 1) : undefined;
  if (parsed !== undefined) return parsed;
  throw new ModelConfigError(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
}

function readPolicy(value: unknown, where: string): VersionPolicy {
  if (value === undefined) return { latest: 1 };
  if (!isObject(value)) throw new ModelConfigError(`${where} must be an object such as {"latest": 2}`);
  const keys = Object.keys(value);
  if (keys.length !== 1)
    throw new ModelConfigError(`${where} must have exactly one of "latest", "all", "specific", got ${keys.join(', ')}`);
  if ('latest' in value) return { latest: positiveInt(value.latest, `${where}.latest`) };
  if ('all' in value) {
    if (value.all !== true) throw new ModelConfigError(`${where}.all must be true`);
    return { all: true };
  }
  if ('specific' in value) {
    const list = value.specific;
    if (!Array.isArray(list) || list.length === 0)
      throw new ModelConfigError(`${where}.specific must be a non-empty list of versions`);
    return { specific: list.map((v, i) => positiveInt(v, `${where}.specific[${i}]`)) };
  }
  throw new ModelConfigError(`${where}: unknown policy "${keys[0]}"; use "latest", "all" or "specific"`);
}

function readLabels(value: unknown, where: string): Record<string, number> {
  if (value === undefined) return {};
  if (!isObject(value)) throw new ModelConfigError(`${where} must map label names to versions`);
  const labels: Record<string, number> = {};
  for (const [label, version] of Object.entries(value)) {
    if (!LABEL.test(label)) throw new ModelConfigError(`${where}: label "${label}" must match [A-Za-z0-9_]+`);
    labels[label] = positiveInt(version, `${where}.${label}`);
  }
  return labels;
}

const KNOWN = new Set(['name', 'base_path', 'version_policy', 'labels']);

/** Validates a parsed config document; base paths are resolved against `baseDir`. */
export function readModelConfig(doc: unknown, baseDir: string): ModelSpec[] {
  const list = isObject(doc) ? doc.models : undefined;
  if (!Array.isArray(list) || list.length === 0)
    throw new ModelConfigError('the config must hold {"models": [ ... ]} with at least one model');
  const seen = new Set<string>();
  return list.map((entry, i) => {
    const where = `models[${i}]`;
    if (!isObject(entry)) throw new ModelConfigError(`${where} must be an object`);
    for (const key of Object.keys(entry)) {
      if (!KNOWN.has(key))
        throw new ModelConfigError(`${where}: unknown field "${key}" (known: ${[...KNOWN].join(', ')})`);
    }
    if (typeof entry.name !== 'string' || !MODEL_NAME.test(entry.name))
      throw new ModelConfigError(`${where}.name must match ${MODEL_NAME.source}, got ${JSON.stringify(entry.name)}`);
    if (seen.has(entry.name)) throw new ModelConfigError(`${where}.name: model "${entry.name}" is listed twice`);
    seen.add(entry.name);
    if (typeof entry.base_path !== 'string' || entry.base_path.length === 0)
      throw new ModelConfigError(`${where}.base_path must be a folder path`);
    return {
      name: entry.name,
      basePath: resolve(baseDir, entry.base_path),
      versionPolicy: readPolicy(entry.version_policy, `${where}.version_policy`),
      labels: readLabels(entry.labels, `${where}.labels`),
    };
  });
}

/** Reads a model config file (.json, or YAML for anything else); messages name the file. */
export async function loadModelConfig(path: string): Promise<ModelSpec[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelConfigError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ModelConfigError(
      `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  try {
    return readModelConfig(doc, dirname(resolve(path)));
  } catch (e) {
    throw new ModelConfigError(`${path}: ${(e as Error).message}`);
  }
}
