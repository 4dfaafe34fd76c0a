#!/usr/bin/env python3
"""The node's HTTP port against an implementation other than the node's.

Starts ledger-node with --http-listen (plaintext, then mutual TLS with
deploy/dev-ca.sh's certificates), appends events with ledgerctl, and checks
with the Python SDK's pure-Python RFC 6962 code (annotation_ledger.rfc6962)
and checkpoint verifier that:

- GET /checkpoint is the signed note Proof.GetCheckpoint returns, and it
  verifies with the node's keys;
- the level-0 hash tiles (c2sp.org/tlog-tiles, height 8) hold leaf hashes
  whose RFC 6962 root is the checkpoint's, and a level-1 tile holds the
  roots of the full level-0 tiles below it;
- every entry of the entry bundles hashes to its leaf in the level-0 tiles
  and decodes as an entry with its own index;
- inclusion proofs computed from the tiles equal those in the node's
  receipts and lead to the signed root;
- tiles beyond the tree, and malformed tile paths, are 404;
- GET /metrics parses line by line as the Prometheus text format, and its
  append counters move by what was appended;
- over mutual TLS, each role gets what docs/decisions.md says it may read
  and no more, and a client without a certificate fails the handshake.

No sleeps: the node's start is awaited by reading its output with a
deadline, and checkpoints by a receipt request, which waits in the node.

  tiles_integration.py --build BUILD_DIR --source SOURCE_DIR
"""

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import annotation_ledger as al
from annotation_ledger import rfc6962
from annotation_ledger import receipt as receipt_mod

ARGS = None
TENANT = "acme-ai"
PRODUCER = "tiles-test"
TILE = 256


class Node:
    """A ledger-node process with an HTTP port."""

    def __init__(self, data, log, extra_args):
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(ARGS.build, "node", "ledger-node"), "--data", data,
             "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
             *extra_args],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        lines = self._await_lines(("listening on ", "http listening on "), 120)
        self.address = lines["listening on "]
        self.http_port = int(lines["http listening on "].rsplit(":", 1)[1])

    def _await_lines(self, prefixes, deadline_s):
        end = time.monotonic() + deadline_s
        buf, found = b"", {}
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end and len(found) < len(prefixes):
            ready, _, _ = select.select([fd], [], [], end - time.monotonic())
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break  # The node exited.
            buf += chunk
            for line in buf.decode(errors="replace").split("\n")[:-1]:
                for p in prefixes:
                    if line.startswith(p):
                        found[p] = line[len(p):].strip()
        if len(found) == len(prefixes):
            return found
        self.stop()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"ledger-node did not report {prefixes} within "
                           f"{deadline_s} s; output {buf!r}; log:\n{tail}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self._log.close()


def run(args, check=True, timeout=120):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {r.returncode}:\n"
                             f"{r.stdout}\n{r.stderr}")
    return r


def ctl(*args, check=True):
    return run([os.path.join(ARGS.build, "tools", "ledgerctl", "ledgerctl"),
                *args], check=check)


def tile_path(level, index, width=TILE):
    """c2sp.org/tlog-tiles path of a tile, written here from the spec."""
    groups = []
    while True:
        groups.append(index % 1000)
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    n = "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])
    lvl = "entries" if level == "entries" else str(level)
    return f"/tile/{lvl}/{n}" + ("" if width == TILE else f".p/{width}")


class Http:
    """One keep-alive connection to the node's HTTP port."""

    def __init__(self, port, context=None):
        if context is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        else:
            self.conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                                    context=context)

    def get(self, path):
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError,
                BrokenPipeError):
            # The node closes a keep-alive connection idle for 5 s (slow
            # steps in between, e.g. under a sanitizer): reconnect, as any
            # HTTP client does for an idempotent GET.
            self.conn.close()
            self.conn.request("GET", path)
            r = self.conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    def close(self):
        self.conn.close()


def split_hashes(body):
    assert len(body) % 32 == 0, len(body)
    return [body[i:i + 32] for i in range(0, len(body), 32)]


def split_bundle(body):
    entries, at = [], 0
    while at < len(body):
        n = int.from_bytes(body[at:at + 2], "big")
        entries.append(body[at + 2:at + 2 + n])
        assert len(entries[-1]) == n, "truncated bundle"
        at += 2 + n
    return entries


