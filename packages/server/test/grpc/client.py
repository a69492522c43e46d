"""A real KServe v2 gRPC client for the server tests: compiles grpc_predict_v2.proto with
grpc_tools.protoc, then runs the calls of a JSON plan read from stdin and prints one JSON result per
call (status code name, details, the response as a dict, raw FP32 outputs decoded).

Plan: {"address": "127.0.0.1:port", "proto": "<dir of the .proto>", "calls": [
  {"method": "ModelInfer", "request": {...proto JSON...}, "metadata": [["x-api-key", "k"]],
   "raw": [{"fp32": [...]} | {"bytes_b64": ["...", ...]}]}]}
ModelStreamInfer calls send "messages" (each {"request", "raw"}, default one empty request), each repeated
"repeat" times with the id "<id>#<n>" when repeat > 1, all written without waiting for answers; "read_after"
seconds pass before the first answer is read; the client cancels the stream after "cancel_after" answers. The result holds every answer ("responses": error_message,
infer_response, raw_fp32) and the stream's final code.
"""
import base64
import importlib
import json
import struct
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import json_format


def compile_proto(proto_dir, out_dir):
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
         f"--grpc_python_out={out_dir}", "grpc_predict_v2.proto"],
        check=True,
    )
    sys.path.insert(0, out_dir)
    return importlib.import_module("grpc_predict_v2_pb2"), importlib.import_module("grpc_predict_v2_pb2_grpc")


def raw_entry(entry):
    if "fp32" in entry:
        return struct.pack(f"<{len(entry['fp32'])}f", *entry["fp32"])
    out = b""
    for item in entry["bytes_b64"]:
        data = base64.b64decode(item)
        out += struct.pack("<I", len(data)) + data
    return out


def split_bytes(raw):
    items, at = [], 0
    while at < len(raw):
        (length,) = struct.unpack_from("<I", raw, at)
        items.append(raw[at + 4:at + 4 + length].decode("utf-8"))
        at += 4 + length
    return items


def infer_request(pb2, call):
    request = json_format.ParseDict(call.get("request", {}), pb2.ModelInferRequest())
    for entry in call.get("raw", []):
        request.raw_input_contents.append(raw_entry(entry))
    return request


def decoded(response):
    raw, raw_bytes = [], []
    for i, r in enumerate(getattr(response, "raw_output_contents", [])):
        if response.outputs[i].datatype == "BYTES":
            raw_bytes.append(split_bytes(r))
        else:
            raw.append(list(struct.unpack(f"<{len(r) // 4}f", r)))
    return {
        "response": json_format.MessageToDict(response, preserving_proto_field_name=True),
        "raw_fp32": raw,
        "raw_bytes": raw_bytes,
    }


def stream_call(pb2, stub, call, metadata):
    repeat = call.get("repeat", 1)

    def requests():
        for message in call.get("messages", [{}]):
            request = infer_request(pb2, message)
            if repeat == 1:
                yield request
                continue
            for n in range(repeat):
                copy = pb2.ModelInferRequest()
                copy.CopyFrom(request)
                copy.id = f"{request.id}#{n}"
                yield copy

    answers = []
    try:
        stream = stub.ModelStreamInfer(requests(), metadata=metadata, timeout=60)
        time.sleep(call.get("read_after", 0))
        for answer in stream:
            entry = decoded(answer.infer_response)
            answers.append({"error_message": answer.error_message, **entry})
            if len(answers) == call.get("cancel_after"):
                stream.cancel()
        return {"code": "OK", "responses": answers}
    except grpc.RpcError as err:
        return {"code": err.code().name, "details": err.details(), "responses": answers}


def main():
    plan = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as out_dir:
        pb2, pb2_grpc = compile_proto(plan["proto"], out_dir)
        channel = grpc.insecure_channel(plan["address"])
        stub = pb2_grpc.GRPCInferenceServiceStub(channel)
        results = []
        for call in plan["calls"]:
            method = call["method"]
            metadata = [tuple(pair) for pair in call.get("metadata", [])]
            if method == "ModelStreamInfer":
                results.append(stream_call(pb2, stub, call, metadata))
                continue
            request = json_format.ParseDict(call.get("request", {}), getattr(pb2, f"{method}Request")())
            for entry in call.get("raw", []):
                request.raw_input_contents.append(raw_entry(entry))
            try:
                response = getattr(stub, method)(request, metadata=metadata, timeout=20)
                if method == "ModelInfer":
                    results.append({"code": "OK", **decoded(response)})
                else:
                    results.append({
                        "code": "OK",
                        "response": json_format.MessageToDict(response, preserving_proto_field_name=True),
                    })
            except grpc.RpcError as err:
                trailers = {k: v for k, v in (err.trailing_metadata() or [])}
                results.append({"code": err.code().name, "details": err.details(), "trailers": trailers})
        channel.close()
        print(json.dumps(results))


if __name__ == "__main__":
    main()
