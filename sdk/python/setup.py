"""Builds the SDK with its gRPC stubs (gen_stubs.py), generated from the
repository's proto/ (or $LEDGER_PROTO_DIR) into the build directory, so
that the wheel holds both annotation_ledger and annotation_ledger_proto."""

import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        sys.path.insert(0, HERE)
        import gen_stubs  # noqa: E402 (beside this file)
        proto_dir = os.environ.get("LEDGER_PROTO_DIR") or os.path.join(
            HERE, "..", "..", "proto")
        if not os.path.isdir(proto_dir):
            sys.exit(f"setup.py: proto directory {proto_dir} not found; install "
                     "from a checkout of the repository or set LEDGER_PROTO_DIR")
        gen_stubs.generate(proto_dir, self.build_lib)


setup(cmdclass={"build_py": BuildWithStubs})
