#!/usr/bin/env python3
"""Clang's thread-safety analysis over the core: every .cc file in base/,
crypto/, ledger/ and node/, so that ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED
and the other annotations (base/sync.h) are enforced whatever compiler builds
the project.

Runs `clang++ -fsyntax-only -Wthread-safety -Werror` on each file with the
include directories, macros and language standard of the build's
compile_commands.json (other flags, such as GCC's or sanitizers', are
dropped), two files at a time. Exits 1 if any file fails, or if the build
has no core files.

  check_thread_safety.py --build BUILD_DIR [--source SOURCE_DIR]
                         [--clang clang++] [--jobs 2] [FILE...]
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

CORE = ("base", "crypto", "ledger", "node")
# Flags that take their value as the next argument when not glued to it.
KEEP_WITH_VALUE = ("-I", "-isystem", "-iquote", "-idirafter", "-include",
                   "-D", "-U")
FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Werror"]


def kept_flags(args):
    """Include paths, macros, -std and -pthread of a compile command."""
    out = []
    i = 1  # args[0] is the compiler
    while i < len(args):
        a = args[i]
        if a in KEEP_WITH_VALUE and i + 1 < len(args):
            out += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith(("-I", "-D", "-U", "-std=")) or a == "-pthread":
            out.append(a)
        elif a in ("-o", "-MF", "-MT", "-MQ", "-x"):
            i += 1  # drop the flag and its value
        i += 1
    return out


def core_entries(build_dir, source_dir, only):
    path = os.path.join(build_dir, "compile_commands.json")
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    chosen = {}
    for e in entries:
        full = os.path.normpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(full, source_dir)
        if not rel.endswith(".cc") or rel.split(os.sep)[0] not in CORE:
            continue
        if only and rel not in only:
            continue
        args = e.get("arguments") or shlex.split(e["command"])
        chosen.setdefault(rel, (e["directory"], full, kept_flags(args)))
    return chosen


def check(clang, item):
    rel, (directory, full, flags) = item
    cmd = [clang] + FLAGS + flags + [full]
    r = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
    return rel, r.returncode, r.stdout + r.stderr


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--build", required=True,
                        help="build directory with compile_commands.json")
    parser.add_argument("--source", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--clang", default="clang++")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("files", nargs="*",
                        help="only these core files (relative paths)")
    args = parser.parse_args()
    source = os.path.realpath(args.source)
    clang = shutil.which(args.clang)
    if clang is None:
        print(f"{args.clang} not found: install Debian's clang "
              "(scripts/install-deps.sh does)", file=sys.stderr)
        return 1
    entries = core_entries(os.path.realpath(args.build), source,
                           set(args.files))
    if not entries:
        print("no core files in compile_commands.json of " + args.build,
              file=sys.stderr)
        return 1
    start = time.monotonic()
    failed = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for rel, rc, output in pool.map(lambda i: check(clang, i),
                                        sorted(entries.items())):
            if rc != 0:
                failed.append(rel)
                print(f"FAILED: {rel}\n{output}", end="")
    print(f"thread safety: {len(entries)} core files, {len(failed)} failed "
          f"({time.monotonic() - start:.0f} s, {args.clang})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
