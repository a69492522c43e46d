/** Turns client errors into sentences a person can act on, and shows them in the page's alert box. */
import { AuthError, HttpError, TimeoutError, UnreachableError } from '@tuneserve/client';

export type NoticeKind = 'unreachable' | 'auth' | 'rejected' | 'timeout' | 'info' | 'error';

export interface Notice {
  kind: NoticeKind;
  text: string;
}

export function describeError(error: unknown, hasKey: boolean): Notice {
  if (error instanceof AuthError) {
    return hasKey
      ? { kind: 'auth', text: `The server refused this API key (HTTP ${error.status}). Check it and save it again.` }
      : {
          kind: 'auth',
          text: 'This server needs an API key. Enter it in the “API key” field at the top and press Save.',
        };
  }
  if (error instanceof HttpError) {
    return { kind: 'rejected', text: `The server rejected the request (HTTP ${error.status}): ${error.serverMessage}` };
  }
  if (error instanceof UnreachableError) {
    return {
      kind: 'unreachable',
      text: 'Cannot reach the server. Is it running? Check your connection and try again.',
    };
  }
  if (error instanceof TimeoutError) {
    return {
      kind: 'timeout',
      text: `The server did not answer within ${Math.round(error.timeoutMs / 1000)} s. Try again.`,
    };
  }
  return { kind: 'error', text: error instanceof Error ? error.message : String(error) };
}

export function showNotice(notice: Notice | undefined): void {
  const box = document.getElementById('notice')!;
  if (!notice) {
    box.hidden = true;
    box.textContent = '';
    delete box.dataset.kind;
    return;
  }
  box.textContent = notice.text;
  box.dataset.kind = notice.kind;
  box.hidden = false;
  if (notice.kind === 'auth') document.getElementById('api-key')?.focus();
}
