/**
 * serveStream's flow control over a real grpc-js server and client (the project's proto, ModelStreamInfer): at most
 * `window` messages are in flight however many the client sends, a client that stops reading stops the reading
 * here too, answers keep request order, and a half-close ends the stream once every answer is out.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { type ServedStream, serveStream } from '../src/grpc-stream.js';

const PROTO = fileURLToPath(new URL('../proto/grpc_predict_v2.proto', import.meta.url));

interface Message {
  id: string;
}
interface Answer {
  error_message: string;
  infer_response: { id: string; raw_output_contents?: Buffer[] };
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const service = (
  grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
  }
).inference.GRPCInferenceService;

let server: grpc.Server | undefined;
let client: grpc.Client | undefined;
afterEach(() => {
  client?.close();
  server?.forceShutdown();
});

/** A server whose ModelStreamInfer runs serveStream with `answer`, and a client of it. */
async function serve(answer: (m: Message) => Promise<Answer>, window: number) {
  server = new grpc.Server();
  const served: ServedStream[] = [];
  server.addService(service.service, {
    ModelStreamInfer: (call: grpc.ServerDuplexStream<Message, Answer>) => {
      served.push(
        serveStream(
          call,
          { answer, failed: (m, err) => ({ error_message: String(err), infer_response: { id: m.id } }) },
          window,
        ),
      );
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server?.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  client = new service(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const stream = (
    client as unknown as { ModelStreamInfer(): grpc.ClientDuplexStream<Message, Answer> }
  ).ModelStreamInfer();
  const answers: Answer[] = [];
  stream.on('data', (a: Answer) => answers.push(a));
  const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  stream.on('error', () => {}); // a non-OK status comes as 'error' too; the tests read it from 'status'
  return { stream, answers, status, served };
}

/** Resolves once `read()` has not changed for a while (the server has taken all it will take). */
async function settled(read: () => number): Promise<number> {
  let last = -1;
  for (let still = 0; still < 5; ) {
    await new Promise((r) => setTimeout(r, 40));
    const now = read();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

describe('serveStream flow control (real grpc-js server and client)', () => {
  it('holds at most `window` messages in flight, then answers all in request order and ends after half-close', async () => {
    let started = 0;
    const release: (() => void)[] = [];
    let open = false;
    const { stream, answers, status } = await serve(async (m) => {
      started++;
      if (!open) await new Promise<void>((r) => release.push(r));
      // Later messages finish first: the answers must still leave in request order.
      await new Promise((r) => setTimeout(r, (Number(m.id.slice(1)) % 3) * 2));
      return { error_message: '', infer_response: { id: m.id } };
    }, 8);
    for (const id of ids(300)) stream.write({ id });
    stream.end();
    expect(await settled(() => started)).toBe(8);
    expect(answers).toHaveLength(0);
    open = true;
    for (const r of release) r();
    expect((await status).code).toBe(grpc.status.OK);
    expect(started).toBe(300);
    expect(answers.map((a) => a.infer_response.id)).toEqual(ids(300));
  });

  it('a client that stops reading stops the reading here; a failed message is answered with its error', async () => {
    let started = 0;
    const big = Buffer.alloc(64 * 1024, 7);
    const { stream, answers, status } = await serve(async (m) => {
      started++;
      if (m.id === 'm5') throw new Error('no good');
      return { error_message: '', infer_response: { id: m.id, raw_output_contents: [big] } };
    }, 8);
    stream.pause();
    for (const id of ids(400)) stream.write({ id });
    stream.end();
    const taken = await settled(() => started);
    // The window, the server stream's write buffer and the transport's flow-control windows; far from all 400.
    expect(taken).toBeGreaterThanOrEqual(8);
    expect(taken).toBeLessThan(100);
    stream.resume();
    expect((await status).code).toBe(grpc.status.OK);
    expect(answers.map((a) => a.infer_response.id)).toEqual(ids(400));
    expect(answers[5]?.error_message).toMatch(/no good/);
    expect(answers.filter((a) => a.error_message !== '')).toHaveLength(1);
  });

  it('finish (server shutdown): reads no more, answers what it has read, then ends with the status given', async () => {
    let started = 0;
    const release: (() => void)[] = [];
    const { stream, answers, status, served } = await serve(async (m) => {
      started++;
      await new Promise<void>((r) => release.push(r));
      return { error_message: '', infer_response: { id: m.id } };
    }, 8);
    for (const id of ids(50)) stream.write({ id });
    expect(await settled(() => started)).toBe(8);
    served[0]?.finish({ code: grpc.status.UNAVAILABLE, details: 'the server is shutting down' });
    // One answer at a time, with I/O in between: a stream that went on reading would start more messages here.
    for (const r of release) {
      r();
      await new Promise((done) => setTimeout(done, 10));
    }
    const end = await status;
    expect(end.code).toBe(grpc.status.UNAVAILABLE);
    expect(end.details).toBe('the server is shutting down');
    expect(answers.map((a) => a.infer_response.id)).toEqual(ids(8));
    expect(started).toBe(8);
    await served[0]?.done;
  });
});
