/**
 * The model picker and the inputs that follow the chosen model's schema: MNIST-like models keep the
 * draw pad; image models get an upload, a drop zone and a camera button; tabular models get a form
 * generated from their features (number inputs bounded by the training range, selects for
 * categories). Answers are class names with top-k bars, or the regression value.
 */
import type { ModelSummary, NumericFeature, TuneserveClient } from '@tuneserve/client';
import { describeError, showNotice } from './messages.js';
import { clearResult, showLabelled } from './result-view.js';

export interface ModelViewDeps {
  client: () => TuneserveClient;
  /** Called with the chosen model's name whenever the choice changes. */
  onChoose: (name: string) => void;
}

const TOP_K = 5;

/** The draw pad fits models that take a 28x28 grey digit (a plain 784 tensor, or a 28x28x1 image). */
export function takesDigits(model: ModelSummary): boolean {
  const input = model.input;
  if (!input || input.kind === 'tensor')
    return (input?.shape ?? model.metadata?.inputShape ?? []).reduce((a, b) => a * b, 1) === 784;
  return input.kind === 'image' && input.width === 28 && input.height === 28 && input.channels === 1;
}

export class ModelView {
  private models: ModelSummary[] = [];
  private readonly $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  private readonly select = this.$<HTMLSelectElement>('model-select');

