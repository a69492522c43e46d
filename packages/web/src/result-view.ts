/**
 * The result panel: the predicted digit (or class name, or value) large, the true label when known,
 * latency, and a probability bar per digit (or per class of the top k).
 */
import type { LabelledAnswer } from '@tuneserve/client';

export interface ResultData {
  label: number;
  probabilities: number[];
  latencyMs: number;
  trueLabel?: number | undefined;
  source: string;
}

const $ = (id: string) => document.getElementById(id)!;

export function showResult(result: ResultData): void {
  $('prediction').textContent = String(result.label);
  const truth = $('true-label');
  if (result.trueLabel === undefined) {
    truth.textContent = '–';
    delete truth.dataset.verdict;
  } else {
    truth.textContent = String(result.trueLabel);
    truth.dataset.verdict = result.trueLabel === result.label ? 'correct' : 'wrong';
  }
  const confidence = (result.probabilities[result.label] ?? 0) * 100;
  $('result-meta').textContent =
    `${result.source} · confidence ${confidence.toFixed(1)}% · latency ${result.latencyMs.toFixed(1)} ms` +
    (result.trueLabel === undefined ? '' : result.trueLabel === result.label ? ' · correct' : ' · wrong');
  renderBars(result.probabilities, result.label);
}

export function clearResult(): void {
  $('prediction').textContent = '–';
  $('true-label').textContent = '–';
  $('result-meta').textContent = '';
  $('probabilities').replaceChildren();
}

/**
 * A labelled answer (any model with a schema): its best class and the top-k bars, or its value; with the true
 * answer of a test example (class name or value) beside it.
 */
export function showLabelled(answer: LabelledAnswer, latencyMs: number, source: string, truth?: string | number): void {
  const [first] = answer.predictions;
  if (!first) return;
  const truthBox = $('true-label');
  truthBox.textContent = truth === undefined ? '–' : typeof truth === 'number' ? formatValue(truth) : truth;
  delete truthBox.dataset.verdict;
  if ('value' in first) {
    $('prediction').textContent = formatValue(first.value);
    $('result-meta').textContent =
      `${source} · ${answer.model} v${answer.version} · latency ${latencyMs.toFixed(1)} ms`;
    $('probabilities').replaceChildren();
    return;
  }
  $('prediction').textContent = first.label;
  if (typeof truth === 'string') truthBox.dataset.verdict = truth === first.label ? 'correct' : 'wrong';
  const verdict = typeof truth === 'string' ? (truth === first.label ? ' · correct' : ' · wrong') : '';
  $('result-meta').textContent =
    `${source} · ${answer.model} v${answer.version} · confidence ${(first.score * 100).toFixed(1)}% · latency ${latencyMs.toFixed(1)} ms${verdict}`;
  renderBars(
    first.top_k.map((t) => t.score),
    0,
    first.top_k.map((t) => t.label),
  );
}

const formatValue = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));

function renderBars(probabilities: number[], best: number, names?: string[]): void {
  const rows = probabilities.map((p, index) => {
    const digit = names?.[index] ?? String(index);
    const li = document.createElement('li');
    const pct = `${(p * 100).toFixed(1)}%`;
    li.setAttribute('aria-label', `${digit}: ${pct}`);
    if (index === best) li.className = 'best';
    const name = document.createElement('span');
    name.className = 'digit';
    name.textContent = digit;
    const track = document.createElement('span');
    track.className = 'track';
    const fill = document.createElement('span');
    fill.className = 'fill';
    fill.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    track.append(fill);
    const value = document.createElement('span');
    value.className = 'pct';
    value.textContent = pct;
    li.append(name, track, value);
    return li;
  });
  $('probabilities').replaceChildren(...rows);
}
