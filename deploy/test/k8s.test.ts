/**
 * deploy/k8s: every kustomization, rendered by the real `kubectl kustomize`, validates against the
 * Kubernetes schemas (kubernetes-models), and the invariants the server and the tuning pipeline
 * rely on hold: no database password on a command line, a shared study volume for the tuning
 * workers and the trainer. The model-url init script is also run for real against a loopback
 * HTTP server. Needs kubectl (hasSystem skips loudly outside CI and fails under CI=true).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadLayersModel, saveLayersModel } from '@tuneserve/runtime';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as core from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hasSystem } from '../../test-support/system.js';
import { cliHelp, flagsOf } from './cli-help.js';
import { type Container, type K8sObject, podContainers, podSpec, render } from './kubectl.js';

const K8S = resolve(import.meta.dirname, '../k8s');
const ENTRY_POINTS = ['.', 'overlays/model-volume', 'overlays/model-url', 'tuning', 'tuning/train'];
/** Kustomizations only other kustomizations use (they leave the image name to the entry points). */
const BASES = ['server'];
const SERVER_ENTRY_POINTS = ['.', 'overlays/model-volume', 'overlays/model-url'];
const SERVER_LABELS = { 'app.kubernetes.io/name': 'tuneserve', 'app.kubernetes.io/component': 'server' };

type Validatable = new (data: unknown) => { validate(): void };

// One module per apiVersion the manifests use; a new apiVersion fails until it is added here.
const SCHEMAS: Record<string, Record<string, unknown>> = {
  v1: core,
  'apps/v1': apps,
  'batch/v1': batch,
  'autoscaling/v2': autoscaling,
  'policy/v1': policy,
  'networking.k8s.io/v1': networking,
};

/** The kubernetes-models class for an apiVersion/kind, e.g. apps/v1 Deployment. */
async function schemaModel(apiVersion: string, kind: string): Promise<Validatable> {
  const model = SCHEMAS[apiVersion]?.[kind];
  if (typeof model !== 'function') throw new Error(`no Kubernetes schema for ${apiVersion} ${kind}`);
  return model as Validatable;
}

