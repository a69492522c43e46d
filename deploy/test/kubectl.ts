/**
 * Renders deploy/k8s with the real `kubectl kustomize` (the kustomize built into kubectl), so the
 * tests see exactly what `kubectl apply -k <dir>` sends, errors such as "cycle detected" included.
 * kubectl comes with the machine or from scripts/setup-system.sh.
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  [key: string]: unknown;
}

/** The objects `kubectl apply -k <dir>` would send; throws with kubectl's own message on failure. */
export function render(dir: string): K8sObject[] {
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`kubectl kustomize ${dir} failed: ${stderr || (e as Error).message}`);
  }
  return parseAllDocuments(output).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${doc.errors[0]?.message}`);
    return doc.toJS() as K8sObject;
  });
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
