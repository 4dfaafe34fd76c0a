#!/usr/bin/env python3
"""Generates the Python protobuf and gRPC stubs of proto/ledger/v1.

Runs protoc's built-in Python generator and the gRPC Python plugin (Debian's
protobuf-compiler and protobuf-compiler-grpc), then rewrites the generated
imports so that the stubs live in the package `annotation_ledger_proto`
instead of claiming the top-level name `ledger`. The project's CMake build
runs it (target python_sdk_stubs) and so does `pip install ./sdk/python`
(setup.py). The generated files are build products and never committed.

google.rpc.Status and google.rpc.BadRequest (proto/google/rpc, the binary
error details of the node's INVALID_ARGUMENT answers) are not generated as
modules: a module would register them in protobuf's default pool, where
they clash with googleapis-common-protos' own copies if an application also
imports those. Their descriptors go to annotation_ledger_proto/google_rpc.binpb
(a FileDescriptorSet), which the SDK loads into a pool of its own.

  gen_stubs.py --proto-dir PROTO --out DIR [--protoc P] [--grpc-plugin G]

writes DIR/annotation_ledger_proto/... and DIR/annotation_ledger_proto.stamp.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

PACKAGE = "annotation_ledger_proto"
PROTOS = [
    "ledger/v1/event.proto",
    "ledger/v1/ingest.proto",
    "ledger/v1/proof.proto",
    "ledger/v1/query.proto",
    "ledger/v1/admin.proto",
]
RPC_PROTOS = [
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
]
RPC_DESCRIPTORS = "google_rpc.binpb"
# "from ledger.v1 import event_pb2 as ..." -> "from annotation_ledger_proto.ledger.v1 import ..."
_IMPORT = re.compile(r"^(from|import) ledger\.v1\b", re.MULTILINE)


def _find(program, explicit):
    if explicit:
        return explicit
    found = shutil.which(program)
    if found is None:
        sys.exit(f"gen_stubs.py: {program} not found on PATH; install Debian's "
                 "protobuf-compiler and protobuf-compiler-grpc "
                 "(scripts/install-deps.sh)")
    return found


def generate(proto_dir, out_dir, protoc=None, grpc_plugin=None):
    """Writes the stubs under out_dir/annotation_ledger_proto."""
    protoc = _find("protoc", protoc)
    grpc_plugin = _find("grpc_python_plugin", grpc_plugin)
    for proto in PROTOS + RPC_PROTOS:
        if not os.path.isfile(os.path.join(proto_dir, proto)):
            sys.exit(f"gen_stubs.py: {proto} not found under {proto_dir}")
    target = os.path.join(out_dir, PACKAGE)
    # Generate into a fresh directory and swap it in, so an interrupted run
    # never leaves a half-written package behind.
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".stubs.", dir=out_dir)
    try:
        subprocess.run(
            [protoc, f"-I{proto_dir}", f"--python_out={staging}",
             f"--grpc_python_out={staging}",
             f"--plugin=protoc-gen-grpc_python={grpc_plugin}", *PROTOS],
            check=True)
        subprocess.run(
            [protoc, f"-I{proto_dir}", "--include_imports",
             f"--descriptor_set_out={os.path.join(staging, RPC_DESCRIPTORS)}",
             *RPC_PROTOS],
            check=True)
        for root, _, files in os.walk(staging):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                text = _IMPORT.sub(rf"\1 {PACKAGE}.ledger.v1", text)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
        for sub in ("", "ledger", "ledger/v1"):
            init = os.path.join(staging, sub, "__init__.py")
            with open(init, "w", encoding="utf-8") as f:
                f.write('"""Generated from proto/ledger/v1; do not edit."""\n'
                        if not sub else "")
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--protoc")
    parser.add_argument("--grpc-plugin")
    args = parser.parse_args()
    generate(args.proto_dir, args.out, args.protoc, args.grpc_plugin)
    with open(os.path.join(args.out, PACKAGE + ".stamp"), "w",
              encoding="utf-8") as f:
        f.write("generated\n")


if __name__ == "__main__":
    main()