async function validate(object: K8sObject): Promise<void> {
  const Model = await schemaModel(object.apiVersion, object.kind);
  new Model(object).validate();
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

interface KustomizationFile {
  kind?: string;
  resources?: string[];
  components?: string[];
  patches?: { path?: string }[];
}

function readKustomization(dir: string): KustomizationFile {
  return parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as KustomizationFile;
}

/** Folders under deploy/k8s holding a kustomization.yaml of the given kind, relative, '.' for the root. */
function kustomizationDirs(kind: 'Kustomization' | 'Component'): string[] {
  return yamlFiles(K8S)
    .filter((f) => f.endsWith('/kustomization.yaml'))
    .map((f) => resolve(f, '..'))
    .filter((dir) => (readKustomization(dir).kind ?? 'Kustomization') === kind)
    .map((dir) => relative(K8S, dir) || '.')
    .sort();
}

/** The files a kustomization (or component) folder reads itself, for the orphan check. */
function referencedFiles(dir: string): string[] {
  const config = readKustomization(dir);
  const files = [join(dir, 'kustomization.yaml')];
  for (const entry of config.resources ?? []) {
    const path = resolve(dir, entry);
    if (!statSync(path).isDirectory()) files.push(path);
  }
  for (const patch of config.patches ?? []) if (patch.path) files.push(resolve(dir, patch.path));
  return files;
}

function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} in the rendered manifests`);
  return found;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podLabels(workload: K8sObject): Record<string, string> {
  const spec = workload.spec as { template: { metadata: { labels: Record<string, string> } } };
  return spec.template.metadata.labels;
}

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface ServerContainer extends Container {
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { configMapRef?: { name: string } }[];
  args?: string[];
  command?: string[];
}

// Keys of a container this project may use; a misspelt key (which the schemas let through) fails.
const CONTAINER_KEYS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'env',
  'envFrom',
  'ports',
  'startupProbe',
  'readinessProbe',
  'livenessProbe',
  'lifecycle',
  'resources',
  'securityContext',
  'volumeMounts',
  'workingDir',
]);
const POD_KEYS = new Set([
  'serviceAccountName',
  'automountServiceAccountToken',
  'terminationGracePeriodSeconds',
  'securityContext',
  'topologySpreadConstraints',
  'containers',
  'initContainers',
  'volumes',
  'restartPolicy',
]);

const withKubectl = hasSystem('kubectl');

describe.skipIf(!withKubectl)('kubectl kustomize', () => {
  it('every kustomization under deploy/k8s renders, and each one but the shared base is an entry point', () => {
    const all = kustomizationDirs('Kustomization');
    expect(all).toEqual([...ENTRY_POINTS, ...BASES].sort());
    for (const dir of all) expect(render(join(K8S, dir)).length, dir).toBeGreaterThan(0);
  });

  it('reports what the real kustomize refuses: an overlay inside its own base (negative control)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tuneserve-kustomize-'));
    try {
      const kustomization = (body: string) =>
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n${body}`;
      writeFileSync(join(dir, 'kustomization.yaml'), kustomization('resources:\n  - sa.yaml\n'));
      writeFileSync(join(dir, 'sa.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\n');
      mkdirSync(join(dir, 'overlays', 'x'), { recursive: true });
      writeFileSync(join(dir, 'overlays', 'x', 'kustomization.yaml'), kustomization('resources:\n  - ../..\n'));
      expect(render(dir).map((o) => o.kind)).toEqual(['ServiceAccount']);
      expect(() => render(join(dir, 'overlays', 'x'))).toThrow(/cycle detected/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!withKubectl)('deploy/k8s manifests', () => {
  const rendered = new Map<string, K8sObject[]>();
  beforeAll(() => {
    for (const entry of ENTRY_POINTS) rendered.set(entry, render(join(K8S, entry)));
  });
  const objectsOf = (entry: string): K8sObject[] => rendered.get(entry) ?? [];

  it('every YAML file is read by a kustomization, and every reference exists', () => {
    const kustomizations = yamlFiles(K8S).filter((f) => f.endsWith('/kustomization.yaml'));
    const used = new Set(kustomizations.flatMap((f) => referencedFiles(resolve(f, '..'))));
    const orphans = yamlFiles(K8S).filter((f) => !used.has(f));
    expect(orphans.map((f) => relative(K8S, f))).toEqual([]);
  });

  it.each(ENTRY_POINTS)('%s: every rendered object validates against the Kubernetes schemas', async (entry) => {
    const objects = objectsOf(entry);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      await expect(validate(object), `${object.kind} ${object.metadata.name}`).resolves.toBeUndefined();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, object.metadata.name).toBe('tuneserve');
      for (const key of Object.keys(podSpec(object) ?? {}))
        expect(POD_KEYS, `${object.metadata.name}: ${key}`).toContain(key);
      for (const container of podContainers(object)) {
        for (const key of Object.keys(container)) expect(CONTAINER_KEYS, `${container.name}: ${key}`).toContain(key);
        // The image name is rewritten by `images:` everywhere, so one registry setting covers all.
        if (container.image?.includes('tuneserve'))
          expect(container.image).toBe('registry.example.com/tuneserve:0.1.0');
      }
    }
  });

  it('the validator really rejects broken manifests (negative control)', async () => {
    const deployment = structuredClone(find(objectsOf('.'), 'Deployment', 'tuneserve'));
    (deployment.spec as { replicas: unknown }).replicas = 'two';
    await expect(validate(deployment)).rejects.toThrow(/replicas/);
    const job = structuredClone(find(objectsOf('tuning'), 'Job', 'tuneserve-tune'));
    delete (podSpec(job) as Record<string, unknown>).containers;
    await expect(validate(job)).rejects.toThrow(/containers/);
    await expect(validate({ apiVersion: 'apps/v1', kind: 'Deploymnt', metadata: { name: 'x' } })).rejects.toThrow();
  });

  it.each(SERVER_ENTRY_POINTS)('%s: the server Deployment is replicated, probed, bounded and locked down', (entry) => {
    const objects = objectsOf(entry);
    const deployment = find(objects, 'Deployment', 'tuneserve');
    const spec = deployment.spec as { replicas: number; selector: { matchLabels: Record<string, string> } };
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
    expect(podLabels(deployment)).toMatchObject(SERVER_LABELS);
    expect(matches(spec.selector.matchLabels, podLabels(deployment))).toBe(true);

    const pod = podSpec(deployment) as {
      securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } };
      topologySpreadConstraints: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
      automountServiceAccountToken: boolean;
      volumes: { name: string; secret?: { secretName: string }; persistentVolumeClaim?: { claimName: string } }[];
      containers: ServerContainer[];
    };
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    expect(pod.automountServiceAccountToken).toBe(false);
    const keys = pod.topologySpreadConstraints.map((c) => c.topologyKey);
    expect(keys).toEqual(expect.arrayContaining(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']));
    for (const c of pod.topologySpreadConstraints)
      expect(matches(c.labelSelector.matchLabels, podLabels(deployment))).toBe(true);

    for (const container of podContainers(deployment) as ServerContainer[]) {
      expect(container.resources?.requests?.cpu, container.name).toBeDefined();
      expect(container.resources?.requests?.memory, container.name).toBeDefined();
      expect(container.resources?.limits?.memory, container.name).toBeDefined();
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
    }

    const server = pod.containers.find((c) => c.name === 'server') as ServerContainer;
    const http = server.ports?.find((p) => p.name === 'http');
    expect(http?.containerPort).toBe(8080);
    expect(server.env?.find((e) => e.name === 'PORT')?.value).toBe('8080');
    expect(server.readinessProbe?.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(server.livenessProbe?.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(server.startupProbe?.httpGet?.path).toMatch(/^\/v2\/health\//);
    expect(server.volumeMounts?.find((m) => m.mountPath === '/tmp')).toBeDefined();

    // API keys: the Secret exists, is mounted read-only, and API_KEY_FILE points into the mount.
    const keyVolume = pod.volumes.find((v) => v.secret);
    const secret = find(objects, 'Secret', keyVolume?.secret?.secretName);
    const mount = server.volumeMounts?.find((m) => m.name === keyVolume?.name);
    expect(mount?.readOnly).toBe(true);
    const keyFile = server.env?.find((e) => e.name === 'API_KEY_FILE')?.value ?? '';
    const keyName = keyFile.slice(`${mount?.mountPath}/`.length);
    expect(keyFile.startsWith(`${mount?.mountPath}/`)).toBe(true);
    const digests = ((secret.stringData as Record<string, string>)[keyName] ?? '').trim().split('\n');
    for (const digest of digests) expect(digest).toMatch(/^[0-9a-f]{64}$/);

    // Service, HPA, PDB and NetworkPolicy all select these pods.
    const service = find(objects, 'Service', 'tuneserve');
    const serviceSpec = service.spec as { selector: Record<string, string>; ports: { targetPort: string }[] };
    expect(matches(serviceSpec.selector, podLabels(deployment))).toBe(true);
    expect(serviceSpec.ports.map((p) => p.targetPort)).toEqual(['http']);

    const hpa = find(objects, 'HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
    };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'tuneserve' });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);

    const pdb = find(objects, 'PodDisruptionBudget').spec as {
      minAvailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    expect(pdb.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.minAvailable).toBeLessThan(hpa.minReplicas);
    expect(matches(pdb.selector.matchLabels, podLabels(deployment))).toBe(true);

    const policy = find(objects, 'NetworkPolicy', 'tuneserve-server').spec as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: { from?: unknown; ports: { port: number }[] }[];
      egress: { to?: unknown; ports: { port: number }[] }[];
    };
    expect(matches(policy.podSelector.matchLabels, podLabels(deployment))).toBe(true);
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([8080]);
    const egressPorts = policy.egress.flatMap((r) => r.ports.map((p) => p.port));
    expect(egressPorts.every((p) => p === 53 || (entry === 'overlays/model-url' && p === 443))).toBe(true);
  });

  it('model by volume: the tuning pipeline PVC is mounted read-only at /models', () => {
    const deployment = find(objectsOf('overlays/model-volume'), 'Deployment', 'tuneserve');
    const pod = podSpec(deployment) as {
      volumes: { name: string; persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
    };
    const volume = pod.volumes.find((v) => v.persistentVolumeClaim);
    expect(volume?.persistentVolumeClaim).toEqual({ claimName: 'tuneserve-models', readOnly: true });
    find(objectsOf('tuning'), 'PersistentVolumeClaim', 'tuneserve-models');
    const server = podContainers(deployment).find((c) => c.name === 'server') as ServerContainer;
    expect(server.volumeMounts).toContainEqual({ name: volume?.name, mountPath: '/models', readOnly: true });
    expect(server.env?.find((e) => e.name === 'MODEL_DIR')?.value).toBe('/models/mnist');
  });

  it('tuning: N workers share one PostgreSQL study that only study clients can reach', () => {
    const objects = objectsOf('tuning');
    const job = find(objects, 'Job', 'tuneserve-tune');
    const jobSpec = job.spec as { parallelism: number; completions: number };
    expect(jobSpec.parallelism).toBeGreaterThanOrEqual(2);
    expect(jobSpec.completions).toBe(jobSpec.parallelism);

    const database = find(objects, 'StatefulSet', 'tuneserve-postgres');
    const service = find(objects, 'Service', 'tuneserve-postgres').spec as {
      selector: Record<string, string>;
      ports: { port: number }[];
    };
    expect(matches(service.selector, podLabels(database))).toBe(true);

    const secret = find(objects, 'Secret', 'tuneserve-postgres').stringData as Record<string, string>;
    const trainJob = find(objectsOf('tuning/train'), 'Job', 'tuneserve-train');
    for (const workload of [job, trainJob]) {
      const [worker] = podContainers(workload) as ServerContainer[];
      const storage = worker?.args?.find((a) => a.startsWith('--storage='))?.slice('--storage='.length) ?? '';
      const url = new URL(storage);
      expect(url.protocol).toBe('postgres:');
      expect(url.hostname).toBe('tuneserve-postgres');
      expect(Number(url.port)).toBe(service.ports[0]?.port);
      expect(url.username).toBe(secret.POSTGRES_USER);
      expect(url.pathname).toBe(`/${secret.POSTGRES_DB}`);
      // The password comes from the Secret through PGPASSWORD (read by pg), never the command line.
      expect(url.password).toBe('');
      expect(worker?.env?.find((e) => e.name === 'PGPASSWORD')?.valueFrom).toEqual({
        secretKeyRef: { name: 'tuneserve-postgres', key: 'POSTGRES_PASSWORD' },
      });
      expect(podLabels(workload)['tuneserve.dev/study-client']).toBe('true');
    }

    // One study folder for all: checkpoints of taken-over trials and tuneserve-pipeline.json.
    const tuningClaim = find(objects, 'PersistentVolumeClaim', 'tuneserve-tuning').spec as { accessModes: string[] };
    expect(tuningClaim.accessModes).toEqual(['ReadWriteMany']);
    for (const workload of [job, trainJob]) {
      const pod = podSpec(workload) as { volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] };
      const [worker] = podContainers(workload) as ServerContainer[];
      const directory = worker?.args?.find((a) => a.startsWith('--directory='))?.slice('--directory='.length) ?? '';
      const mount = worker?.volumeMounts?.find(
        (m) => directory === m.mountPath || directory.startsWith(`${m.mountPath}/`),
      );
      const volume = pod.volumes.find((v) => v.name === mount?.name);
      expect(volume?.persistentVolumeClaim?.claimName, `${workload.metadata.name} --directory=${directory}`).toBe(
        'tuneserve-tuning',
      );
      expect(mount?.readOnly).not.toBe(true);
    }

    const dbPolicy = find(objects, 'NetworkPolicy', 'tuneserve-postgres').spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
    };
    expect(matches(dbPolicy.podSelector.matchLabels, podLabels(database))).toBe(true);
    expect(dbPolicy.ingress).toHaveLength(1);
    expect(dbPolicy.ingress[0]?.from.map((f) => f.podSelector.matchLabels)).toEqual([
      { 'tuneserve.dev/study-client': 'true' },
    ]);
    expect(matches(dbPolicy.ingress[0]?.from[0]?.podSelector.matchLabels, podLabels(job))).toBe(true);
    expect(matches(dbPolicy.ingress[0]?.from[0]?.podSelector.matchLabels, podLabels(database))).toBe(false);
  });

  it.each(ENTRY_POINTS)('%s: no secret is on any command line', (entry) => {
    for (const workload of objectsOf(entry)) {
      for (const container of podContainers(workload) as ServerContainer[]) {
        const fromSecrets = (container.env ?? []).filter((e) =>
          JSON.stringify(e.valueFrom ?? {}).includes('secretKeyRef'),
        );
        const line = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
        for (const variable of fromSecrets) expect(line, container.name).not.toContain(`$(${variable.name})`);
        expect(line, container.name).not.toMatch(/:\/\/[^/\s@]*:[^/\s@]*@|password=/i);
      }
    }
  });

  it('the flags in the manifests exist in the real CLI', () => {
    for (const entry of ['tuning', 'tuning/train']) {
      for (const workload of objectsOf(entry).filter((o) => o.kind === 'Job')) {
        const [container] = podContainers(workload) as ServerContainer[];
        const [command = '', ...args] = container?.args ?? [];
        for (const flag of flagsOf(args)) expect(cliHelp(command), `${command} ${flag}`).toContain(`${flag} `);
      }
    }
  });
});

