/**
 * Hyperparameter importance, like Optuna's `get_param_importances` with its default fANOVA evaluator: a random
 * forest (ml-random-forest) is fitted to the finished trials' objective values, and each tree's prediction variance
 * over the search box is split into the share explained by each hyperparameter alone (functional ANOVA, Hutter et
 * al. 2014). The shares are averaged over the trees and normalised to sum to 1.
 *
 * Encoding: numbers as they are (log10 when all positive and spanning two decades, as log-sampled values are);
 * strings and booleans one-hot, their columns' shares summed. A conditional hyperparameter a trial did not use is
 * its own value: below the observed range for numbers, an extra category otherwise. The forest is seeded, so the
 * same trials always give the same importances.
 */
import type { HpValue } from '@tuneserve/client';
import { RandomForestRegression } from 'ml-random-forest';

/** What importance needs of a trial: the study view's trials fit. */
export interface ImportanceTrial {
  status: string;
  hyperparameters: Record<string, HpValue>;
  score: number | null;
  /** Final metrics, read when `objective` names one. */
  finalMetrics?: Record<string, number>;
}

export interface ImportanceOptions {
  /** Trees in the forest (default 32). */
  trees?: number;
  /** Forest seed (default 0). */
  seed?: number;
}

/** The trees' node shape (ml-cart's TreeNode; not in the package's declarations). */
interface TreeNode {
  splitColumn?: number;
  splitValue?: number;
  left?: TreeNode;
  right?: TreeNode;
  distribution?: number;
}

/** One column of the encoded design matrix, and the hyperparameter it belongs to. */
interface Column {
  hp: string;
  lo: number;
  hi: number;
}

const INACTIVE = '\u0000inactive';

/**
 * Each hyperparameter's share of the objective's variance over the COMPLETED trials, largest first (sums to 1 when
 * the objective varies; all 0 when it does not). `objective` names a final metric; unset: the trial's score.
 * Hyperparameters that never change get 0. Fewer than 2 usable trials: an empty record.
 */
export function hyperparameterImportance(
  trials: readonly ImportanceTrial[],
  objective?: string,
  options: ImportanceOptions = {},
): Record<string, number> {
  const usable: { hps: Record<string, HpValue>; y: number }[] = [];
  for (const t of trials) {
    if (t.status !== 'COMPLETED') continue;
    const y = objective === undefined || !t.finalMetrics ? t.score : t.finalMetrics[objective];
    if (y !== null && y !== undefined && Number.isFinite(y)) usable.push({ hps: t.hyperparameters, y });
  }
  if (usable.length < 2) return {};
  const names = [...new Set(usable.flatMap((t) => Object.keys(t.hps)))].sort();
  const { columns, rows } = encode(
    names,
    usable.map((t) => t.hps),
  );
  const shares = Object.fromEntries(names.map((n) => [n, 0]));
  const ys = usable.map((t) => t.y);
  if (columns.length > 0 && Math.max(...ys) > Math.min(...ys)) {
    const forest = new RandomForestRegression({
      nEstimators: options.trees ?? 32,
      maxFeatures: columns.length,
      replacement: false,
      useSampleBagging: true,
      noOOB: true,
      seed: options.seed ?? 0,
      treeOptions: { maxDepth: 32, minNumSamples: 2 },
    });
    forest.train(rows, ys);
    const estimators = (forest.estimators ?? []) as unknown as { root: TreeNode }[];
    const indexes = forest.indexes ?? [];
    let counted = 0;
    const sums = new Array<number>(columns.length).fill(0);
    estimators.forEach((tree, i) => {
      const perColumn = treeShares(tree.root, indexes[i] ?? [], columns);
      if (!perColumn) return;
      counted++;
      perColumn.forEach((v, c) => {
        sums[c]! += v;
      });
    });
    if (counted > 0) for (const [c, col] of columns.entries()) shares[col.hp]! += sums[c]! / counted;
  }
  const total = Object.values(shares).reduce((a, b) => a + b, 0);
  return Object.fromEntries(
    Object.entries(shares)
      .map(([k, v]) => [k, total > 0 ? v / total : 0] as const)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  );
}

/** A trial as per-objective importance reads it: a multi-objective study's trials carry each objective's value. */
export interface ObjectiveTrial extends ImportanceTrial {
  /** Each objective's value, in the study's objective order (multi-objective studies). */
  values?: (number | null)[] | null;
}

/**
 * Importance for each of the study's objectives, by name in the study's order: the score for a single objective,
 * a multi-objective study's k-th value for its k-th objective.
 */
