/** Thin uPlot wrappers for the dashboard's three charts; each redraw replaces the container's chart. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const PALETTE = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#a16207', '#4b5563'];
const charts = new WeakMap<HTMLElement, uPlot>();
/** Pruned trials' curves are red; the others take the palette without it. */
const PRUNED = '#b91c1c';
const UNPRUNED = PALETTE.filter((c) => c !== PRUNED);

function mount(container: HTMLElement, opts: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): void {
  charts.get(container)?.destroy();
  const width = Math.max(240, container.clientWidth || 360);
  const chart = new uPlot({ ...opts, width, height: 220 }, data, container);
  charts.set(container, chart);
}

/** Keeps charts as wide as their boxes when the window changes. */
export function followResize(containers: HTMLElement[]): void {
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = charts.get(entry.target as HTMLElement);
      const width = Math.floor(entry.contentRect.width);
      if (chart && width > 0 && Math.abs(chart.width - width) > 2) chart.setSize({ width, height: 220 });
    }
  });
  for (const c of containers) observer.observe(c);
}

export function showEmpty(container: HTMLElement, text: string): void {
  charts.get(container)?.destroy();
  charts.delete(container);
  const p = document.createElement('p');
  p.className = 'empty';
  p.textContent = text;
  container.replaceChildren(p);
}

/** Score of each finished trial in order, with the running best as a step line. */
export function objectiveChart(
  container: HTMLElement,
  scores: (number | null)[],
  best: (number | null)[],
  name: string,
): void {
  const x = scores.map((_, i) => i + 1);
  mount(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { label: 'trial', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
        { label: name, size: 60 },
      ],
      series: [
        { label: 'trial' },
        {
          label: name,
          stroke: PALETTE[0],
          width: 0,
          points: { show: true, size: 7, fill: PALETTE[0] },
          paths: () => null,
        },
        {
          label: 'best so far',
          stroke: PALETTE[1],
          width: 2,
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: false },
        },
      ],
    },
    [x, scores, best],
  );
}

/** Objective against one hyperparameter; categorical values are placed at 0..k-1 and labelled. */
export function scatterChart(
  container: HTMLElement,
  points: { x: number; y: number }[],
  hpName: string,
  objective: string,
  categories?: string[],
): void {
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const positive = sorted.length > 1 && sorted.every((p) => p.x > 0);
  const log = !categories && positive && sorted[sorted.length - 1]!.x / sorted[0]!.x >= 100;
  const xAxis: uPlot.Axis = { label: hpName };
  if (categories) {
    xAxis.values = (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (categories[v] ?? '') : ''));
    xAxis.splits = () => categories.map((_, i) => i);
  }
  mount(
    container,
    {
      scales: {
        x: categories
          ? { time: false, range: () => [-0.5, categories.length - 0.5] }
          : { time: false, distr: log ? 3 : 1 },
      },
      axes: [xAxis, { label: objective, size: 60 }],
      series: [
        { label: hpName },
        {
          label: objective,
          stroke: PALETTE[2],
          width: 0,
          points: { show: true, size: 8, fill: PALETTE[2] },
          paths: () => null,
        },
      ],
      cursor: { drag: { x: false, y: false } },
    },
    [sorted.map((p) => p.x), sorted.map((p) => p.y)],
  );
}

/** Per-epoch metric curves; accuracy-like metrics get their own right-hand scale. */
export function curvesChart(container: HTMLElement, curves: Record<string, { step: number; value: number }[]>): void {
  const names = Object.keys(curves).sort();
  const steps = [...new Set(names.flatMap((n) => curves[n]!.map((p) => p.step)))].sort((a, b) => a - b);
  const isAcc = (n: string) => /acc/i.test(n);
  const data: uPlot.AlignedData = [
    steps,
    ...names.map((n) => {
      const byStep = new Map(curves[n]!.map((p) => [p.step, p.value]));
      return steps.map((s) => byStep.get(s) ?? null);
    }),
  ];
  const hasAcc = names.some(isAcc);
  const hasOther = names.some((n) => !isAcc(n));
  const axes: uPlot.Axis[] = [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100] }];
  if (hasOther) axes.push({ scale: 'loss', label: 'loss', size: 60 });
  if (hasAcc) axes.push({ scale: 'acc', label: 'accuracy', side: 1, size: 60, grid: { show: !hasOther } });
  mount(
    container,
    {
      scales: { x: { time: false }, loss: {}, acc: {} },
      axes,
      series: [
        { label: 'epoch' },
        ...names.map((n, i) => ({
          label: n,
          scale: isAcc(n) ? 'acc' : 'loss',
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          dash: n.startsWith('val_') ? [6, 4] : [],
        })),
      ],
    },
    data,
  );
}