  constructor(private readonly deps: ModelViewDeps) {
    this.select.addEventListener('change', () => this.choose(this.select.value));
    for (const id of ['image-file', 'image-camera']) {
      const input = this.$<HTMLInputElement>(id);
      input.addEventListener('change', () => {
        const file = input.files?.[0];
        if (file) void this.sendImage(file);
        input.value = '';
      });
    }
    const zone = this.$('drop-zone');
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      const file = e.dataTransfer?.files[0];
      if (file) void this.sendImage(file);
    });
    this.$<HTMLFormElement>('panel-tabular').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.sendFeatures();
    });
    this.$('features-random').addEventListener('click', () => void this.sendRandomRow());
    this.$('image-random').addEventListener('click', () => void this.sendRandomImage());
  }

  /** Loads the model list; a server without /api/models keeps the plain digit page. */
  async load(): Promise<void> {
    try {
      const list = await this.deps.client().models();
      this.models = list.models;
      this.select.replaceChildren(
        ...list.models.map((m) => {
          const option = document.createElement('option');
          option.value = m.name;
          option.textContent = m.ready ? m.name : `${m.name} (loading)`;
          return option;
        }),
      );
      this.$('model-picker').hidden = list.models.length === 0;
      const first = list.default ?? list.models[0]?.name;
      if (first) {
        this.select.value = first;
        this.choose(first);
      }
    } catch (error) {
      showNotice(describeError(error, this.deps.client().apiKey !== undefined));
    }
  }

  private current(): ModelSummary | undefined {
    return this.models.find((m) => m.name === this.select.value);
  }

  private choose(name: string): void {
    const model = this.models.find((m) => m.name === name);
    if (!model) return;
    this.deps.onChoose(name);
    const digits = takesDigits(model);
    const kind = digits ? 'digits' : (model.input?.kind ?? 'tensor');
    document.getElementById('view-predict')?.setAttribute('data-input', kind);
    for (const el of document.querySelectorAll<HTMLElement>('.panel.draw, .panel.sent')) el.hidden = !digits;
    this.$('panel-image').hidden = kind !== 'image';
    this.$('panel-tabular').hidden = kind !== 'tabular';
    const output = model.output;
    this.$('model-caption').textContent =
      `version ${model.version ?? '–'} · ` +
      (output?.task === 'regression' ? `predicts ${output.target}` : `classes: ${output?.labels.join(', ') ?? '?'}`);
    if (kind === 'tabular') this.renderForm(model);
    this.$<HTMLImageElement>('image-preview').hidden = true;
    clearResult();
    showNotice(undefined);
  }

  private renderForm(model: ModelSummary): void {
    if (model.input?.kind !== 'tabular') return;
    const fields = model.input.features.map((f) => {
      const wrap = document.createElement('div');
      wrap.className = 'field';
      const label = document.createElement('label');
      label.htmlFor = `feature-${f.name}`;
      label.textContent = f.name;
      let control: HTMLInputElement | HTMLSelectElement;
      if (f.type === 'number') {
        control = numberInput(f);
      } else {
        control = document.createElement('select');
        for (const c of f.categories) control.append(new Option(c, c));
      }
      control.id = `feature-${f.name}`;
      control.name = f.name;
      control.dataset.testid = `feature-${f.name}`;
      wrap.append(label, control);
      if (f.type === 'number') {
        const hint = document.createElement('small');
        hint.textContent = `training range ${f.min} – ${f.max}`;
        wrap.append(hint);
      }
      return wrap;
    });
    this.$('feature-fields').replaceChildren(...fields);
  }

  private async busy(work: () => Promise<void>): Promise<void> {
    document.body.setAttribute('aria-busy', 'true');
    try {
      await work();
    } catch (error) {
      showNotice(describeError(error, this.deps.client().apiKey !== undefined));
    } finally {
      document.body.removeAttribute('aria-busy');
    }
  }

  /** A test example of the model's own data: its named values fill the form, then it is sent with its answer. */
  private sendRandomRow(): Promise<void> {
    return this.busy(async () => {
      const model = this.current();
      if (model?.input?.kind !== 'tabular') return;
      const sample = await this.deps.client().randomSample(model.name);
      if (!sample.features) throw new Error('the server sent a test example without named values');
      for (const [name, value] of Object.entries(sample.features)) {
        const control = document.getElementById(`feature-${name}`) as HTMLInputElement | HTMLSelectElement | null;
        if (!control) continue;
        if (control instanceof HTMLSelectElement && ![...control.options].some((o) => o.value === String(value)))
          control.append(new Option(String(value), String(value)));
        control.value = String(value);
      }
      await this.sendFeatures(`test example #${sample.index}`, sample.truth);
    });
  }

  /** A test image of the model's own data, drawn from its pixels into a PNG and sent like an upload. */
  private sendRandomImage(): Promise<void> {
    return this.busy(async () => {
      const model = this.current();
      const input = model?.input;
      if (!model || input?.kind !== 'image') return;
      const sample = await this.deps.client().randomSample(model.name);
      const file = await pixelsToPng(sample.instances, input.width, input.height, input.channels, input.invert);
      await this.sendImage(new File([file], `test-${sample.index}.png`, { type: 'image/png' }), sample.truth);
    });
  }

  private sendFeatures(source = 'your values', truth?: string | number): Promise<void> {
    return this.busy(async () => {
      const model = this.current();
      if (model?.input?.kind !== 'tabular') return;
      const row: Record<string, number | string> = {};
      for (const f of model.input.features) {
        const control = this.$<HTMLInputElement | HTMLSelectElement>(`feature-${f.name}`);
        if (f.type === 'number') {
          if (control.value.trim() === '') {
            showNotice({ kind: 'info', text: `Enter a value for ${f.name}.` });
            return;
          }
          row[f.name] = Number(control.value);
        } else row[f.name] = control.value;
      }
      const { value, latencyMs } = await this.deps.client().predictFeatures(model.name, [row], { topK: TOP_K });
      showNotice(undefined);
      showLabelled(value, latencyMs, source, truth);
    });
  }

  private sendImage(file: File, truth?: string | number): Promise<void> {
    return this.busy(async () => {
      const model = this.current();
      if (!model) return;
      const preview = this.$<HTMLImageElement>('image-preview');
      if (preview.src.startsWith('blob:')) URL.revokeObjectURL(preview.src);
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      const { value, latencyMs } = await this.deps.client().predictImage(model.name, file, { topK: TOP_K });
      showNotice(undefined);
      showLabelled(value, latencyMs, file.name || 'your photo', truth);
    });
  }
}

/** Model-input pixels (row-major, channels last, in [0, 1]) as a PNG file of the same size. */
function pixelsToPng(pixels: number[], width: number, height: number, channels: 1 | 3, invert = false): Promise<Blob> {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[i * channels + (channels === 1 ? 0 : c)] ?? 0;
      image.data[i * 4 + c] = Math.round(255 * (invert ? 1 - v : v));
    }
    image.data[i * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('could not encode the test image'))), 'image/png'),
  );
}

function numberInput(f: NumericFeature): HTMLInputElement {
  const input = document.createElement('input');
  input.type = 'number';
  input.step = 'any';
  input.required = true;
  input.value = String(Number(f.mean.toPrecision(4)));
  input.placeholder = `${f.min} – ${f.max}`;
  input.title = `training range ${f.min} – ${f.max}`;
  input.setAttribute('aria-description', `training range ${f.min} to ${f.max}`);
  return input;
}