export function objectiveImportances(
  trials: readonly ObjectiveTrial[],
  objectives: readonly string[],
  options: ImportanceOptions = {},
): Record<string, Record<string, number>> {
  return Object.fromEntries(
    objectives.map((name, k) => [
      name,
      hyperparameterImportance(
        trials.map((t) => ({
          status: t.status,
          hyperparameters: t.hyperparameters,
          score: t.values ? (t.values[k] ?? null) : k === 0 ? t.score : null,
        })),
        undefined,
        options,
      ),
    ]),
  );
}

/** The design matrix: one column per numeric hyperparameter, one per category of the others. */
function encode(names: string[], trials: Record<string, HpValue>[]): { columns: Column[]; rows: number[][] } {
  const columns: Column[] = [];
  const encoders: ((hps: Record<string, HpValue>) => number[])[] = [];
  for (const name of names) {
    const present = trials.map((t) => t[name]).filter((v): v is HpValue => v !== undefined);
    const missing = present.length < trials.length;
    if (present.every((v) => typeof v === 'number')) {
      const nums = present as number[];
      const log = nums.every((v) => v > 0) && Math.max(...nums) / Math.min(...nums) >= 100;
      const f = (v: number) => (log ? Math.log10(v) : v);
      let lo = Math.min(...nums.map(f));
      const hi = Math.max(...nums.map(f));
      // Inactive sits one range (or 1) below the observed values, so a split can tell it apart.
      const inactive = lo - (hi > lo ? hi - lo : 1);
      if (missing) lo = inactive;
      if (hi === lo) continue; // never changes: nothing to explain
      columns.push({ hp: name, lo, hi });
      encoders.push((hps) => {
        const v = hps[name];
        return [v === undefined ? inactive : f(v as number)];
      });
      continue;
    }
    const categories = [...new Set(trials.map((t) => (t[name] === undefined ? INACTIVE : String(t[name]))))].sort();
    if (categories.length < 2) continue;
    for (let k = 0; k < categories.length; k++) columns.push({ hp: name, lo: 0, hi: 1 });
    encoders.push((hps) => {
      const v = hps[name] === undefined ? INACTIVE : String(hps[name]);
      return categories.map((c) => (c === v ? 1 : 0));
    });
  }
  return { columns, rows: trials.map((t) => encoders.flatMap((e) => e(t))) };
}

interface Leaf {
  /** Per column, the [lo, hi) part of its domain this leaf covers. */
  box: [number, number][];
  value: number;
}

/**
 * One tree's per-column share of its prediction variance over the box of the columns' domains (uniform measure):
 * the variance of the column's marginal prediction divided by the total. Undefined when the tree is constant.
 */
function treeShares(root: TreeNode, usedColumns: number[], columns: Column[]): number[] | undefined {
  const leaves: Leaf[] = [];
  const walk = (node: TreeNode, box: [number, number][]) => {
    if (node.left && node.right && node.splitColumn !== undefined && node.splitValue !== undefined) {
      const c = usedColumns[node.splitColumn] ?? node.splitColumn;
      const [lo, hi] = box[c]!;
      const cut = Math.min(hi, Math.max(lo, node.splitValue));
      walk(
        node.left,
        box.map((b, j) => (j === c ? [lo, cut] : b)),
      );
      walk(
        node.right,
        box.map((b, j) => (j === c ? [cut, hi] : b)),
      );
      return;
    }
    leaves.push({ box, value: node.distribution ?? 0 });
  };
  walk(
    root,
    columns.map((c) => [c.lo, c.hi]),
  );
  const width = columns.map((c) => c.hi - c.lo);
  const fraction = (leaf: Leaf, j: number) => (leaf.box[j]![1] - leaf.box[j]![0]) / width[j]!;
  const weight = leaves.map((leaf) => leaf.box.reduce((w, _, j) => w * fraction(leaf, j), 1));
  const mean = leaves.reduce((s, leaf, i) => s + weight[i]! * leaf.value, 0);
  const variance = leaves.reduce((s, leaf, i) => s + weight[i]! * (leaf.value - mean) ** 2, 0);
  if (!(variance > 1e-12 * Math.max(1, mean * mean))) return undefined;
  return columns.map((col, j) => {
    // The column's cut points split its domain into pieces each leaf covers wholly or not at all.
    const cuts = [...new Set(leaves.flatMap((l) => l.box[j]!))].sort((a, b) => a - b);
    let marginalVariance = 0;
    for (let k = 0; k + 1 < cuts.length; k++) {
      const a = cuts[k]!;
      const b = cuts[k + 1]!;
      if (b <= a) continue;
      let marginal = 0;
      leaves.forEach((leaf, i) => {
        const [lo, hi] = leaf.box[j]!;
        if (lo <= a && b <= hi && weight[i]! > 0) marginal += leaf.value * (weight[i]! / fraction(leaf, j));
      });
      marginalVariance += ((b - a) / (col.hi - col.lo)) * (marginal - mean) ** 2;
    }
    return marginalVariance / variance;
  });
}