/**
 * One metric's per-epoch curve for every trial (intermediate values). Pruned trials are drawn dashed
 * in red with a cross where the pruner stopped them; the best trial is drawn thick.
 */
export function trialCurvesChart(
  container: HTMLElement,
  curves: { trialId: string; pruned: boolean; points: { step: number; value: number }[] }[],
  metric: string,
  bestId: string | undefined,
): void {
  const steps = [...new Set(curves.flatMap((c) => c.points.map((p) => p.step)))].sort((a, b) => a - b);
  const data: uPlot.AlignedData = [
    steps,
    ...curves.map((c) => {
      const byStep = new Map(c.points.map((p) => [p.step, p.value]));
      return steps.map((s) => byStep.get(s) ?? null);
    }),
  ];
  mount(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100] },
        { label: metric, size: 60 },
      ],
      series: [
        { label: 'epoch' },
        ...curves.map((c, i) => ({
          label: `trial ${c.trialId}${c.pruned ? ' (pruned)' : ''}`,
          stroke: c.pruned ? PRUNED : UNPRUNED[i % UNPRUNED.length],
          width: c.trialId === bestId ? 3 : 1.5,
          dash: c.pruned ? [5, 4] : [],
          spanGaps: true,
          points: c.pruned
            ? {
                show: true,
                size: 9,
                stroke: PRUNED,
                fill: '#fff',
                // Only the last point of a pruned curve: where the pruner stopped it.
                filter: () => {
                  const at = steps.indexOf(c.points[c.points.length - 1]!.step);
                  return at >= 0 ? [at] : null;
                },
              }
            : { show: false },
        })),
      ],
      legend: { show: curves.length <= 20 }, // beyond, the legend buries the chart: use the top-K filter
    },
    data,
  );
}

/**
 * Two objectives of a multi-objective study: every completed trial, the Pareto front highlighted and
 * joined (sorted along x), each axis in its objective's direction.
 */
export function paretoChart(
  container: HTMLElement,
  points: { x: number; y: number; front: boolean }[],
  xName: string,
  yName: string,
): void {
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const at = (front: boolean) => {
    const byX = new Map<number, number>();
    for (const p of points) if (p.front === front && !byX.has(p.x)) byX.set(p.x, p.y);
    return xs.map((x) => byX.get(x) ?? null);
  };
  // Trials sharing an x (e.g. one model size, two learning rates) go to stacked layers of the same series style.
  const layers: (number | null)[][] = [];
  const seen = new Map<number, number>();
  for (const p of points) {
    if (p.front) continue;
    const k = seen.get(p.x) ?? 0;
    seen.set(p.x, k + 1);
    layers[k] ??= xs.map(() => null);
    layers[k]![xs.indexOf(p.x)] = p.y;
  }
  const other = (k: number): uPlot.Series => ({
    label: k === 0 ? 'other trials' : '',
    stroke: '#9ca3af',
    width: 0,
    points: { show: true, size: 7, fill: '#9ca3af' },
    paths: () => null,
  });
  mount(
    container,
    {
      scales: { x: { time: false } },
      axes: [
        { label: xName, size: 40 },
        { label: yName, size: 60 },
      ],
      series: [
        { label: xName },
        {
          label: 'Pareto front',
          stroke: PALETTE[1],
          width: 2,
          spanGaps: true,
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: true, size: 9, fill: PALETTE[1] },
        },
        ...layers.map((_, k) => other(k)),
      ],
      cursor: { drag: { x: false, y: false } },
    },
    [xs, at(true), ...layers],
  );
}
