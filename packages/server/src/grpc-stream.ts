/**
 * A bidirectional stream of requests answered one by one, in request order (Triton's ModelStreamInfer shape):
 * a failed message is answered with that message's error, the stream stays open. Bounded: at most `window`
 * messages are in flight (answered or not yet written); past that the stream stops reading, so HTTP/2 flow
 * control holds the client back instead of a queue growing here — a client that does not read its answers is
 * held back the same way. After the client half-closes, the stream ends (status OK) once every answer is written;
 * `finish` (server shutdown) stops reading, answers what is in flight, then ends with the status given; a cancelled
 * stream drops the answers still pending.
 */
import type * as grpc from '@grpc/grpc-js';

export interface StreamHandler<Req, Res> {
  /** The answer to one message; a rejection is turned into that message's error answer by `failed`. */
  answer(request: Req): Promise<Res>;
  failed(request: Req, err: unknown): Res;
}

export interface ServedStream {
  /** Reads no more messages; the ones in flight are answered, then the stream ends with `status`. */
  finish(status: { code: grpc.status; details: string }): void;
  /** Settles when the stream is over: ended or cancelled. */
  done: Promise<void>;
}

export function serveStream<Req, Res>(
  call: grpc.ServerDuplexStream<Req, Res>,
  handler: StreamHandler<Req, Res>,
  window: number,
): ServedStream {
  // One slot per message read, oldest first; a slot is filled when its answer is ready.
  const slots: { reply: Res | undefined }[] = [];
  let halfClosed = false;
  let finishing: { code: grpc.status; details: string } | undefined;
  let over = false;
  let writeBlocked = false;
  let paused = false;
  let settle = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });

  const flow = () => {
    if (over) return;
    if ((halfClosed || finishing) && slots.length === 0) {
      over = true;
      // An error status goes out through the stream's 'error' handler (grpc-js: status set, then end).
      if (finishing && !halfClosed) call.emit('error', finishing);
      else call.end();
      settle();
      return;
    }
    const hold = slots.length >= window || writeBlocked || finishing !== undefined;
    if (hold !== paused) {
      paused = hold;
      if (hold) call.pause();
      else call.resume();
    }
  };
  const writeReady = () => {
    if (over) return;
    for (let head = slots[0]; head?.reply !== undefined; head = slots[0]) {
      slots.shift();
      // false: the transport's buffer is full; nothing is lost, but reading waits for 'drain'.
      if (!call.write(head.reply)) writeBlocked = true;
    }
    flow();
  };

  call.on('data', (request: Req) => {
    if (over) return;
    const slot: { reply: Res | undefined } = { reply: undefined };
    slots.push(slot);
    flow();
    handler.answer(request).then(
      (reply) => {
        slot.reply = reply;
        writeReady();
      },
      (err: unknown) => {
        slot.reply = handler.failed(request, err);
        writeReady();
      },
    );
  });
  call.on('drain', () => {
    writeBlocked = false;
    flow();
  });
  call.on('end', () => {
    halfClosed = true;
    flow();
  });
  call.on('cancelled', () => {
    over = true;
    slots.length = 0;
    settle();
  });
  return {
    finish(status) {
      finishing ??= status;
      flow();
    },
    done,
  };
}
