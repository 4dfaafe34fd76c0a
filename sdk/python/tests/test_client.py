"""The client's retries, against an in-process Ingest server on a loopback
port that refuses calls the way a node does (RESOURCE_EXHAUSTED with
"grpc-retry-pushback-ms", UNAVAILABLE with "retry in N ms" in the message).
The client's waits go through an injected sleep that records them, so the
test takes no real time and checks the exact waits."""

import concurrent.futures
import os
import sys
import threading
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import annotation_ledger as al  # noqa: E402
from annotation_ledger import client as client_mod  # noqa: E402
from annotation_ledger_proto.ledger.v1 import (ingest_pb2, ingest_pb2_grpc,  # noqa: E402
                                               proof_pb2, proof_pb2_grpc)
from format_vectors import load_vectors  # noqa: E402

SEED = bytes(range(1, 33))
V = load_vectors()


def event(n=1):
    return al.Event(
        event_id=f"00000000-0000-4000-8000-{n:012d}", type="item.viewed",
        occurred_at_ns=1767225600123456789 + n, producer="sdk-test/1.0",
        tenant="acme-ai", actor=al.Actor(al.ACTOR_HUMAN, "user:1"),
        subjects=[al.Ref(al.ITEM, f"item:{n}", "", bytes(32), 1)],
        attributes={"b": "2", "a": "1"})


class FakeIngest(ingest_pb2_grpc.IngestServicer):
    """Answers each call with the next scripted refusal, then success."""

    def __init__(self, refusals):
        self.refusals = list(refusals)
        self.requests = []
        self.lock = threading.Lock()

    def _next(self, request, context):
        with self.lock:
            self.requests.append(request.SerializeToString())
            refusal = self.refusals.pop(0) if self.refusals else None
        if refusal is not None:
            code, details, pushback, *more = refusal
            metadata = list(more[0]) if more else []
            if pushback is not None:
                metadata.append(("grpc-retry-pushback-ms", pushback))
            if metadata:
                context.set_trailing_metadata(tuple(metadata))
            context.abort(code, details)

    def Append(self, request, context):
        self._next(request, context)
        return ingest_pb2.AppendResponse(entry=ingest_pb2.EntryRef(
            index=7, leaf_hash=b"\x01" * 32, event_id=request.event.event_id,
            duplicate=len(self.requests) > 1))

    def AppendBatch(self, request, context):
        self._next(request, context)
        return ingest_pb2.AppendBatchResponse(entries=[
            ingest_pb2.EntryRef(index=10 + i, event_id=e.event_id)
            for i, e in enumerate(request.events)])


