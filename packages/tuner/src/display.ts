/**
 * Search progress: a live cli-progress bar on a TTY (trial n/N, epoch bar with ETA, best so far,
 * with the trial's hyperparameters printed above it), plain lines otherwise, nothing at verbose 0.
 */
import cliProgress from 'cli-progress';
import { type Objective, paretoObjectives } from './objective.js';
import type { HpValues, Trial } from './trial.js';

export type Verbosity = 0 | 1 | 2;

export interface DisplayOptions {
  verbose: Verbosity;
  /** Where plain lines go (default: process.stderr). */
  log?: (line: string) => void;
  /** Force the live bar on or off (default: whether stderr is a TTY). */
  tty?: boolean;
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return String(v);
}

function formatValues(values: HpValues): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(', ');
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}h ${String(m).padStart(2, '0')}m ${String(s % 60).padStart(2, '0')}s`;
}

export class SearchDisplay {
  private readonly verbose: Verbosity;
  private readonly log: (line: string) => void;
  private readonly tty: boolean;
  private bar: cliProgress.SingleBar | undefined;
  private trialStarted = 0;
  private readonly searchStarted = Date.now();
  private best: number | undefined;
  private trialLabel = 'Trial';

  constructor(
    private readonly objective: Objective,
    options: DisplayOptions,
  ) {
    this.verbose = options.verbose;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.tty = options.tty ?? (options.log === undefined && process.stderr.isTTY === true);
  }

  setBest(score: number | null | undefined): void {
    if (score !== null && score !== undefined) this.best = score;
  }

  trialStart(trial: Trial, index: number, total: number | null): void {
    if (this.verbose === 0) return;
    this.trialStarted = Date.now();
    this.trialLabel = `Trial ${index}${total === null ? '' : `/${total}`}`;
    this.log(`Search: Running ${this.trialLabel} [id ${trial.trialId}]: ${formatValues(trial.hyperparameters.values)}`);
  }

  /** Starts the epoch bar of one execution (TTY only); `initialEpoch` > 0 when resumed. */
  executionStart(execution: number, executions: number, epochs: number, initialEpoch: number): void {
    if (this.verbose === 0) return;
    if (initialEpoch > 0) this.log(`  resuming execution ${execution + 1} at epoch ${initialEpoch + 1}/${epochs}`);
    if (!this.tty || epochs <= 0) return;
    const exec = executions > 1 ? ` exec ${execution + 1}/${executions}` : '';
    this.bar = new cliProgress.SingleBar(
      {
        format: `${this.trialLabel}${exec} |{bar}| epoch {value}/{total} | ETA {eta_formatted} | ${this.objective.name} {current} | best {best}`,
        hideCursor: true,
        etaBuffer: 3,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(epochs, initialEpoch, { current: '-', best: this.bestText() });
  }

  epochEnd(
    epoch: number,
    epochs: number | undefined,
    execution: number,
    value: number | undefined,
    logs: Record<string, number>,
  ): void {
    if (this.verbose === 0) return;
    const current = value === undefined ? '-' : formatValue(value);
    if (this.bar) {
      this.bar.update(epoch + 1, { current, best: this.bestText() });
      if (this.verbose < 2) return;
    }
    {
      const total = epochs === undefined ? '' : `/${epochs}`;
      const metrics = Object.entries(logs)
        .map(([k, v]) => `${k}: ${formatValue(v)}`)
        .join(' - ');
      const elapsed = Date.now() - this.trialStarted;
      const eta =
        epochs === undefined ? '' : ` - ETA ${duration((elapsed / (epoch + 1)) * Math.max(0, epochs - epoch - 1))}`;
      this.log(`  execution ${execution + 1} epoch ${epoch + 1}${total} - ${metrics}${eta}`);
    }
  }

  executionEnd(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  trialEnd(trial: Trial): void {
    this.executionEnd();
    if (this.verbose === 0) return;
    if (trial.score !== null && (this.best === undefined || this.objective.better(trial.score, this.best))) {
      if (trial.status === 'COMPLETED') this.best = trial.score;
    }
    const took = duration(Date.now() - this.trialStarted);
    // Several objectives: every value (the front is in getBestTrials and the trials table).
    const objectives = paretoObjectives(this.objective);
    const score =
      trial.values && objectives
        ? ` ${objectives.map((o, k) => `${o.name}: ${formatValue(trial.values?.[k] as number)}`).join(', ')}`
        : trial.score === null
          ? ''
          : ` ${this.objective.name}: ${formatValue(trial.score)}`;
    const msg = trial.message ? ` (${trial.message.split('\n')[0]})` : '';
    this.log(`Trial ${trial.trialId} ${trial.status} [${took}]${score}${msg}`);
    this.log(
      `Best ${this.objective.name} So Far: ${this.bestText()}; Total elapsed time: ${duration(Date.now() - this.searchStarted)}`,
    );
  }

  message(line: string): void {
    if (this.verbose > 0) this.log(line);
  }

  private bestText(): string {
    return this.best === undefined ? '-' : formatValue(this.best);
  }
}
