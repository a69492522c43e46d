/**
 * Box-constrained limited-memory BFGS (a compact projected variant of L-BFGS-B).
 * npm has no maintained, typed L-BFGS-B, so this is the minimum we need: the GP's likelihood in
 * log-hyperparameter space and the acquisition function on [0,1]^d, both with analytic gradients.
 */
/** Returns f(x) and writes df/dx into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface MinimizeOptions {
  lower: ArrayLike<number>;
  upper: ArrayLike<number>;
  maxIterations?: number;
  /** Memory size (number of correction pairs). */
  memory?: number;
  /** Stop when the projected gradient's infinity norm falls below this. */
  gradientTolerance?: number;
  /** Stop when the relative decrease of f in one step falls below this. */
  functionTolerance?: number;
}

export interface MinimizeResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
}

function project(x: Float64Array, lower: ArrayLike<number>, upper: ArrayLike<number>): void {
  for (let i = 0; i < x.length; i++) {
    const lo = lower[i] ?? Number.NEGATIVE_INFINITY;
    const hi = upper[i] ?? Number.POSITIVE_INFINITY;
    const v = x[i] as number;
    x[i] = Math.min(Math.max(v, lo), hi);
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Minimizes `objective` from `start` inside the box [lower, upper]. Non-finite values are treated as +Infinity. */
export function minimize(objective: Objective, start: ArrayLike<number>, options: MinimizeOptions): MinimizeResult {
  const n = start.length;
  const { lower, upper } = options;
  const maxIterations = options.maxIterations ?? 100;
  const memory = options.memory ?? 8;
  const gtol = options.gradientTolerance ?? 1e-6;
  const ftol = options.functionTolerance ?? 1e-9;

  const x = Float64Array.from(start);
  project(x, lower, upper);
  const g = new Float64Array(n);
  let evaluations = 1;
  let f = objective(x, g);
  if (!Number.isFinite(f)) return { x, f: Number.POSITIVE_INFINITY, iterations: 0, evaluations };

  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rhoList: number[] = [];
  const direction = new Float64Array(n);
  const candidate = new Float64Array(n);
  const candidateGrad = new Float64Array(n);
  const alphas = new Float64Array(memory);
  let iterations = 0;

  for (; iterations < maxIterations; iterations++) {
    // Variables sitting on a bound with the gradient pushing outwards are frozen for this step.
    const free = new Uint8Array(n);
    let pgNorm = 0;
    for (let i = 0; i < n; i++) {
      const gi = g[i] as number;
      const atLower = (x[i] as number) <= (lower[i] ?? Number.NEGATIVE_INFINITY) && gi > 0;
      const atUpper = (x[i] as number) >= (upper[i] ?? Number.POSITIVE_INFINITY) && gi < 0;
      free[i] = atLower || atUpper ? 0 : 1;
      if (free[i]) pgNorm = Math.max(pgNorm, Math.abs(gi));
    }
    if (pgNorm < gtol) break;

    // Two-loop recursion on the free subspace.
    for (let i = 0; i < n; i++) direction[i] = free[i] ? -(g[i] as number) : 0;
    for (let k = sList.length - 1; k >= 0; k--) {
      const a = (rhoList[k] as number) * dot(sList[k] as Float64Array, direction);
      alphas[k] = a;
      const yk = yList[k] as Float64Array;
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) - a * (yk[i] as number);
    }
    if (sList.length > 0) {
      const last = sList.length - 1;
      const yk = yList[last] as Float64Array;
      const gamma = dot(sList[last] as Float64Array, yk) / dot(yk, yk);
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) * gamma;
    }
    for (let k = 0; k < sList.length; k++) {
      const b = (rhoList[k] as number) * dot(yList[k] as Float64Array, direction);
      const sk = sList[k] as Float64Array;
      for (let i = 0; i < n; i++) direction[i] = (direction[i] as number) + sk[i]! * ((alphas[k] as number) - b);
    }
    for (let i = 0; i < n; i++) if (!free[i]) direction[i] = 0;
    let slope = dot(direction, g);
    if (!(slope < 0)) {
      // Curvature information went stale: fall back to steepest descent and forget the history.
      for (let i = 0; i < n; i++) direction[i] = free[i] ? -(g[i] as number) : 0;
      slope = dot(direction, g);
      sList.length = 0;
      yList.length = 0;
      rhoList.length = 0;
    }
    // The first step has no curvature scale: keep it within the box's size.
    let step = 1;
    if (sList.length === 0) {
      const dmax = Math.max(...Array.from(direction, Math.abs));
      if (dmax > 0) step = Math.min(1, 0.25 / dmax);
    }

    // Backtracking (Armijo) along the projected path.
    let accepted = false;
    let fNew = f;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < n; i++) candidate[i] = (x[i] as number) + step * (direction[i] as number);
      project(candidate, lower, upper);
      let decrease = 0;
      for (let i = 0; i < n; i++) decrease += (g[i] as number) * ((candidate[i] as number) - (x[i] as number));
      fNew = objective(candidate, candidateGrad);
      evaluations++;
      if (Number.isFinite(fNew) && fNew <= f + 1e-4 * decrease) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = (candidate[i] as number) - (x[i] as number);
      y[i] = (candidateGrad[i] as number) - (g[i] as number);
    }
    const sy = dot(s, y);
    if (sy > 1e-10 * Math.sqrt(dot(y, y) * dot(s, s))) {
      sList.push(s);
      yList.push(y);
      rhoList.push(1 / sy);
      if (sList.length > memory) {
        sList.shift();
        yList.shift();
        rhoList.shift();
      }
    }
    const fOld = f;
    x.set(candidate);
    g.set(candidateGrad);
    f = fNew;
    if (Math.abs(fOld - f) <= ftol * Math.max(1, Math.abs(fOld), Math.abs(f))) {
      iterations++;
      break;
    }
  }
  return { x, f, iterations, evaluations };
}
