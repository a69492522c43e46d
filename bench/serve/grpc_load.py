"""Closed-loop KServe v2 gRPC load for bench:serve: `connections` requests in flight on one channel,
each answered call sending the next, for `seconds`. ModelInfer with raw_input_contents (one FP32
input of the given shape, zeros). Prints {"count", "failed", "p50", "p99"} (milliseconds).

Usage: python3 grpc_load.py ADDRESS PROTO_DIR MODEL CONNECTIONS SECONDS VALUES
"""
import json
import struct
import subprocess
import sys
import tempfile
import threading
import time

import grpc


def main():
    address, proto_dir, model, connections, seconds, values = sys.argv[1:7]
    connections, seconds, values = int(connections), float(seconds), int(values)
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}",
                        f"--grpc_python_out={out}", "grpc_predict_v2.proto"], check=True)
        sys.path.insert(0, out)
        import grpc_predict_v2_pb2 as pb
        import grpc_predict_v2_pb2_grpc as rpc

    stub = rpc.GRPCInferenceServiceStub(grpc.insecure_channel(address))
    tensor = pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, values])
    request = pb.ModelInferRequest(model_name=model, inputs=[tensor])
    request.raw_input_contents.append(struct.pack(f"<{values}f", *([0.0] * values)))
    stub.ModelInfer(request)  # warm-up and a check that it answers

    lock = threading.Lock()
    latencies, failed = [], [0]
    end = time.perf_counter() + seconds
    done = threading.Semaphore(0)

    def send():
        if time.perf_counter() >= end:
            done.release()
            return
        started = time.perf_counter()
        future = stub.ModelInfer.future(request)

        def answered(f):
            with lock:
                if f.exception() is None:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failed[0] += 1
            send()

        future.add_done_callback(answered)

    for _ in range(connections):
        send()
    for _ in range(connections):
        done.acquire()
    latencies.sort()
    at = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else float("nan")
    print(json.dumps({"count": len(latencies), "failed": failed[0], "p50": at(50), "p99": at(99)}))


if __name__ == "__main__":
    main()
