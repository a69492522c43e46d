/**
 * The gRPC ceiling for bench:serve: a grpc-js server with tuneserve's proto and server options whose ModelInfer
 * answers a constant raw output (10 FP32) without looking at the input — what any Node server on grpc-js can
 * reach with the bench's load client, as noop.ts is for HTTP.
 * Usage: node noop-grpc.js <proto dir>
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync(join(process.argv[2] ?? '.', 'grpc_predict_v2.proto'), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as {
  inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
};
const answer = {
  model_name: 'mnist',
  model_version: '1',
  outputs: [{ name: 'output', datatype: 'FP32', shape: [1, 10] }],
  raw_output_contents: [Buffer.from(new Float32Array(10).fill(0.1).buffer)],
};
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(loaded.inference.GRPCInferenceService.service, {
  ModelInfer: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, answer),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stderr.write(`noop gRPC listening at 127.0.0.1:${port}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