# The Prometheus text format 0.0.4, line by line.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|Inf)|NaN)"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE_RE = re.compile(
    rf"^({_NAME})(?:\{{((?:{_LABEL})(?:,{_LABEL})*)?\}})? ({_VALUE})(?: -?\d+)?$")
HELP_RE = re.compile(rf"^# HELP ({_NAME}) .*$")
TYPE_RE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")


def parse_metrics(text):
    """{(name, labels): value} from an exposition; raises on any line that
    is not the text format, a sample without its family's TYPE, or a
    histogram whose buckets are not cumulative."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, samples = {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if m := TYPE_RE.match(line):
            assert m.group(1) not in types, f"line {n}: second TYPE for {m.group(1)}"
            types[m.group(1)] = m.group(2)
            continue
        if HELP_RE.match(line):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"line {n} is not in the text format: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or (family in types and types[family] == "histogram"), \
            f"line {n}: {name} has no TYPE line before it"
        assert (name, labels) not in samples, f"line {n}: duplicate sample"
        samples[(name, labels)] = value
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = [(k[1], v) for k, v in samples.items() if k[0] == family + "_bucket"]
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{family}: buckets are not cumulative"
        assert buckets[-1][0] == 'le="+Inf"', f"{family}: no +Inf bucket last"
        assert values[-1] == samples[(family + "_count", "")], family
    return samples


def total(samples, name, **labels):
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for (n, l), v in samples.items()
               if n == name and all(w in l.split(",") for w in want))


def append_events(net, keys, count, seed, directory):
    events = ctl("gen-events", "--count", str(count), "--tenant", TENANT,
                 "--seed", str(seed), "--producer", PRODUCER + "/1.0").stdout
    path = os.path.join(directory, f"events{seed}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write(events)
    out = ctl(*net, "append", "--emitter-key", keys, "--file", path).stdout
    return [json.loads(line)["index"] for line in out.strip().split("\n")]


class PlaintextTilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tiles_node.")
        cls.node = Node(os.path.join(cls.dir, "node"),
                        os.path.join(cls.dir, "node.log"), ["--insecure-plaintext"])
        cls.net = ["--server", cls.node.address, "--insecure-plaintext"]
        cls.keys = os.path.join(cls.dir, "keys")
        os.makedirs(cls.keys)
        ctl("keygen", "--name", "tiles-emitter", "--out", cls.keys)
        ctl(*cls.net, "register-key", "--pub",
            os.path.join(cls.keys, "tiles-emitter.pub"), "--tenant", TENANT,
            "--producer", PRODUCER)
        with open(os.path.join(cls.dir, "log.vkeys"), "w") as f:
            f.write(ctl(*cls.net, "keys", "--note").stdout)
        cls.log_keys = al.read_verifier_keys(os.path.join(cls.dir, "log.vkeys"))
        # More than two full tiles, and a partial one.
        cls.indexes = append_events(cls.net, cls.keys, 700, 1, cls.dir)
        cls.http = Http(cls.node.http_port)
        # A receipt of the last entry waits in the node for a checkpoint
        # that covers it.
        cls.receipt = cls.prove(cls.indexes[-1])
        cls.checkpoint = cls.fetch_checkpoint()

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        cls.node.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def prove(cls, index):
        path = os.path.join(cls.dir, f"{index}.tlog-proof")
        ctl(*cls.net, "prove", "--index", str(index), "--out", path)
        with open(path, encoding="utf-8") as f:
            return receipt_mod.parse_tlog_proof(f.read())

    @classmethod
    def fetch_checkpoint(cls):
        status, headers, body = cls.http.get("/checkpoint")
        assert status == 200, (status, body)
        assert headers["Content-Type"].startswith("text/plain"), headers
        return al.open_checkpoint(body.decode(), cls.log_keys)

    def leaves(self, size):
        """The leaf hashes of a tree of `size` from the level-0 tiles."""
        out = []
        for n in range(size // TILE):
            status, headers, body = self.http.get(tile_path(0, n))
            self.assertEqual(status, 200, body)
            self.assertIn("immutable", headers["Cache-Control"])
            self.assertEqual(headers["Content-Type"], "application/octet-stream")
            self.assertEqual(len(body), TILE * 32)
            out += split_hashes(body)
        if size % TILE:
            status, _, body = self.http.get(tile_path(0, size // TILE, size % TILE))
            self.assertEqual(status, 200, body)
            out += split_hashes(body)
        return out

    def test_checkpoint_is_the_signed_note_the_grpc_api_serves(self):
        cp = self.fetch_checkpoint()
        self.assertGreaterEqual(cp.size, self.indexes[-1] + 1)
        with al.Client(self.node.address, insecure_plaintext=True) as c:
            grpc_note = c.get_checkpoint()
        # Both are the latest; one may have been issued in between.
        if grpc_note != cp.note:
            cp = self.fetch_checkpoint()
        self.assertEqual(cp.note, grpc_note)

    def test_tiles_give_the_signed_root(self):
        cp = self.checkpoint
        leaves = self.leaves(cp.size)
        self.assertEqual(len(leaves), cp.size)
        self.assertEqual(rfc6962.root(leaves), cp.root)
        # Level 1: the roots of the full level-0 tiles, here a partial tile.
        width = cp.size // TILE
        status, _, body = self.http.get(tile_path(1, 0, width))
        self.assertEqual(status, 200, body)
        self.assertEqual(split_hashes(body),
                         [rfc6962.root(leaves[i * TILE:(i + 1) * TILE])
                          for i in range(width)])

    def test_bundles_hash_to_the_leaves(self):
        cp = self.checkpoint
        leaves = self.leaves(cp.size)
        entries = []
        for n in range((cp.size + TILE - 1) // TILE):
            width = min(TILE, cp.size - n * TILE)
            status, headers, body = self.http.get(tile_path("entries", n, width))
            self.assertEqual(status, 200, body)
            self.assertIn("immutable", headers["Cache-Control"])
            got = split_bundle(body)
            self.assertEqual(len(got), width)
            entries += got
        self.assertEqual([rfc6962.leaf_hash(e) for e in entries], leaves)
        for i in (0, 1, 257, cp.size - 1):
            self.assertEqual(al.decode_entry(entries[i]).index, i)

    def test_inclusion_proofs_from_tiles_match_the_receipts(self):
        leaves = self.leaves(self.checkpoint.size)
        for index in (self.indexes[0], self.indexes[300], self.indexes[-1]):
            receipt = self.prove(index)
            rcp = al.open_checkpoint(receipt.checkpoint, self.log_keys)
            tree = leaves[:rcp.size]
            path = rfc6962.inclusion_path(index, tree)
            self.assertEqual(path, receipt.proof, f"index {index}")
            self.assertEqual(rfc6962.leaf_hash(receipt.extra), tree[index])
            rfc6962.verify_inclusion(tree[index], index, rcp.size, path, rcp.root)

    def test_tiles_beyond_the_tree_and_bad_paths_are_404(self):
        size = self.fetch_checkpoint().size
        # Appends go on (the checkpoint may lag the tree by a second), so
        # look far beyond.
        for path in (tile_path(0, size // TILE + 8), tile_path("entries", size // TILE + 8),
                     tile_path(0, size // TILE + 8, 1), tile_path(2, 0),
                     tile_path(1, 1), "/tile/0/1", "/tile/0/000.p/256",
                     "/tile/0/x000/001", "/tile/64/000", "/nothing"):
            status, _, body = self.http.get(path)
            self.assertEqual(status, 404, f"{path}: {body}")

    def test_metrics_parse_and_counters_move(self):
        status, headers, body = self.http.get("/metrics")
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        before = parse_metrics(body.decode())
        self.assertEqual(before[("ledger_startup_verified", "")], 1)
        self.assertGreaterEqual(before[("ledger_entries", "")], self.indexes[-1] + 1)
        for name in ("ledger_checkpoint_age_seconds", "ledger_queue_events",
                     "ledger_rocksdb_write_stopped", "ledger_rocksdb_pending_compaction_bytes",
                     "ledger_rocksdb_running_compactions"):
            self.assertIn((name, ""), before)
        self.assertIn(("ledger_rocksdb_stalls_total", 'kind="stop"'), before)
        self.assertIn(("ledger_commit_latency_seconds_count", ""), before)

        append_events(self.net, self.keys, 37, 2, self.dir)
        _, _, body = self.http.get("/metrics")
        after = parse_metrics(body.decode())
        self.assertEqual(total(after, "ledger_append_events_total", code="OK") -
                         total(before, "ledger_append_events_total", code="OK"), 37)
        self.assertGreater(total(after, "ledger_appends_total", code="OK"),
                           total(before, "ledger_appends_total", code="OK"))
        self.assertGreater(after[("ledger_commit_latency_seconds_count", "")],
                           before[("ledger_commit_latency_seconds_count", "")])
        self.assertGreaterEqual(after[("ledger_group_events_sum", "")] -
                                before[("ledger_group_events_sum", "")], 37)
        self.assertGreaterEqual(after[("ledger_entries", "")],
                                before[("ledger_entries", "")] + 37)
        self.assertGreater(total(after, "ledger_http_requests_total", resource="tile"), 0)


class MutualTlsTilesTest(unittest.TestCase):
    """Roles on the HTTPS port, as docs/decisions.md decides them."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tiles_tls.")
        cls.tls = os.path.join(cls.dir, "tls")
        run(["bash", os.path.join(ARGS.source, "deploy", "dev-ca.sh"), "--out", cls.tls,
             "--node", "node-1", "--tenant", TENANT, "--quiet"])
        config = os.path.join(cls.dir, "node.toml")
        with open(config, "w") as f:
            f.write('[tls]\nca_file = "tls/ca.pem"\ncert_file = "tls/node/node-1.pem"\n'
                    'key_file = "tls/node/node-1.key"\n[access]\n'
                    'policy_file = "tls/access-policy.toml"\n')
        cls.node = Node(os.path.join(cls.dir, "node"), os.path.join(cls.dir, "node.log"),
                        ["--config", config])

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def client(self, role):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tls, "ca.pem"))
        if role is not None:
            ctx.load_cert_chain(os.path.join(self.tls, f"{role}.pem"),
                                os.path.join(self.tls, f"{role}.key"))
        h = Http(self.node.http_port, ctx)
        self.addCleanup(h.close)
        return h

    def checkpoint_size(self, h):
        status, _, body = h.get("/checkpoint")
        self.assertEqual(status, 200, body)
        return al.open_checkpoint(body.decode(), self.log_keys()).size

    def log_keys(self):
        admin = ["--profile", os.path.join(self.tls, "admin.profile"),
                 "--server", self.node.address]
        path = os.path.join(self.dir, "log.vkeys")
        with open(path, "w") as f:
            f.write(ctl(*admin, "keys", "--note").stdout)
        return al.read_verifier_keys(path)

    def test_each_role_reads_what_it_may(self):
        regulator = self.client("regulator")
        size = self.checkpoint_size(regulator)
        self.assertGreaterEqual(size, 2)  # genesis and cosigner registration
        status, _, body = regulator.get(tile_path("entries", 0, size % TILE))
        self.assertEqual(status, 200, body)
        entries = split_bundle(body)
        status, _, body = regulator.get(tile_path(0, 0, size % TILE))
        self.assertEqual(status, 200, body)
        self.assertEqual([rfc6962.leaf_hash(e) for e in entries], split_hashes(body))
        for role in ("emitter", "officer", "admin"):
            h = self.client(role)
            self.assertEqual(self.checkpoint_size(h) >= size, True)
            status, _, body = h.get(tile_path(0, 0, size % TILE))
            self.assertEqual(status, 200, f"{role}: {body}")
            status, _, body = h.get(tile_path("entries", 0, size % TILE))
            self.assertEqual(status, 403, f"{role}: {body}")
            self.assertIn(b"may not call GET /tile/entries/<N>", body)
            status, _, body = h.get("/metrics")
            self.assertEqual(status, 200, f"{role}: {body}")
        # The denials were counted.
        _, _, body = regulator.get("/metrics")
        self.assertGreaterEqual(
            parse_metrics(body.decode())[("ledger_requests_refused_total",
                                          'reason="denied"')], 3)

    def test_a_client_without_a_certificate_fails_the_handshake(self):
        h = self.client(None)
        with self.assertRaises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            h.get("/checkpoint")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--source", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
