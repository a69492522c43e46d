/**
 * Guessing keys over gRPC meets the same lock-out as over HTTP (one count per client address): a Node gRPC client
 * (@grpc/grpc-js with the server's own proto) on 127.0.0.1.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDir, writeModel } from './fixtures.js';
import { http, type Running, start } from './helpers.js';

const PROTO = fileURLToPath(new URL('../proto/grpc_predict_v2.proto', import.meta.url));
type Unary = (req: object, metadata: grpc.Metadata, done: (err: grpc.ServiceError | null) => void) => void;

let server: Running;
let client: grpc.Client & Record<string, Unary>;
beforeAll(async () => {
  const root = join(await freshDir('grpc-guessing'), 'mnist');
  await writeModel(join(root, '1'), 'identity');
  server = await start({
    modelDir: root,
    grpcPort: 0,
    apiKeys: ['s3cret'],
    authFailureLimit: { max: 5, windowMs: 60_000 },
  });
  const definition = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO)) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
  };
  client = new definition.inference.GRPCInferenceService(
    server.grpcAddress() ?? '',
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & Record<string, Unary>;
});
afterAll(async () => {
  client?.close();
  await server?.close();
});

const call = (method: string, key: string): Promise<number> =>
  new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', key);
    client[method]?.call(client, { name: 'mnist' }, metadata, (err) => resolve(err ? err.code : grpc.status.OK));
  });

describe('gRPC key guessing', () => {
  it('locks the address out after the allowed wrong keys, over gRPC and HTTP alike', async () => {
    expect(await call('ModelMetadata', 's3cret')).toBe(grpc.status.OK);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push(await call('ModelMetadata', `guess-${i}`));
    expect(codes).toEqual([
      ...Array(4).fill(grpc.status.UNAUTHENTICATED),
      ...Array(4).fill(grpc.status.RESOURCE_EXHAUSTED),
    ]);
    expect(await call('ModelMetadata', 's3cret')).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // The same address over HTTP is locked out too; open methods and routes stay open.
    expect((await http(`${server.url}/api/model`, { headers: { 'x-api-key': 's3cret' } })).status).toBe(429);
    expect(await call('ServerLive', 'anything')).toBe(grpc.status.OK);
  });
});
