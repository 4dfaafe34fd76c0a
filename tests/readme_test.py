#!/usr/bin/env python3
"""Runs the README's examples as written against the node scripts/start.sh
starts (mutual TLS, the development CA's profiles), so that what the README
shows keeps working:

  tour      "A tour with ledgerctl": keys, events, append, checkpoints,
            proofs, consistency, entries, provenance (bash)
  gateway   "From pipelines and annotation platforms": an OpenLineage run
            and a Label Studio webhook through ledger-gateway, landing as
            entries that ledger-verify verifies (bash, after the tour: it
            uses the tour's variables and log.vkeys)
  python    "From Python": sign, append, fetch the receipt, verify
  follower  "Following the log over HTTP": the tlog-tiles follower
  tiles     the curl examples of the same section, and /metrics

Each block is taken from README.md by the heading it follows and run in a
scratch directory laid out like a checkout (build/, sdk/, scripts/,
deploy/ linked; ledger-data/ written by start.sh). The only change is the
ports: the README's 127.0.0.1:7400 (gRPC), :7402 (HTTP) and :8480
(gateway) become free ones. Exits non-zero naming the failed block.

  readme_test.py --build BUILD --source SOURCE [--python PYTHON]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

BLOCK_RE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks_after(readme, heading, language, count=1):
    """The first `count` fenced blocks of `language` after `heading` (a
    whole heading line), before the next heading of the same or a higher
    level."""
    lines = readme.split("\n")
    try:
        start = lines.index(heading)
    except ValueError:
        sys.exit(f"readme_test: README.md has no heading {heading!r}")
    level = len(heading) - len(heading.lstrip("#"))
    end = len(lines)
    fenced = False  # "# ..." inside a code block is a comment, not a heading
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("```"):
            fenced = not fenced
        m = re.match(r"^(#+) ", lines[i])
        if m and not fenced and len(m.group(1)) <= level:
            end = i
            break
    section = "\n".join(lines[start:end]) + "\n"
    found = [body for lang, body in BLOCK_RE.findall(section) if lang == language]
    if len(found) < count:
        sys.exit(f"readme_test: {heading!r} has {len(found)} {language} blocks, "
                 f"expected {count}")
    return found[:count]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    source = os.path.abspath(args.source)
    with open(os.path.join(source, "README.md"), encoding="utf-8") as f:
        readme = f.read()

    tour, = blocks_after(readme, "## A tour with ledgerctl", "sh")
    python, = blocks_after(readme, "### From Python", "python")
    gateway, = blocks_after(readme, "### From pipelines and annotation platforms (HTTP)", "sh")
    tiles, metrics = blocks_after(
        readme, "### Following the log over HTTP (tlog-tiles) and metrics", "sh", 2)
    follower, = blocks_after(
        readme, "### Following the log over HTTP (tlog-tiles) and metrics", "python")

    ports = {"127.0.0.1:7400": f"127.0.0.1:{free_port()}",
             "127.0.0.1:7402": f"127.0.0.1:{free_port()}",
             "127.0.0.1:8480": f"127.0.0.1:{free_port()}"}

    def local(text):
        for readme_address, address in ports.items():
            text = text.replace(readme_address, address)
        return text

    work = tempfile.mkdtemp(prefix="readme_test.")
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([os.path.join(work, "sdk", "python"),
                                           os.path.join(work, "build", "sdk", "python")]),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("LEDGER_PROFILE", None)
    ok = False
    try:
        os.symlink(os.path.abspath(args.build), os.path.join(work, "build"))
        for name in ("sdk", "scripts", "deploy"):
            os.symlink(os.path.join(source, name), os.path.join(work, name))
        start = ["bash", "scripts/start.sh", "--no-build",
                 "--listen", ports["127.0.0.1:7400"],
                 "--http-listen", ports["127.0.0.1:7402"]]

        def run(name, argv, stdin=None, timeout=300):
            print(f"--- {name}", flush=True)
            r = subprocess.run(argv, cwd=work, env=env, input=stdin, text=True,
                               capture_output=True, timeout=timeout)
            sys.stdout.write(r.stdout[-4000:])
            if r.returncode != 0:
                sys.stdout.write(r.stderr[-4000:])
                sys.exit(f"readme_test: {name} failed (exit {r.returncode})")
            return r.stdout

        run("scripts/start.sh", start)
        # Background jobs (the gateway) end with the shell, also on failure.
        strict = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        out = run("tour + gateway", ["bash", "-c", strict + local(tour) + "\n" +
                                     local(gateway)])
        # Both requests landed and each entry verified (the loop ran).
        verified = out.count("verified")
        if "openlineage run" not in out or verified < 2:
            sys.exit("readme_test: the gateway block's entries were not "
                     f"verified ({verified} 'verified' lines)")
        out = run("python", [args.python, "-c", local(python)])
        out = run("follower", [args.python, "-c", local(follower)])
        if out.count("root verified") != 3:
            sys.exit("readme_test: the follower did not verify 3 checkpoints")
        # Without pipefail, as in an interactive shell: `curl | xxd | head`
        # ends xxd with SIGPIPE once head has its lines.
        out = run("tiles and metrics", ["bash", "-c", "set -eu\n" + local(tiles) +
                                        "\n" + local(metrics)])
        if "ledger_entries" not in out:
            sys.exit("readme_test: /metrics did not list ledger_entries")
        ok = True
    finally:
        subprocess.run(["bash", "scripts/start.sh", "--stop"], cwd=work, env=env,
                       capture_output=True, timeout=120)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"readme_test: kept {work}")
    print("README examples passed")


if __name__ == "__main__":
    main()
