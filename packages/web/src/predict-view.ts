/** The "recognise a digit" view: draw or fetch a test digit, send it, show what the model says. */
import { EmptyImageError, type TuneserveClient, toMnistInput } from '@tuneserve/client';
import { paintDigit } from './digit-image.js';
import { DrawPad } from './draw-pad.js';
import { describeError, showNotice } from './messages.js';
import { clearResult, showResult } from './result-view.js';

export interface PredictDeps {
  client: () => TuneserveClient;
  modelName: () => Promise<string>;
}

export function mountPredictView(deps: PredictDeps): void {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const pad = new DrawPad($<HTMLCanvasElement>('draw-canvas'));
  const inputCanvas = $<HTMLCanvasElement>('input-canvas');
  const caption = $('input-caption');
  const buttons = ['predict-button', 'random-button'].map((id) => $<HTMLButtonElement>(id));

  const busy = async (work: () => Promise<void>) => {
    for (const b of buttons) b.disabled = true;
    document.body.setAttribute('aria-busy', 'true');
    try {
      await work();
    } catch (error) {
      showNotice(describeError(error, deps.client().apiKey !== undefined));
    } finally {
      for (const b of buttons) b.disabled = false;
      document.body.removeAttribute('aria-busy');
    }
  };

  const send = async (input: ArrayLike<number>, source: string, trueLabel?: number) => {
    paintDigit(inputCanvas, input);
    caption.textContent = source;
    const client = deps.client();
    const { value, latencyMs } = await client.classify(await deps.modelName(), input);
    showNotice(undefined);
    showResult({ label: value.label, probabilities: value.probabilities, latencyMs, trueLabel, source });
  };

  $('clear-button').addEventListener('click', () => {
    pad.clear();
    clearResult();
    showNotice(undefined);
    paintDigit(inputCanvas, new Float32Array(784));
    caption.textContent = 'Nothing sent yet.';
  });

  $('predict-button').addEventListener('click', () =>
    busy(async () => {
      let input: Float32Array;
      try {
        input = toMnistInput(pad.ink());
      } catch (error) {
        if (error instanceof EmptyImageError) {
          showNotice({ kind: 'info', text: 'Draw a digit first, then press Predict.' });
          return;
        }
        throw error;
      }
      await send(input, 'your drawing');
    }),
  );

  $('random-button').addEventListener('click', () =>
    busy(async () => {
      const sample = await deps.client().randomSample(await deps.modelName());
      pad.showDigit(sample.instances);
      await send(sample.instances, `test digit #${sample.index}`, sample.label);
    }),
  );

  paintDigit(inputCanvas, new Float32Array(784));
}