class ClientRetryTest(unittest.TestCase):
    def start(self, refusals, policy=None):
        self.servicer = FakeIngest(refusals)
        self.server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
        ingest_pb2_grpc.add_IngestServicer_to_server(self.servicer, self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.addCleanup(self.server.stop, None)
        self.waits = []
        self.client = al.Client(f"127.0.0.1:{port}", insecure_plaintext=True,
                                retry=policy, sleep=self.waits.append)
        self.addCleanup(self.client.close)

    def test_pushback_hints_are_honoured_and_the_same_request_resent(self):
        self.start([
            (grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full; retry in 250 ms", "250"),
            (grpc.StatusCode.UNAVAILABLE, "rate limit; retry in 40 ms", None),
        ])
        key = al.SigningKey(SEED)
        ref = self.client.append(event(), key)
        self.assertEqual(ref.index, 7)
        self.assertEqual(ref.event_id, event().event_id)
        # The metadata wins over the message; the message alone is read too.
        self.assertEqual(self.waits, [0.25, 0.04])
        self.assertEqual(len(self.servicer.requests), 3)
        self.assertEqual(len(set(self.servicer.requests)), 1)

    def test_backoff_without_hint_is_bounded_and_grows(self):
        policy = al.RetryPolicy(max_attempts=5, initial_backoff_s=0.1,
                                max_backoff_s=0.3)
        self.start([(grpc.StatusCode.UNAVAILABLE, "starting", None)] * 4, policy)
        refs = self.client.append_batch([event(1), event(2)], al.SigningKey(SEED))
        self.assertEqual([r.index for r in refs], [10, 11])
        self.assertEqual(len(self.waits), 4)
        for n, wait in enumerate(self.waits):
            self.assertGreaterEqual(wait, 0)
            self.assertLessEqual(wait, min(0.3, 0.1 * 2 ** n))

    def test_gives_up_after_max_attempts(self):
        policy = al.RetryPolicy(max_attempts=3)
        self.start([(grpc.StatusCode.UNAVAILABLE, "down; retry in 5 ms", None)] * 5,
                   policy)
        with self.assertRaises(al.AppendError) as cm:
            self.client.append(event(), al.SigningKey(SEED))
        self.assertEqual(cm.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(self.waits, [0.005, 0.005])

    def test_invalid_argument_is_not_retried(self):
        self.start([(grpc.StatusCode.INVALID_ARGUMENT,
                     "events[0].type: unknown event type 'x.y'", None)])
        with self.assertRaisesRegex(al.AppendError, r"events\[0\]\.type") as cm:
            self.client.append(event(), al.SigningKey(SEED))
        self.assertEqual(cm.exception.attempts, 1)
        self.assertEqual(self.waits, [])

    def test_field_violations_come_from_the_status_details(self):
        # google.rpc.Status{code: 3, message, details: [Any{BadRequest{
        # field_violations: [{field, description}]}]}, encoded here by hand
        # from the published field numbers (not by the SDK's decoder).
        def string_field(number, data):
            assert len(data) < 128
            return bytes([number << 3 | 2, len(data)]) + data
        message = b"events[3].subjects[0].id: must not be empty"
        violation = (string_field(1, b"events[3].subjects[0].id") +
                     string_field(2, b"must not be empty"))
        bad_request = string_field(1, violation)
        any_message = (string_field(1, b"type.googleapis.com/google.rpc.BadRequest") +
                       string_field(2, bad_request))
        other = string_field(1, b"type.googleapis.com/google.rpc.DebugInfo")
        status = (bytes([1 << 3, 3]) + string_field(2, message) +
                  string_field(3, other) + string_field(3, any_message))
        self.start([(grpc.StatusCode.INVALID_ARGUMENT, message.decode(), None,
                     (("grpc-status-details-bin", status),))])
        with self.assertRaises(al.AppendError) as cm:
            self.client.append_batch([event(1), event(2)], al.SigningKey(SEED))
        self.assertEqual(cm.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(cm.exception.details, message.decode())
        self.assertEqual(cm.exception.field_violations, [
            al.FieldViolation("events[3].subjects[0].id", "must not be empty")])

    def test_no_or_damaged_details_give_no_violations(self):
        self.start([
            (grpc.StatusCode.INVALID_ARGUMENT, "events: must not be empty", None),
            (grpc.StatusCode.INVALID_ARGUMENT, "x", None,
             (("grpc-status-details-bin", b"\x1a\x09\x0a"),)),
        ])
        for _ in range(2):
            with self.assertRaises(al.AppendError) as cm:
                self.client.append(event(), al.SigningKey(SEED))
            self.assertEqual(cm.exception.field_violations, [])

    def test_deadline_bounds_the_waits(self):
        policy = al.RetryPolicy(deadline_s=1.0, max_hint_s=30)
        self.start([(grpc.StatusCode.RESOURCE_EXHAUSTED, "full", "5000")], policy)
        with self.assertRaises(al.AppendError) as cm:
            self.client.append(event(), al.SigningKey(SEED))
        self.assertEqual(cm.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(self.waits, [])


class FakeProof(proof_pb2_grpc.ProofServicer):
    """Answers GetReceipt with the parts of FORMAT.md's receipt for entry 1
    (no tlog_proof text), optionally with a damaged proof hash."""

    def __init__(self, damaged):
        self.damaged = damaged

    def GetReceipt(self, request, context):
        proof_hash = V["genesis.entry.leaf_hash"]
        if self.damaged:
            proof_hash = bytes(32)
        return proof_pb2.Receipt(
            index=1, entry=V["cosigner.entry.bytes"],
            proof=proof_pb2.InclusionProof(index=1, tree_size=2,
                                           hashes=[proof_hash]),
            checkpoint=proof_pb2.Checkpoint(note=V["checkpoint.note"].decode()))


class ClientReceiptTest(unittest.TestCase):
    def fetch(self, damaged, **kw):
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
        proof_pb2_grpc.add_ProofServicer_to_server(FakeProof(damaged), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(server.stop, None)
        with al.Client(f"127.0.0.1:{port}", insecure_plaintext=True) as c:
            return c.get_receipt(index=1, **kw)

    def test_receipt_text_is_built_from_parts_and_checked(self):
        r = self.fetch(False)
        self.assertTrue(r.tlog_proof.startswith("c2sp.org/tlog-proof@v1\nextra "))
        keys = al.parse_verifier_keys(V["node.vkey"].decode())
        self.assertEqual(al.verify_receipt(r.tlog_proof, keys).index, 1)
        self.assertEqual(self.fetch(False, verify_with=keys).tlog_proof, r.tlog_proof)
        with self.assertRaisesRegex(al.VerificationError, "^checkpoint: "):
            self.fetch(False, verify_with=al.parse_verifier_keys(
                V["emitter.vkey"].decode()))

    def test_damaged_receipt_is_refused(self):
        with self.assertRaisesRegex(al.VerificationError, "^inclusion: "):
            self.fetch(True)


class ProtoConversionTest(unittest.TestCase):
    def test_fields_carry_over(self):
        e = event(3)
        e.occurred_at_ns = -1  # before the epoch: seconds -1, nanos 999999999
        msg = client_mod.event_to_proto(e)
        self.assertEqual((msg.occurred_at.seconds, msg.occurred_at.nanos),
                         (-1, 999999999))
        self.assertEqual(msg.subjects[0].content_sha256, "00" * 32)
        self.assertEqual(dict(msg.attributes), {"a": "1", "b": "2"})
        self.assertEqual(msg.actor.kind, 1)

    def test_profile_and_flags(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "p.profile")
            with open(path, "w") as f:
                f.write('address = "127.0.0.1:1"\ninsecure_plaintext = true\n'
                        'ca = "ca.pem"\n')
            with self.assertRaisesRegex(al.MalformedError, "cannot be combined"):
                al.Client(profile=path)
            with open(path, "w") as f:
                f.write('address = "127.0.0.1:1"\ncolour = "red"\n')
            with self.assertRaisesRegex(al.MalformedError, "colour: unknown key"):
                al.Client(profile=path)
            with self.assertRaisesRegex(al.MalformedError, "missing: cert, key"):
                al.Client("127.0.0.1:1", ca=path)
            key = os.path.join(d, "k.key")
            with open(key, "w") as f:
                f.write("x")
            os.chmod(key, 0o644)
            with self.assertRaisesRegex(al.MalformedError, "not a PEM CA"):
                al.Client("127.0.0.1:1", ca=path, cert=path, key=key)


if __name__ == "__main__":
    unittest.main()
