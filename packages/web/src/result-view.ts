/** The result panel: the predicted digit large, the true label when known, latency, ten probability bars. */
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

function renderBars(probabilities: number[], best: number): void {
  const rows = probabilities.map((p, digit) => {
    const li = document.createElement('li');
    const pct = `${(p * 100).toFixed(1)}%`;
    li.setAttribute('aria-label', `${digit}: ${pct}`);
    if (digit === best) li.className = 'best';
    const name = document.createElement('span');
    name.className = 'digit';
    name.textContent = String(digit);
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
