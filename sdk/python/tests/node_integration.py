#!/usr/bin/env python3
"""Cross-language test of the Python SDK against a real ledger-node.

Starts ledger-node on a loopback port (first plaintext, then mutual TLS
with deploy/dev-ca.sh's certificates), registers an emitter key made by
`ledgerctl keygen`, and checks that:

- events signed in Python, alone and as a batch, are accepted, and sending
  them again yields the same entries marked duplicate (idempotency), while
  another event under a used event_id is refused;
- receipts the node returns for them verify in Python and with
  `ledger-verify proof`, with and without key evidence;
- receipts written by `ledgerctl prove` (C++), for Python-signed and for
  ledgerctl-signed entries, verify in Python;
- tampered receipts are refused by both verifiers.

No sleeps: the node's start is awaited by reading its output with a
deadline, and receipts wait for their checkpoint inside the node.

  node_integration.py --build BUILD_DIR --source SOURCE_DIR
"""

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

import annotation_ledger as al
from annotation_ledger import receipt as receipt_mod
from annotation_ledger import signing

ARGS = None
TENANT = "acme-ai"
PRODUCER = "sdk-test"


class Node:
    """A ledger-node process; `address` once it listens."""

    def __init__(self, build, data, log, extra_args):
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(build, "node", "ledger-node"), "--data", data,
             "--listen", "127.0.0.1:0", *extra_args],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self.address = self._await_listening(deadline_s=120)

    def _await_listening(self, deadline_s):
        end = time.monotonic() + deadline_s
        buf = b""
        fd = self.proc.stdout.fileno()
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], end - time.monotonic())
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break  # The node exited.
            buf += chunk
            for line in buf.split(b"\n")[:-1]:
                if line.startswith(b"listening on "):
                    return line[len(b"listening on "):].decode().strip()
        self.stop()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"ledger-node did not report 'listening on' within "
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


def ledger_verify(*args):
    return run([os.path.join(ARGS.build, "tools", "ledger-verify",
                             "ledger-verify"), *args], check=False)


def make_event(n, now_ns, **kw):
    fields = dict(
        event_id=al.new_event_id(), type="annotation.created",
        occurred_at_ns=now_ns + n, producer=PRODUCER + "/1.0", tenant=TENANT,
        project="street-scenes",
        actor=al.Actor(al.ACTOR_HUMAN, f"user:{n % 3}", "annotator"),
        subjects=[al.Ref(al.ITEM, f"item:{n}", "v1", bytes([n % 256]) * 32, 1),
                  al.Ref(al.ANNOTATION, f"annotation:{n}", "r1")],
        inputs=[al.Ref(al.DATASET, "dataset:raw", "2026-01", None, 1000)],
        attributes={"label": "car", "label.zh": "\u6c7d\u8f66",
                    "note": "tab\there\nline two"},
        source=al.Source("203.0.113.7", "sess-1", f"req-{n}"))
    fields.update(kw)
    return al.Event(**fields)


class PlaintextNodeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sdk_node.")
        cls.node = Node(ARGS.build, os.path.join(cls.dir, "node"),
                        os.path.join(cls.dir, "node.log"), ["--insecure-plaintext"])
        cls.net = ["--server", cls.node.address, "--insecure-plaintext"]
        cls.keys = os.path.join(cls.dir, "keys")
        os.makedirs(cls.keys)
        ctl("keygen", "--name", "sdk-emitter", "--out", cls.keys)
        ctl(*cls.net, "register-key", "--pub",
            os.path.join(cls.keys, "sdk-emitter.pub"), "--tenant", TENANT,
            "--producer", PRODUCER)
        cls.vkeys = os.path.join(cls.dir, "log.vkeys")
        with open(cls.vkeys, "w") as f:
            f.write(ctl(*cls.net, "keys", "--note").stdout)
        cls.log_keys = al.read_verifier_keys(cls.vkeys)
        cls.emitter_pub = os.path.join(cls.keys, "sdk-emitter.pub")
        cls.emitter_keys = al.read_verifier_keys(cls.emitter_pub)
        cls.key = al.SigningKey.from_file(cls.keys)
        cls.client = al.Client(cls.node.address, insecure_plaintext=True)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.node.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def verify_both(self, receipt_text, name, expect_ok=True, check=None):
        """Verifies with Python and with ledger-verify; both must agree."""
        path = self.write(name, receipt_text)
        r = ledger_verify("proof", path, "--keys", self.vkeys, "--emitter-keys",
                          self.emitter_pub)
        if expect_ok:
            self.assertEqual(r.returncode, 0, f"ledger-verify: {r.stdout}{r.stderr}")
            return al.verify_receipt(receipt_text, self.log_keys, self.emitter_keys)
        self.assertEqual(r.returncode, 1, f"ledger-verify accepted {name}: {r.stdout}")
        with self.assertRaises(al.VerificationError) as cm:
            al.verify_receipt(receipt_text, self.log_keys, self.emitter_keys)
        if check:
            self.assertEqual(cm.exception.check, check, str(cm.exception))
        return None

    def test_single_event_append_is_idempotent_and_verifies(self):
        now = time.time_ns()
        event = make_event(1, now)
        ref = self.client.append(event, self.key)
        self.assertFalse(ref.duplicate)
        self.assertEqual(ref.event_id, event.event_id)
        self.assertGreaterEqual(ref.index, 3)  # genesis, cosigner, emitter key
        # A retry of the same event (what the client does on UNAVAILABLE)
        # gives the same entry.
        again = self.client.append(event, self.key)
        self.assertTrue(again.duplicate)
        self.assertEqual((again.index, again.leaf_hash), (ref.index, ref.leaf_hash))
        # The same id with other content is refused, naming the entry.
        other = make_event(1, now, event_id=event.event_id, purpose="changed")
        with self.assertRaises(al.AppendError) as cm:
            self.client.append(other, self.key)
        self.assertEqual(cm.exception.code, grpc.StatusCode.ALREADY_EXISTS)

        receipt = self.client.get_receipt(index=ref.index, verify_with=self.log_keys)
        v = self.verify_both(receipt.tlog_proof, "single.tlog-proof")
        self.assertEqual(v.leaf_hash, ref.leaf_hash)
        # The node stored exactly the bytes Python signed.
        self.assertEqual(v.entry.event_bytes, al.encode_event(event))
        self.assertEqual(v.event, event)
        self.assertEqual(v.emitter_signature, "verified (trusted emitter key)")
        by_id = self.client.get_receipt(tenant=TENANT, event_id=event.event_id)
        self.assertEqual(by_id.tlog_proof, receipt.tlog_proof)

    def test_batch_append_is_idempotent_and_verifies(self):
        now = time.time_ns()
        events = [make_event(n, now) for n in range(10, 17)]
        batch = self.key.sign_batch(events)
        refs = self.client.append_batch(batch)
        self.assertEqual([r.event_id for r in refs], [e.event_id for e in events])
        indexes = [r.index for r in refs]
        self.assertEqual(indexes, list(range(indexes[0], indexes[0] + 7)))
        self.assertFalse(any(r.duplicate for r in refs))
        again = self.client.append_batch(events, self.key)
        self.assertTrue(all(r.duplicate for r in again))
        self.assertEqual([r.index for r in again], indexes)

        for i in (0, 3, 6):
            r = self.client.get_receipt(index=indexes[i])
            v = self.verify_both(r.tlog_proof, f"batch{i}.tlog-proof")
            self.assertEqual(v.entry.emitter.batch_size, 7)
            self.assertEqual(v.entry.emitter.batch_index, i)
            self.assertEqual(v.entry.emitter.batch_root, batch.root)
            self.assertEqual(v.entry.emitter.audit_path, batch.audit_path(i))
            self.assertEqual(v.entry.emitter.signature, batch.signature)
            # With key evidence: no emitter key needed by either verifier.
            r = self.client.get_receipt(index=indexes[i], key_evidence=True)
            path = self.write(f"batch{i}.evidence.tlog-proof", r.tlog_proof)
            cpp = ledger_verify("proof", path, "--keys", self.vkeys)
            self.assertEqual(cpp.returncode, 0, cpp.stdout + cpp.stderr)
            v = al.verify_receipt(r.tlog_proof, self.log_keys)
            self.assertEqual(v.emitter_signature, "verified (key from its registration)")
            self.assertEqual(v.emitter_key.public_key, self.key.public_key)
            self.assertEqual(v.emitter_key.tenant, TENANT)
            self.assertEqual(v.emitter_key.producer, PRODUCER)

    def test_invalid_event_is_refused_with_the_field(self):
        bad = make_event(30, time.time_ns(), type="no.such_type")
        with self.assertRaises(al.AppendError) as cm:
            self.client.append(bad, self.key)
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("type", cm.exception.details)
        self.assertEqual(cm.exception.attempts, 1)
        # The node's google.rpc.BadRequest details name the field of the
        # request: of AppendRequest for one event, of the batch's events.
        self.assertEqual(cm.exception.field_violations, [
            al.FieldViolation("event.type", "unknown event type 'no.such_type'")])
        events = [make_event(32 + i, time.time_ns()) for i in range(4)]
        events[2].subjects[1] = al.Ref(al.ANNOTATION, "", "r1")
        with self.assertRaises(al.AppendError) as cm:
            self.client.append_batch(events, self.key)
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(cm.exception.field_violations, [
            al.FieldViolation("events[2].subjects[1].id", "must not be empty")])
        # A key the ledger never registered.
        stranger = al.SigningKey(os.urandom(32), "stranger")
        with self.assertRaises(al.AppendError) as cm:
            self.client.append(make_event(31, time.time_ns()), stranger)
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn(stranger.key_id.hex()[:8], cm.exception.details)

    def test_receipts_made_by_ledgerctl_verify_in_python(self):
        # Python-signed entry, proven by ledgerctl.
        ref = self.client.append(make_event(40, time.time_ns()), self.key)
        # ledgerctl-signed entries.
        events = ctl("gen-events", "--count", "5", "--tenant", TENANT, "--seed", "3",
                     "--producer", PRODUCER + "/2.0").stdout
        lines = ctl(*self.net, "append", "--emitter-key", self.keys, "--file",
                    self.write("events.jsonl", events)).stdout.strip().split("\n")
        cpp_index = json.loads(lines[-1])["index"]
        for index, evidence in ((ref.index, False), (cpp_index, False),
                                (cpp_index, True), (1, False)):
            path = os.path.join(self.dir, f"ctl{index}{evidence}.tlog-proof")
            ctl(*self.net, "prove", "--index", str(index), "--out", path,
                *(["--key-evidence"] if evidence else []))
            with open(path, encoding="utf-8") as f:
                text = f.read()
            v = al.verify_receipt(text, self.log_keys,
                                  self.emitter_keys if index > 2 else ())
            self.assertEqual(v.index, index)
            self.assertTrue(v.emitter_signature.startswith("verified"),
                            v.emitter_signature)
        # The receipt from ledgerctl is the one the Python client gets.
        path = os.path.join(self.dir, f"ctl{ref.index}False.tlog-proof")
        with open(path, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.client.get_receipt(index=ref.index).tlog_proof)

    def test_tampered_receipts_are_refused_by_both(self):
        ref = self.client.append(make_event(50, time.time_ns()), self.key)
        good = self.client.get_receipt(index=ref.index).tlog_proof
        lines = good.split("\n")
        self.assertEqual(lines[0], "c2sp.org/tlog-proof@v1")
        proof = receipt_mod.parse_tlog_proof(good)
        self.assertGreater(len(proof.proof), 0)

        def with_proof(**changes):
            fields = dict(extra=proof.extra, index=proof.index, proof=proof.proof,
                          checkpoint=proof.checkpoint)
            fields.update(changes)
            return receipt_mod.format_tlog_proof(receipt_mod.TlogProof(**fields))

        flipped = bytearray(proof.proof[0])
        flipped[0] ^= 1
        self.verify_both(with_proof(proof=[bytes(flipped)] + proof.proof[1:]),
                         "bad-hash.tlog-proof", False, "inclusion")
        entry = bytearray(proof.extra)
        entry[-1] ^= 1
        self.verify_both(with_proof(extra=bytes(entry)), "bad-entry.tlog-proof",
                         False, "inclusion")
        self.verify_both(with_proof(index=proof.index - 1), "bad-index.tlog-proof",
                         False, "inclusion")
        cp_lines = proof.checkpoint.split("\n")
        root = signing.b64decode_strict(cp_lines[2], "root")
        cp_lines[2] = signing.b64encode(bytes([root[0] ^ 1]) + root[1:])
        self.verify_both(with_proof(checkpoint="\n".join(cp_lines)),
                         "bad-checkpoint.tlog-proof", False, "checkpoint")
        # Another key than the one that signed: the emitter check fails.
        other = al.SigningKey(os.urandom(32), "other").verifier_key()
        with self.assertRaises(al.VerificationError) as cm:
            al.verify_receipt(good, self.log_keys, [other])
        self.assertEqual(cm.exception.check, "emitter")


