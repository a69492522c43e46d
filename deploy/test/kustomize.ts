/**
 * A small Kustomize renderer for the tests: the subset deploy/k8s uses (resources that are files
 * or directories, components, JSON 6902 patches with kind/name targets, namespace, images), so
 * the manifests can be checked as `kubectl apply -k` would see them without a kustomize binary.
 * Anything outside that subset throws, so a new feature in the manifests cannot pass unchecked.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyPatch, type Operation } from 'fast-json-patch';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

interface KustomizeConfig {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: { target?: { kind?: string; name?: string }; path?: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'components', 'patches', 'images']);
const CLUSTER_SCOPED = new Set(['Namespace', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass']);

/** Every YAML document in a file, as plain data. */
export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return doc.toJS();
  });
}

function readConfig(dir: string): KustomizeConfig {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir} has no kustomization.yaml`);
  const [config] = readYamlDocuments(file) as KustomizeConfig[];
  if (config === undefined) throw new Error(`${file} is empty`);
  for (const key of Object.keys(config)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`${file}: "${key}" is not supported by the test renderer`);
  }
  return config;
}

/** The files a kustomization (or component) directory reads directly, for the orphan check. */
export function referencedFiles(dir: string): string[] {
  const config = readConfig(dir);
  const files = [join(dir, 'kustomization.yaml')];
  for (const entry of config.resources ?? []) {
    const path = resolve(dir, entry);
    if (!statSync(path).isDirectory()) files.push(path);
  }
  for (const patch of config.patches ?? []) if (patch.path) files.push(resolve(dir, patch.path));
  return files;
}

/** Renders a kustomization directory into the objects `kubectl apply -k <dir>` would send. */
export function render(dir: string): K8sObject[] {
  const config = readConfig(dir);
  if (config.kind !== 'Kustomization') throw new Error(`${dir}: expected kind Kustomization, got ${config.kind}`);
  return build(dir, config);
}

function build(dir: string, config: KustomizeConfig): K8sObject[] {
  let objects: K8sObject[] = [];
  for (const entry of config.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${dir}: resource ${entry} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? render(path) : (readYamlDocuments(path) as K8sObject[])));
  }
  for (const entry of config.components ?? []) {
    const componentDir = resolve(dir, entry);
    const component = readConfig(componentDir);
    if (component.kind !== 'Component') throw new Error(`${componentDir}: expected kind Component`);
    objects = applyComponent(componentDir, component, objects);
  }
  objects = applyPatches(dir, config, objects);
  return objects.map((object) => transform(object, config));
}

function applyComponent(dir: string, component: KustomizeConfig, objects: K8sObject[]): K8sObject[] {
  const added = (component.resources ?? []).flatMap((entry) => readYamlDocuments(resolve(dir, entry)) as K8sObject[]);
  return applyPatches(dir, component, [...objects, ...added]);
}

function applyPatches(dir: string, config: KustomizeConfig, objects: K8sObject[]): K8sObject[] {
  for (const patch of config.patches ?? []) {
    if (!patch.path || !patch.target) throw new Error(`${dir}: only file patches with a target are supported`);
    const [operations] = readYamlDocuments(resolve(dir, patch.path)) as Operation[][];
    if (!Array.isArray(operations)) throw new Error(`${patch.path}: expected a JSON 6902 operation list`);
    const { kind, name } = patch.target;
    const matches = objects.filter((o) => (!kind || o.kind === kind) && (!name || o.metadata.name === name));
    if (matches.length === 0) throw new Error(`${dir}: patch ${patch.path} matches no object`);
    objects = objects.map((o) =>
      matches.includes(o) ? (applyPatch(structuredClone(o), operations, true).newDocument as K8sObject) : o,
    );
  }
  return objects;
}

function transform(object: K8sObject, config: KustomizeConfig): K8sObject {
  const out = structuredClone(object);
  if (config.namespace && !CLUSTER_SCOPED.has(out.kind)) out.metadata.namespace = config.namespace;
  if (config.namespace && out.kind === 'Namespace' && out.metadata.name !== config.namespace) {
    throw new Error(`Namespace ${out.metadata.name} differs from the kustomization namespace ${config.namespace}`);
  }
  for (const container of podContainers(out)) {
    const image = config.images?.find((i) => i.name === container.image);
    if (image) container.image = `${image.newName ?? image.name}${image.newTag ? `:${image.newTag}` : ''}`;
  }
  return out;
}

export interface Container {
  name: string;
  image?: string;
  [key: string]: unknown;
}

/** The pod template spec of a workload (Deployment, StatefulSet, Job), if any. */
export function podSpec(object: K8sObject): Record<string, unknown> | undefined {
  const spec = object.spec as { template?: { spec?: Record<string, unknown> } } | undefined;
  return spec?.template?.spec;
}

/** Containers and init containers of a workload's pod template. */
export function podContainers(object: K8sObject): Container[] {
  const spec = podSpec(object) as { containers?: Container[]; initContainers?: Container[] } | undefined;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}
