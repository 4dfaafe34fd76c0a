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

Parsing the external headers (the standard library, Abseil, GoogleTest,
gRPC, ...) is most of the time of a check, so files with the same flags
share a Clang precompiled header, made in a temporary directory, of the
external headers they include (directly or through our headers). The
build's own precompiled headers (CMake's cmake_pch.hxx) are not used: they
may be GCC's. A file that defines a macro before its first #include is
checked without one; so is a group whose header does not precompile (a
note says so). --no-pch checks every file without.

  check_thread_safety.py --build BUILD_DIR [--source SOURCE_DIR]
                         [--clang clang++] [--jobs 2] [--no-pch] [FILE...]
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

CORE = ("base", "crypto", "ledger", "node")
# Flags that take their value as the next argument when not glued to it.
KEEP_WITH_VALUE = ("-I", "-isystem", "-iquote", "-idirafter", "-include",
                   "-D", "-U")
FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Werror"]


def kept_flags(args):
    """Include paths, macros, -std and -pthread of a compile command, less
    the build's precompiled header (-include .../cmake_pch.hxx)."""
    out = []
    i = 1  # args[0] is the compiler
    while i < len(args):
        a = args[i]
        if a == "-Xclang" and i + 1 < len(args):
            # Clang builds pass their precompiled header as -Xclang
            # -include-pch -Xclang FILE -Xclang -include -Xclang HEADER.
            if (args[i + 1] in ("-include", "-include-pch")
                    and i + 3 < len(args) and args[i + 2] == "-Xclang"):
                if args[i + 1] == "-include" and not is_build_pch(args[i + 3]):
                    out += ["-include", args[i + 3]]
                i += 4
            else:
                i += 2
            continue
        if a == "-include" and i + 1 < len(args) and is_build_pch(args[i + 1]):
            i += 2
            continue
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


def is_build_pch(path):
    return os.path.basename(path) == "cmake_pch.hxx"


INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
DEFINE_FIRST = re.compile(r'\A(?:\s|//[^\n]*\n)*#\s*define\b')


def external_headers(source, path, cache):
    """The headers outside the repository that `path` includes, directly or
    through the repository's headers, in the order first met."""
    out, seen, stack = [], set(), [path]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current not in cache:
            with open(current, encoding="utf-8", errors="replace") as f:
                cache[current] = INCLUDE.findall(f.read())
        for name in cache[current]:
            ours = os.path.join(source, name)
            if os.path.isfile(ours):
                stack.append(ours)
            elif name not in out:
                out.append(name)
    return out


def defines_first(path):
    """Whether `path` defines a macro before anything else (e.g.
    OPENSSL_SUPPRESS_DEPRECATED): it must see the headers after that."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return DEFINE_FIRST.match(f.read()) is not None


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


def precompile(clang, directory, flags, headers, out):
    """A Clang precompiled header of `headers` at `out`."""
    with open(out + ".h", "w", encoding="utf-8") as f:
        f.writelines(f"#include <{h}>\n" for h in headers)
    cmd = [clang, "-x", "c++-header"] + flags + [out + ".h", "-o", out]
    r = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def check(clang, item, pch):
    rel, (directory, full, flags) = item
    cmd = [clang] + FLAGS + flags
    if pch:
        cmd += ["-include-pch", pch]
    r = subprocess.run(cmd + [full], cwd=directory, capture_output=True,
                       text=True)
    return rel, r.returncode, r.stdout + r.stderr


def group_key(flags):
    """Files whose flags differ only in our own LEDGER_* macros (paths,
    versions; no external header uses them) share a precompiled header."""
    return tuple(f for f in flags if not f.startswith("-DLEDGER_"))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--build", required=True,
                        help="build directory with compile_commands.json")
    parser.add_argument("--source", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--clang", default="clang++")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-pch", action="store_true",
                        help="check every file without a precompiled header")
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
    groups = {}  # group key -> [rel, ...]
    if not args.no_pch:
        for rel, (_, full, flags) in entries.items():
            if not defines_first(full):
                groups.setdefault(group_key(flags), []).append(rel)
    cache = {}
    with tempfile.TemporaryDirectory(prefix="thread_safety.") as tmp, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        jobs = []
        for n, (key, rels) in enumerate(sorted(groups.items())):
            headers = []
            for rel in rels:
                for h in external_headers(source, entries[rel][1], cache):
                    if h not in headers:
                        headers.append(h)
            directory = entries[rels[0]][0]
            out = os.path.join(tmp, f"{n}.pch")
            jobs.append((key, out, pool.submit(
                precompile, clang, directory, list(key), headers, out)))
        pch_of = {}
        for key, out, job in jobs:
            rc, output = job.result()
            if rc == 0:
                for rel in groups[key]:
                    pch_of[rel] = out
            else:
                print(f"note: no precompiled header for {groups[key]}:\n"
                      f"{output}", end="")
        for rel, rc, output in pool.map(
                lambda i: check(clang, i, pch_of.get(i[0])),
                sorted(entries.items())):
            if rc != 0:
                failed.append(rel)
                print(f"FAILED: {rel}\n{output}", end="")
    print(f"thread safety: {len(entries)} core files, {len(failed)} failed "
          f"({len(pch_of)} with one of {len(jobs)} precompiled headers, "
          f"{time.monotonic() - start:.0f} s, {args.clang})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
