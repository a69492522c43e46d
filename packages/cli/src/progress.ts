/**
 * Training progress for the CLI: a live bar with ETA on a TTY, one plain line per epoch otherwise
 * (CI logs, pipes, files).
 */
import type { FitListener, Phase } from '@tuneserve/pipeline';
import cliProgress from 'cli-progress';

const PHASE_TITLES: Record<Phase, string> = {
  'best-epoch': 'best-epoch search',
  retrain: 'retrain on train+val',
  train: 'train',
};

function formatLogs(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([k, v]) => `${k}=${v.toFixed(4)}`)
    .join(' ');
}

export interface ProgressReporter extends FitListener {
  /** A message line that does not disturb a live bar. */
  line(text: string): void;
  stop(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  return stream.isTTY ? ttyProgress(stream) : plainProgress(stream);
}

function plainProgress(stream: NodeJS.WritableStream): ProgressReporter {
  const started = new Map<string, number>();
  return {
    onEpochBegin(phase, epoch) {
      started.set(`${phase}:${epoch}`, Date.now());
    },
    onEpochEnd(phase, epoch, maxEpochs, logs) {
      const t0 = started.get(`${phase}:${epoch}`) ?? Date.now();
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      stream.write(`${PHASE_TITLES[phase]}: epoch ${epoch}/${maxEpochs} ${secs}s ${formatLogs(logs)}\n`);
    },
    line(text) {
      stream.write(`${text}\n`);
    },
    stop() {},
  };
}

function ttyProgress(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{phase} |{bar}| epoch {epoch}/{epochs} | batch {value}/{total} | ETA {eta_formatted} | {logs}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  let lastLogs = '';
  let currentEpochs = 0;
  return {
    onEpochBegin(phase, epoch, maxEpochs) {
      currentEpochs = maxEpochs;
      const payload = { phase: PHASE_TITLES[phase], epoch, epochs: maxEpochs, logs: lastLogs };
      if (!running) {
        bar.start(1, 0, payload);
        running = true;
      } else bar.update(0, payload);
    },
    onBatchEnd(_phase, _epoch, batch, batchesPerEpoch) {
      if (bar.getTotal() !== batchesPerEpoch) bar.setTotal(batchesPerEpoch);
      bar.update(batch);
    },
    onEpochEnd(phase, epoch, _maxEpochs, logs) {
      lastLogs = formatLogs(logs);
      bar.update({ logs: lastLogs });
      // Keep a permanent record of each epoch above the live bar.
      stream.write(`\r\x1b[K${PHASE_TITLES[phase]}: epoch ${epoch}/${currentEpochs} ${lastLogs}\n`);
    },
    line(text) {
      stream.write(`\r\x1b[K${text}\n`);
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
