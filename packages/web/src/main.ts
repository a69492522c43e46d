/** Entry point: routes between the two views by hash, keeps the API key field in sync, and the model picker (both views follow it). */
import './style.css';
import { HttpError } from '@tuneserve/client';
import { Dashboard } from './dashboard/view.js';
import { showNotice } from './messages.js';
import { ModelView } from './model-view.js';
import { mountPredictView } from './predict-view.js';
import { createClient, loadApiKey, saveApiKey } from './session.js';

const DEFAULT_MODEL = 'mnist';
let modelName: Promise<string> | undefined;

/** The chosen model's name, else the served model's, asked once (again after the key changes); TF Serving routes need it. */
function servedModelName(): Promise<string> {
  modelName ??= createClient()
    .servedModel()
    .then((m) => m.name)
    .catch((error: unknown) => {
      modelName = undefined; // ask again next time
      if (error instanceof HttpError && error.status === 404) return DEFAULT_MODEL;
      throw error;
    });
  return modelName;
}

/** The model the picker chose; the dashboard shows its study (undefined: no picker, the server's default). */
let chosenModel: string | undefined;
const dashboard = new Dashboard(createClient, () => chosenModel);
mountPredictView({ client: createClient, modelName: servedModelName });
const models = new ModelView({
  client: createClient,
  onChoose: (name) => {
    modelName = Promise.resolve(name);
    const changed = chosenModel !== name;
    chosenModel = name;
    if (changed && currentRoute() === 'tuning') dashboard.start();
  },
});
void models.load();

const keyInput = document.getElementById('api-key') as HTMLInputElement;
keyInput.value = loadApiKey() ?? '';
document.getElementById('api-key-form')!.addEventListener('submit', (e) => {
  e.preventDefault();
  saveApiKey(keyInput.value.trim());
  modelName = undefined;
  void models.load();
  showNotice({
    kind: 'info',
    text: keyInput.value.trim() ? 'API key saved for this browser tab.' : 'API key removed.',
  });
  if (currentRoute() === 'tuning') dashboard.start();
});

function currentRoute(): 'predict' | 'tuning' {
  return window.location.hash.startsWith('#/tuning') ? 'tuning' : 'predict';
}

function route(): void {
  const which = currentRoute();
  document.getElementById('view-predict')!.hidden = which !== 'predict';
  document.getElementById('view-tuning')!.hidden = which !== 'tuning';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.dataset.route === which) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = which === 'tuning' ? 'tuneserve: tuning dashboard' : 'tuneserve: digit recognition';
  if (which === 'tuning') dashboard.start();
  else dashboard.stop();
}

window.addEventListener('hashchange', route);
route();
