/**
 * The model server of the importance-stall row (forked by importance-stall.ts): createServer over the models in
 * argv[3] with the study in argv[4], importance either in the background worker (`worker`, what `tuneserve serve`
 * does) or on the event loop once per new set of completed trials (`inline`, how the server did it before).
 * Measures its own event-loop delay (perf_hooks, and the time it was blocked for more than 20 ms at once) and answers the parent's `reset` / `report` / `stop` messages.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer } from '@tuneserve/server';
import {
  BackgroundImportance,
  type ImportanceProvider,
  type ImportanceSnapshot,
  inlineImportance,
  loadStudy,
} from '@tuneserve/tuner';

const [mode, modelRoot, directory, projectName] = process.argv.slice(2) as [string, string, string, string];

/** The previous behaviour: computed on the loop, memoised per study by the fingerprint of its completed trials. */
function memoisedInline(): ImportanceProvider {
  const memo = new Map<string, { fingerprint: string; snapshot: ImportanceSnapshot }>();
  return {
    importanceOf(study, trials, objectives) {
      const done = trials.filter((t) => t.status === 'COMPLETED');
      const fingerprint = JSON.stringify(done.map((t) => [t.score, t.values, t.hyperparameters]));
      const hit = memo.get(study);
      if (hit?.fingerprint === fingerprint) return hit.snapshot;
      const snapshot = inlineImportance.importanceOf(study, trials, objectives);
      memo.set(study, { fingerprint, snapshot });
      return snapshot;
    },
  };
}

const background = mode === 'worker' ? new BackgroundImportance() : undefined;
const importance = background ?? memoisedInline();
const server = await createServer({
  modelRoot,
  study: {
    getStudy: () => loadStudy({ directory, projectName, importance }),
    close: async () => background?.close(),
  },
  pollIntervalMs: 0,
  logger: { level: 'warn' },
  defaultMetrics: false,
});
const url = await server.listen(0, '127.0.0.1');
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const ms = (ns: number) => ns / 1e6;
// The histogram counts samples, not time: a 150 ms block is one sample. A 5 ms timer's lateness sums the time stalled.
const STALL_MS = 20;
let stalls = { count: 0, ms: 0 };
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - 5;
  if (late > STALL_MS) stalls = { count: stalls.count + 1, ms: stalls.ms + late };
  last = now;
}, 5);
process.on('message', (message: string) => {
  if (message === 'reset') {
    delay.reset();
    stalls = { count: 0, ms: 0 };
  } else if (message === 'report')
    process.send?.({
      max: ms(delay.max),
      p99: ms(delay.percentile(99)),
      stalls: stalls.count,
      stalledMs: stalls.ms,
    });
  else if (message === 'stop') void server.close().then(() => process.exit(0));
});
process.send?.({ url });