class MutualTlsNodeTest(unittest.TestCase):
    """The client's mTLS options against a node with an access policy."""

    def test_append_and_prove_over_mutual_tls(self):
        d = tempfile.mkdtemp(prefix="sdk_tls.")
        self.addCleanup(shutil.rmtree, d, True)
        tls = os.path.join(d, "tls")
        run(["bash", os.path.join(ARGS.source, "deploy", "dev-ca.sh"), "--out", tls,
             "--node", "node-1", "--tenant", TENANT, "--quiet"])
        config = os.path.join(d, "node.toml")
        with open(config, "w") as f:
            f.write('[tls]\nca_file = "tls/ca.pem"\ncert_file = "tls/node/node-1.pem"\n'
                    'key_file = "tls/node/node-1.key"\n[access]\n'
                    'policy_file = "tls/access-policy.toml"\n')
        node = Node(ARGS.build, os.path.join(d, "node"), os.path.join(d, "node.log"),
                    ["--config", config])
        self.addCleanup(node.stop)
        keys = os.path.join(d, "keys")
        os.makedirs(keys)
        ctl("keygen", "--name", "tls-emitter", "--out", keys)
        admin = ["--profile", os.path.join(tls, "admin.profile"),
                 "--server", node.address]
        ctl(*admin, "register-key", "--pub", os.path.join(keys, "tls-emitter.pub"),
            "--tenant", TENANT, "--producer", PRODUCER)
        key = al.SigningKey.from_file(os.path.join(keys, "tls-emitter.key"))

        # Explicit files, as ledgerctl's --ca/--cert/--key.
        with al.Client(node.address, ca=os.path.join(tls, "ca.pem"),
                       cert=os.path.join(tls, "emitter.pem"),
                       key=os.path.join(tls, "emitter.key")) as emitter:
            ref = emitter.append(make_event(1, time.time_ns()), key)
        self.assertFalse(ref.duplicate)
        # A profile (its address is dev-ca's default; the argument wins).
        with al.Client(node.address,
                       profile=os.path.join(tls, "regulator.profile")) as reader:
            log_keys = reader.node_verifier_keys()
            receipt = reader.get_receipt(index=ref.index, verify_with=log_keys)
        v = al.verify_receipt(receipt.tlog_proof, log_keys, [key.verifier_key()])
        self.assertEqual(v.emitter_signature, "verified (trusted emitter key)")
        # Files are checked before connecting: a private key readable by
        # others, and a key that is not the certificate's.
        loose = os.path.join(d, "loose.key")
        shutil.copy(os.path.join(tls, "emitter.key"), loose)
        os.chmod(loose, 0o644)
        with self.assertRaisesRegex(PermissionError, "chmod 600"):
            al.Client(node.address, ca=os.path.join(tls, "ca.pem"),
                      cert=os.path.join(tls, "emitter.pem"), key=loose)
        with self.assertRaisesRegex(al.MalformedError, "does not belong"):
            al.Client(node.address, ca=os.path.join(tls, "ca.pem"),
                      cert=os.path.join(tls, "emitter.pem"),
                      key=os.path.join(tls, "admin.key"))
        # An emitter of another tenant is refused by the node's policy.
        with al.Client(node.address, profile=os.path.join(tls, "emitter.profile")) as c:
            foreign = make_event(2, time.time_ns(), tenant="other-tenant")
            with self.assertRaises(al.AppendError) as cm:
                c.append(foreign, key)
            self.assertEqual(cm.exception.code, grpc.StatusCode.PERMISSION_DENIED)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--source", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
