#!/usr/bin/env python3
"""Checks that `pip install ./sdk/python` works offline with setuptools
alone and yields a package usable without the source tree.

Installs a copy of sdk/python (pip builds in the source directory, which
must stay clean) with --no-build-isolation --no-index --no-deps into a
scratch --target directory, then, in a fresh interpreter whose only path
entry for the SDK is that directory, encodes FORMAT.md's minimal event,
verifies its checkpoint vector and imports the client and its stubs.
Exits non-zero with the reason on any failure."""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

CHECK = r'''
import os, sys
import annotation_ledger as al
from annotation_ledger_proto.ledger.v1 import ingest_pb2_grpc, proof_pb2
assert al.__file__.startswith(os.environ["SDK_SITE"]), al.__file__
sys.path.insert(0, os.environ["SDK_TESTS"])
from format_vectors import load_vectors
v = load_vectors(os.environ["LEDGER_FORMAT_MD"])
e = al.Event(event_id="00000000-0000-4000-8000-000000000001", type="item.viewed",
             occurred_at_ns=1767225600000000000, producer="p", tenant="t",
             actor=al.Actor(al.ACTOR_SERVICE, "svc"))
assert al.encode_event(e) == v["event.minimal.bytes"], "encoding differs"
keys = al.parse_verifier_keys(v["node.vkey"].decode())
cp = al.open_checkpoint(v["checkpoint.note"].decode(), keys)
assert cp.size == 2
assert al.Client is not None
# The google.rpc descriptors ship with the stubs (AppendError.field_violations).
from annotation_ledger import client
status_class, bad_request_class = client._rpc_message_classes()
assert status_class.DESCRIPTOR.full_name == "google.rpc.Status"
print("installed package OK:", al.__file__)
'''


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--format-md", required=True)
    args = parser.parse_args()
    proto_dir = os.path.join(args.source, "..", "..", "proto")
    with tempfile.TemporaryDirectory(prefix="sdk_pip.") as tmp:
        src = os.path.join(tmp, "src")
        shutil.copytree(args.source, src,
                        ignore=shutil.ignore_patterns("__pycache__", "build",
                                                      "*.egg-info"))
        site = os.path.join(tmp, "site")
        env = dict(os.environ, LEDGER_PROTO_DIR=os.path.abspath(proto_dir),
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("PYTHONPATH", None)
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-build-isolation",
             "--no-index", "--no-deps", "--target", site, src],
            env=env, capture_output=True, text=True, timeout=240)
        if r.returncode != 0:
            sys.exit(f"pip install failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        env = dict(os.environ, PYTHONPATH=site, SDK_SITE=site,
                   SDK_TESTS=os.path.join(args.source, "tests"),
                   LEDGER_FORMAT_MD=args.format_md)
        r = subprocess.run([sys.executable, "-c", CHECK], env=env, cwd=tmp,
                           capture_output=True, text=True, timeout=60)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            sys.exit(f"the installed package failed:\n{r.stderr}")
    print("pip install check passed")


if __name__ == "__main__":
    main()
