"""Closed-loop KServe v2 gRPC load for bench:serve, for `seconds`, with raw_input_contents (one FP32 input of the
given shape, zeros), requests pre-serialized once so the client spends its time on gRPC, not on protobuf:
- unary (STREAMS 0): ModelInfer, `connections` calls in flight on one channel, each answer sending the next;
- STREAMS > 0: Triton's ModelStreamInfer, `connections` messages in flight spread over STREAMS streams of one
  channel (asyncio client), each answer letting the next message go;
- PROCESSES > 1: that many client processes share the streams and the in-flight messages (one Python process is
  slower per message than the server, so one would measure the client).
Prints {"count", "failed", "p50", "p99"} (milliseconds).

Usage: python3 grpc_load.py ADDRESS PROTO_DIR MODEL CONNECTIONS SECONDS VALUES [STREAMS [PROCESSES]]
"""
import asyncio
import collections
import json
import struct
import subprocess
import sys
import tempfile
import threading
import time

import grpc

METHOD = "/inference.GRPCInferenceService/"


def compiled(proto_dir, out):
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}",
                    "grpc_predict_v2.proto"], check=True)
    sys.path.insert(0, out)
    import grpc_predict_v2_pb2 as pb
    return pb


def stream_ok(answer):
    # A ModelStreamInferResponse whose error_message (field 1) is absent or empty.
    return answer[:1] != b"\x0a" or answer[1:2] == b"\x00"


def unary(address, payload, connections, end, record):
    channel = grpc.insecure_channel(address)
    infer = channel.unary_unary(METHOD + "ModelInfer", request_serializer=None, response_deserializer=None)
    done = threading.Semaphore(0)

    def send():
        if time.perf_counter() >= end:
            done.release()
            return
        started = time.perf_counter()
        infer.future(payload).add_done_callback(lambda f: (record(started, f.exception() is None), send()))

    for _ in range(connections):
        send()
    for _ in range(connections):
        done.acquire()
    channel.close()


async def streaming(address, payload, connections, streams, end, record):
    async with grpc.aio.insecure_channel(address) as channel:
        method = channel.stream_stream(METHOD + "ModelStreamInfer", request_serializer=None,
                                       response_deserializer=None)

        async def one(in_flight):
            call = method()
            sent = collections.deque()
            for _ in range(in_flight):
                sent.append(time.perf_counter())
                await call.write(payload)
            while sent:
                answer = await call.read()
                if answer is grpc.aio.EOF:
                    break
                record(sent.popleft(), stream_ok(answer))
                if time.perf_counter() < end:
                    sent.append(time.perf_counter())
                    await call.write(payload)
            await call.done_writing()

        share = [connections // streams + (1 if i < connections % streams else 0) for i in range(streams)]
        await asyncio.gather(*(one(n) for n in share if n > 0))


def worker(address, payload, connections, seconds, streams):
    latencies, failed = [], [0]

    def record(started, ok):
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            failed[0] += 1

    end = time.perf_counter() + seconds
    if streams > 0:
        asyncio.run(streaming(address, payload, connections, streams, end, record))
    else:
        lock = threading.Lock()

        def locked(started, ok):
            with lock:
                record(started, ok)

        unary(address, payload, connections, end, locked)
    return latencies, failed[0]


def main():
    if sys.argv[1] == "--worker":
        address, payload_hex, connections, seconds, streams = sys.argv[2:7]
        latencies, failed = worker(address, bytes.fromhex(payload_hex), int(connections), float(seconds), int(streams))
        print(json.dumps({"latencies": latencies, "failed": failed}))
        return
    address, proto_dir, model, connections, seconds, values = sys.argv[1:7]
    connections, values = int(connections), int(values)
    streams = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    processes = max(1, int(sys.argv[8])) if len(sys.argv) > 8 else 1
    with tempfile.TemporaryDirectory() as out:
        pb = compiled(proto_dir, out)
    tensor = pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, values])
    request = pb.ModelInferRequest(model_name=model, inputs=[tensor])
    request.raw_input_contents.append(struct.pack(f"<{values}f", *([0.0] * values)))
    payload = request.SerializeToString()
    # Warm-up, and a check that the server answers this request with a whole output.
    with grpc.insecure_channel(address) as channel:
        answer = pb.ModelInferResponse.FromString(
            channel.unary_unary(METHOD + "ModelInfer", request_serializer=None, response_deserializer=None)(payload))
        assert len(answer.raw_output_contents) == 1, answer

    share = lambda total, i: total // processes + (1 if i < total % processes else 0)
    children = [subprocess.Popen([sys.executable, __file__, "--worker", address, payload.hex(),
                                  str(share(connections, i)), seconds, str(share(streams, i) if streams else 0)],
                                 stdout=subprocess.PIPE) for i in range(processes)]
    latencies, failed = [], 0
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            sys.exit(f"load worker failed with exit code {child.returncode}")
        result = json.loads(out)
        latencies += result["latencies"]
        failed += result["failed"]
    latencies.sort()
    at = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")
    print(json.dumps({"count": len(latencies), "failed": failed, "p50": at(50), "p99": at(99)}))


if __name__ == "__main__":
    main()