describe.skipIf(!withKubectl)('deploy/k8s model-url init container', () => {
  let dir: string;
  let baseUrl: string;
  let otherUrl: string;
  const otherRequests: string[] = [];
  /** Files served under /model/1/ (a real small model) and a few hostile folders. */
  const files = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/away/1/model.json') {
      res.writeHead(302, { location: `${otherUrl}/model/1/model.json` }).end();
      return;
    }
    const body = files.get(url);
    res.writeHead(body === undefined ? 404 : 200).end(body);
  });
  const other = createServer((req, res) => {
    otherRequests.push(req.url ?? '');
    res.writeHead(200).end(files.get(req.url ?? ''));
  });
  const listen = async (s: typeof server): Promise<string> => {
    await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tuneserve-fetch-model-'));
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
    await saveLayersModel(model, join(dir, 'source'), { 'metadata.json': JSON.stringify({ name: 'mnist' }) });
    model.dispose();
    for (const name of ['model.json', 'weights.bin', 'metadata.json'])
      files.set(`/model/1/${name}`, readFileSync(join(dir, 'source', name)));
    const json = JSON.parse(readFileSync(join(dir, 'source', 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../secret.bin'];
    files.set('/escape/1/model.json', Buffer.from(JSON.stringify(json)));
    files.set('/secret.bin', readFileSync(join(dir, 'source', 'weights.bin')));
    baseUrl = await listen(server);
    otherUrl = await listen(other);
  });
  afterAll(() => {
    server.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function initScript(): ServerContainer {
    const deployment = find(render(join(K8S, 'overlays/model-url')), 'Deployment', 'tuneserve');
    return podContainers(deployment).find((c) => c.name === 'fetch-model') as ServerContainer;
  }

  /** Runs the init container's command with node from the repository root (the image runs it in /app). */
  function run(container: ServerContainer, env: Record<string, string>): Promise<{ code: number; output: string }> {
    const [command, ...args] = [...(container.command ?? []), ...(container.args ?? [])];
    expect(command).toBe('node');
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, cwd: resolve(K8S, '../..') });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    return new Promise((done) => child.on('close', (code) => done({ code: code ?? -1, output })));
  }

  it('downloads model.json, its weights and metadata.json into /models/mnist/1, loadable as served', async () => {
    const container = initScript();
    expect(container.envFrom?.[0]?.configMapRef?.name).toBe('tuneserve-model-source');
    const target = join(dir, 'mnist', '1');
    const { code, output } = await run(container, { MODEL_URL: `${baseUrl}/model/1/`, MODEL_FETCH_DIR: target });
    expect(code, output).toBe(0);
    expect(output).toContain(`fetch-model: ${baseUrl}/model/1/ -> ${target}`);
    expect(readdirSync(target).sort()).toEqual(['metadata.json', 'model.json', 'weights.bin']);
    expect(readFileSync(join(target, 'weights.bin'))).toEqual(files.get('/model/1/weights.bin'));
    expect(readFileSync(join(target, 'metadata.json'), 'utf8')).toBe(JSON.stringify({ name: 'mnist' }));
    const loaded = await loadLayersModel(target);
    expect(loaded.inputs[0]?.shape).toEqual([null, 4]);
    loaded.dispose();
  });

  it('fails clearly on a missing file, a bad URL, a path out of the folder or a redirect to another host', async () => {
    const container = initScript();
    const target = join(dir, 'broken', '1');
    const cases: [string, RegExp][] = [
      [`${baseUrl}/nope`, /fetch-model: .*\/nope\/model\.json: HTTP 404/],
      ['file:///etc', /MODEL_URL must be an http\(s\) URL/],
      [`${baseUrl}/escape/1`, /weight path "\.\.\/\.\.\/secret\.bin" must stay inside the model folder/],
      [`${baseUrl}/away/1`, /redirected to another host \(http:\/\/127\.0\.0\.1:\d+\); not followed/],
    ];
    for (const [url, message] of cases) {
      const { code, output } = await run(container, { MODEL_URL: url, MODEL_FETCH_DIR: target });
      expect(code, output).toBe(1);
      expect(output).toMatch(message);
    }
    expect(otherRequests).toEqual([]);
    // No half-written version is left where the server looks.
    expect(() => statSync(target)).toThrow();
  });
});
