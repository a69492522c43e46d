/**
 * Parallel coordinates (hyperparameters → objective, one line per trial, coloured by score) with Apache
 * ECharts: uPlot, the dashboard's other chart library, draws x/y series on one shared x scale and has no
 * per-dimension axes. ECharts' parallel series has numeric, log and category axes and brushing on each axis.
 * Loaded on first use, so the digit page never downloads it.
 */
import type { ParallelAxis } from './study-math.js';

type ECharts = typeof import('./echarts-setup.js');
let loading: Promise<ECharts> | undefined;

function load(): Promise<ECharts> {
  loading ??= import('./echarts-setup.js');
  return loading;
}

const charts = new WeakMap<HTMLElement, ReturnType<ECharts['init']>>();

/** Draws (or redraws) the chart in `container`; lines are coloured by axis `colourAxis`, better warmer whatever the direction. */
export async function parallelChart(
  container: HTMLElement,
  axes: ParallelAxis[],
  lines: { trialId: string; values: (number | string | null)[]; score: number }[],
  colourAxis: number,
  direction: 'min' | 'max',
): Promise<void> {
  const echarts = await load();
  let chart = charts.get(container);
  if (!chart || chart.isDisposed()) {
    container.replaceChildren();
    chart = echarts.init(container, undefined, { renderer: 'svg', height: 300 });
    charts.set(container, chart);
    new ResizeObserver(() => chart?.resize()).observe(container);
  }
  const scores = lines.map((l) => l.score);
  const lo = Math.min(...scores);
  const hi = Math.max(...scores);
  const colours = ['#1e3a8a', '#0e7490', '#65a30d', '#f59e0b', '#dc2626'];
  chart.setOption(
    {
      animation: false,
      parallel: { left: 60, right: 90, top: 40, bottom: 30, parallelAxisDefault: { nameGap: 12, nameLocation: 'end' } },
      parallelAxis: axes.map((axis, dim) => ({
        dim,
        name: axis.name,
        ...(axis.categories
          ? { type: 'category' as const, data: axis.categories }
          : axis.log
            ? { type: 'log' as const, logBase: 10 }
            : { type: 'value' as const, scale: true, ...(axis.integer ? { minInterval: 1 } : {}) }),
        ...(dim >= colourAxis ? { nameTextStyle: { fontWeight: 'bold' as const } } : {}),
      })),
      visualMap: {
        type: 'continuous',
        dimension: colourAxis,
        min: lo,
        max: hi === lo ? lo + 1 : hi,
        inRange: { color: direction === 'max' ? colours : [...colours].reverse() },
        right: 0,
        top: 'middle',
        itemHeight: 160,
        text: [direction === 'max' ? 'better' : 'worse', direction === 'max' ? 'worse' : 'better'],
        calculable: false,
        precision: 4,
      },
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'parallel',
          lineStyle: { width: 2, opacity: 0.75 },
          emphasis: { lineStyle: { width: 4, opacity: 1 } },
          data: lines.map((l) => ({ name: `trial ${l.trialId}`, value: l.values.map((v) => v ?? '-') })),
        },
      ],
    },
    { notMerge: true },
  );
}

/** Forgets the chart in `container` (before it shows an empty-state text instead). */
export function disposeParallel(container: HTMLElement): void {
  charts.get(container)?.dispose();
  charts.delete(container);
}
