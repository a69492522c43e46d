/** The API key lives in sessionStorage: kept across reloads of this tab, forgotten when it closes. */
import { TuneserveClient } from '@tuneserve/client';

const STORAGE_KEY = 'tuneserve.apiKey';

export function loadApiKey(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || undefined;
  } catch {
    return undefined; // storage disabled (private mode, sandboxed frame)
  }
}

export function saveApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Without storage the key still works for this page view.
  }
}

/** A client for the server that served this page, carrying the current key. */
export function createClient(): TuneserveClient {
  return new TuneserveClient({ baseUrl: window.location.origin, apiKey: loadApiKey(), timeoutMs: 15_000 });
}
