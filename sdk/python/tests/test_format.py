"""The SDK's encoding, signing and verification against the vectors of
ledger/FORMAT.md, read from that file (format_vectors.py). The events are
written here from the field values FORMAT.md section 11 describes, so the
expected bytes come from the document, not from the code under test."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import annotation_ledger as al  # noqa: E402
from annotation_ledger import entry as entry_mod  # noqa: E402
from annotation_ledger import receipt, rfc6962, signing  # noqa: E402
from format_vectors import load_vectors  # noqa: E402

V = load_vectors()
SEED_EMITTER = bytes(range(0x01, 0x21))
SEED_NODE = bytes(range(0x21, 0x41))
SEED_COSIGNER = bytes(range(0x41, 0x61))
SEED_SECOND = bytes(range(0x61, 0x81))
ORIGIN = "annotation-ledger.local/0a1b2c3d"


def minimal_event():
    return al.Event(
        event_id="00000000-0000-4000-8000-000000000001", type="item.viewed",
        schema_version=1, occurred_at_ns=1767225600000000000, producer="p",
        tenant="t", actor=al.Actor(al.ACTOR_SERVICE, "svc"))


def full_event():
    return al.Event(
        event_id="0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968",
        type="annotation.submitted", schema_version=3,
        occurred_at_ns=1767225600123456789, producer="label-studio/1.13.1",
        tenant="acme-ai", project="street-scenes",
        actor=al.Actor(al.ACTOR_HUMAN, "user:4711", "annotator"),
        on_behalf_of="vendor:datacorp",
        source=al.Source("203.0.113.7", "sess-9f2c", "req-000123"),
        subjects=[
            al.Ref(al.ITEM, "item:street/000042", "v3",
                   hashlib.sha256(b"item 42").digest(), 1),
            al.Ref(al.ANNOTATION, "annotation:88731", "r2",
                   hashlib.sha256(b"annotation 88731 r2").digest(), 0),
        ],
        inputs=[al.Ref(al.DATASET, "dataset:street-raw", "2025-12",
                       hashlib.sha256(b"street-raw 2025-12").digest(), 120000)],
        outputs=[al.Ref(al.DATASET, "dataset:street-labeled", "2026-01", None, 1)],
        outcome=al.Outcome(al.FAILURE, "qa_locked"), region="cn-north-1",
        purpose="model-training", run_id="run-2026-01-01-a",
        parent_run_id="pipeline-77",
        # Given out of order: the encoding sorts by key bytes.
        attributes={"note": "occluded\tpartly\nsee frame 12",
                    "label.zh": "\u6c7d\u8f66", "label": "car"},
        payload=bytes(range(8)))


class EventEncodingTest(unittest.TestCase):
    def test_minimal_event_matches_vector(self):
        self.assertEqual(al.encode_event(minimal_event()).hex(),
                         V["event.minimal.bytes"].hex())
        self.assertEqual(rfc6962.leaf_hash(V["event.minimal.bytes"]),
                         V["event.minimal.leaf_hash"])

    def test_full_event_matches_vector(self):
        self.assertEqual(al.encode_event(full_event()).hex(),
                         V["event.full.bytes"].hex())
        self.assertEqual(rfc6962.leaf_hash(al.encode_event(full_event())),
                         V["event.full.leaf_hash"])

    def test_uppercase_uuid_encodes_like_lowercase(self):
        e = full_event()
        e.event_id = e.event_id.upper()
        self.assertEqual(al.encode_event(e), V["event.full.bytes"])

    def test_every_event_vector_decodes_and_reencodes(self):
        names = [n for n in V if n.endswith("event.bytes") or
                 n in ("event.minimal.bytes", "event.full.bytes",
                       "event.review.bytes")]
        self.assertGreaterEqual(len(names), 8)
        for name in names:
            with self.subTest(name):
                event = al.decode_event(V[name])
                self.assertEqual(al.encode_event(event), V[name])
                leaf = name[:-len("bytes")] + "leaf_hash"
                self.assertEqual(rfc6962.leaf_hash(V[name]), V[leaf])

    def test_decoded_full_event_has_the_described_fields(self):
        self.assertEqual(al.decode_event(V["event.full.bytes"]), full_event())

    def test_decoding_is_strict(self):
        good = V["event.minimal.bytes"]
        cases = {
            "truncated": good[:-1],
            "trailing": good + b"\x00",
            "magic": b"EW" + good[2:],
            "version": good[:2] + b"\x02" + good[3:],
        }
        # actor.kind sits after magic(3) id(16) type(4+11) schema(4) time(8)
        # producer(5) tenant(5) project(4).
        kind_at = 3 + 16 + 15 + 4 + 8 + 5 + 5 + 4
        self.assertEqual(good[kind_at], 2)
        cases["actor.kind"] = good[:kind_at] + b"\x04" + good[kind_at + 1:]
        for what, data in cases.items():
            with self.subTest(what):
                with self.assertRaises(al.MalformedError):
                    al.decode_event(data)

    def test_unencodable_fields_are_named(self):
        for mutate, field in [
                (lambda e: setattr(e, "event_id", "not-a-uuid"), "event_id"),
                (lambda e: setattr(e.actor, "kind", 0), "actor.kind"),
                (lambda e: setattr(e, "schema_version", -1), "schema_version"),
                (lambda e: e.subjects.append(al.Ref(al.ITEM, "x", "", b"short")),
                 "subjects[0].content_sha256"),
                (lambda e: setattr(e.outcome, "status", 3), "outcome.status")]:
            e = minimal_event()
            mutate(e)
            with self.subTest(field):
                with self.assertRaisesRegex(al.MalformedError, "^" + field.replace(
                        "[", r"\[").replace("]", r"\]")):
                    al.encode_event(e)


class KeyAndSignatureTest(unittest.TestCase):
    def test_keys_match_vectors(self):
        for who, seed in (("emitter", SEED_EMITTER), ("node", SEED_NODE),
                          ("cosigner", SEED_COSIGNER)):
            with self.subTest(who):
                key = al.SigningKey(seed)
                self.assertEqual(key.public_key, V[f"{who}.public_key"])
                self.assertEqual(key.key_id, V[f"{who}.key_id"])
                vkey = al.parse_verifier_keys(V[f"{who}.vkey"].decode())[0]
                self.assertEqual(vkey.public_key, key.public_key)
                self.assertEqual(vkey.key_id.to_bytes(4, "big"),
                                 V[f"{who}.note_key_id"])
                self.assertEqual(vkey.text(), V[f"{who}.vkey"].decode())
        self.assertEqual(al.SigningKey(SEED_SECOND).key_id,
                         V["second_emitter.key_id"])

    def test_signer_key_text_parses_to_the_emitter_key(self):
        key = al.SigningKey.from_text(V["emitter.skey"].decode())
        self.assertEqual(key.name, "labelstudio")
        self.assertEqual(key.public_key, V["emitter.public_key"])
        self.assertEqual(key.verifier_key().text(), V["emitter.vkey"].decode())

    def test_bad_verifier_keys_are_refused(self):
        good = V["emitter.vkey"].decode()
        for bad, why in [(good.replace("6e07aab7", "6e07aab8"), "does not match"),
                         ("labelstudio+6e07aab7", "form"),
                         (good[:-2], "base64"),
                         ("bad name" + good[len("labelstudio"):], "key name")]:
            with self.subTest(why):
                with self.assertRaisesRegex(al.MalformedError, why):
                    signing.parse_verifier_key(bad)

    def test_batch_of_three_matches_vectors(self):
        key = al.SigningKey(SEED_EMITTER, "labelstudio")
        events = [full_event(), minimal_event(),
                  al.decode_event(V["event.review.bytes"])]
        batch = key.sign_batch(events)
        self.assertEqual(batch.event_bytes[2], V["event.review.bytes"])
        self.assertEqual(batch.root, V["batch.root"])
        self.assertEqual(signing.batch_message(3, batch.root), V["batch.message"])
        self.assertEqual(batch.signature, V["batch.signature"])
        for i in range(3):
            self.assertEqual(b"".join(batch.audit_path(i)),
                             V[f"batch.audit_path.{i}"])

    def test_single_event_is_a_batch_of_one(self):
        key = al.SigningKey(SEED_EMITTER)
        batch = key.sign_batch([minimal_event()])
        self.assertEqual(batch.root, V["event.minimal.leaf_hash"])
        signing.verify_batch_signature(key.public_key, 1, batch.root,
                                       batch.signature)
        with self.assertRaises(al.VerificationError):
            signing.verify_batch_signature(key.public_key, 2, batch.root,
                                           batch.signature)

    def test_signature_with_s_above_group_order_is_refused(self):
        key = al.SigningKey(SEED_EMITTER)
        msg = signing.batch_message(3, V["batch.root"])
        sig = V["batch.signature"]
        self.assertTrue(signing.ed25519_verify(key.public_key, msg, sig))
        # S + L encodes the same scalar mod L; a strict verifier refuses it.
        order = 2**252 + 27742317777372353535851937790883648493
        s = int.from_bytes(sig[32:], "little") + order
        malleated = sig[:32] + s.to_bytes(32, "little")
        self.assertFalse(signing.ed25519_verify(key.public_key, msg, malleated))


class EntryTest(unittest.TestCase):
    def test_entry_vectors_decode_and_reencode(self):
        for name in ("entry.example", "genesis.entry", "cosigner.entry"):
            with self.subTest(name):
                data = V[name + ".bytes"]
                entry = al.decode_entry(data)
                self.assertEqual(entry_mod.encode_entry(entry), data)
                leaf = rfc6962.leaf_hash(data)
                self.assertEqual(leaf, V[name + ".leaf_hash"])
                self.assertEqual(
                    hashlib.sha256(entry.prev_chain_hash + leaf).digest(),
                    V[name + ".chain_hash"])

    def test_example_entry_fields(self):
        entry = al.decode_entry(V["entry.example.bytes"])
        self.assertEqual(entry.index, 42)
        self.assertEqual(entry.event_bytes, V["event.full.bytes"])
        self.assertEqual(entry.emitter.key_id, V["emitter.key_id"])
        self.assertEqual(entry.emitter.batch_root, V["batch.root"])
        self.assertEqual([b.previous for b in entry.back_links],
                         [41, 17, entry_mod.NO_PREVIOUS, 3, entry_mod.NO_PREVIOUS])
        al.verify_entry_signature(entry, V["emitter.public_key"])
        with self.assertRaisesRegex(al.VerificationError, "emitter.key_id"):
            al.verify_entry_signature(entry, V["node.public_key"])

    def test_audit_path_count_is_checked(self):
        data = bytearray(V["genesis.entry.bytes"])
        # A batch_size of 2 with index 0 needs one audit hash; the entry has 0.
        entry = al.decode_entry(bytes(data))
        offset = data.find(entry.emitter.key_id) + 32
        data[offset:offset + 4] = (2).to_bytes(4, "big")
        with self.assertRaisesRegex(al.MalformedError, "audit_path"):
            al.decode_entry(bytes(data))

    def test_rfc6962_tree_matches_recursive_definition(self):
        # Computed independently by the recursion of RFC 6962 section 2.1.
        def mth(leaves):
            if len(leaves) == 1:
                return leaves[0]
            k = 1 << ((len(leaves) - 1).bit_length() - 1)
            return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()
        for n in range(1, 40):
            leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
            want = mth(leaves)
            self.assertEqual(rfc6962.root(leaves), want)
            for i in range(n):
                path = rfc6962.inclusion_path(i, leaves)
                self.assertEqual(len(path), rfc6962.path_length(i, n))
                self.assertEqual(
                    rfc6962.root_from_inclusion(leaves[i], i, n, path), want)


def log_keys():
    return al.parse_verifier_keys(
        V["node.vkey"].decode() + "\n" + V["cosigner.vkey"].decode() + "\n")


class CheckpointTest(unittest.TestCase):
    def test_checkpoint_vector_verifies(self):
        cp = al.open_checkpoint(V["checkpoint.note"].decode(), log_keys(), ORIGIN)
        self.assertEqual(cp.origin, ORIGIN)
        self.assertEqual(cp.size, 2)
        self.assertEqual(cp.root, V["checkpoint.root"])
        self.assertEqual(cp.root, rfc6962.root([V["genesis.entry.leaf_hash"],
                                                V["cosigner.entry.leaf_hash"]]))
        self.assertEqual(cp.cosigned_at, [1767225601])
        self.assertEqual(len(cp.verified_by), 2)

    def test_log_signature_is_required(self):
        cosigner_only = [k for k in log_keys() if k.sig_type == 4]
        with self.assertRaisesRegex(al.VerificationError, "named after its origin"):
            al.open_checkpoint(V["checkpoint.note"].decode(), cosigner_only)
        with self.assertRaisesRegex(al.VerificationError, "no signature from a trusted"):
            al.open_checkpoint(V["checkpoint.note"].decode(),
                               al.parse_verifier_keys(V["emitter.vkey"].decode()))

    def test_wrong_origin_is_refused(self):
        with self.assertRaisesRegex(al.VerificationError, "expected 'other'"):
            al.open_checkpoint(V["checkpoint.note"].decode(), log_keys(), "other")

    def test_altered_checkpoint_is_refused(self):
        note = V["checkpoint.note"].decode()
        altered = note.replace("\n2\n", "\n3\n", 1)
        with self.assertRaisesRegex(al.VerificationError, "does not verify"):
            al.open_checkpoint(altered, log_keys())
        with self.assertRaisesRegex(al.MalformedError, "blank line"):
            al.open_checkpoint(note.replace("\n\n", "\n"), log_keys())


def receipt_text(extra, index, proof_hashes, note):
    return receipt.format_tlog_proof(receipt.TlogProof(extra, index, proof_hashes,
                                                       note))


class ReceiptTest(unittest.TestCase):
    """Receipts assembled from C++-made bytes: the entries, proofs and
    checkpoints of FORMAT.md section 11, which the C++ checks too."""

    def plain(self):
        return receipt_text(V["cosigner.entry.bytes"], 1,
                            [V["genesis.entry.leaf_hash"]],
                            V["checkpoint.note"].decode())

    def keylog(self):
        p = V["keylog.entry3.inclusion_proof"]
        return receipt_text(V["keylog.receipt_extra"], 3,
                            [p[i:i + 32] for i in range(0, len(p), 32)],
                            V["keylog.checkpoint.note"].decode())

    def test_plain_receipt_verifies(self):
        r = al.verify_receipt(self.plain(), log_keys(), origin=ORIGIN)
        self.assertEqual(r.index, 1)
        self.assertEqual(r.leaf_hash, V["cosigner.entry.leaf_hash"])
        self.assertEqual(r.event.type, "key.registered")
        # A node-signed entry verifies with the log key itself.
        self.assertEqual(r.emitter_signature, "verified (trusted emitter key)")

    def test_receipt_with_key_evidence_verifies(self):
        r = al.verify_receipt(self.keylog(), log_keys(), origin=ORIGIN)
        self.assertEqual(r.index, 3)
        self.assertEqual(r.leaf_hash, V["keylog.entry3.leaf_hash"])
        self.assertEqual(r.event.event_id, "0f8e3a52-7c1d-4b9e-a6f0-1d2c3b4a5968")
        self.assertEqual(r.emitter_signature, "verified (key from its registration)")
        self.assertEqual(r.emitter_key.public_key, V["emitter.public_key"])
        self.assertEqual(r.emitter_key.tenant, "acme-ai")
        self.assertEqual(r.emitter_key.producer, "label-studio")
        self.assertEqual(r.emitter_key.registered_at, 2)
        self.assertEqual(r.emitter_key.rotated_at, 4)
        self.assertEqual(r.emitter_key.registered_by,
                         "spiffe://annotation-ledger/admin/ops")

    def test_trusted_emitter_keys_are_checked(self):
        emitter = al.parse_verifier_keys(V["emitter.vkey"].decode())
        r = al.verify_receipt(self.keylog(), log_keys(), emitter)
        self.assertEqual(r.emitter_signature, "verified (key from its registration)")
        second = al.SigningKey(SEED_SECOND, "labelstudio-2").verifier_key()
        # Without key evidence an entry by an untrusted key is refused.
        entry3 = receipt.decode_receipt_extra(V["keylog.receipt_extra"])[0]
        p = V["keylog.entry3.inclusion_proof"]
        plain3 = receipt_text(entry3, 3, [p[i:i + 32] for i in range(0, len(p), 32)],
                              V["keylog.checkpoint.note"].decode())
        self.assertEqual(al.verify_receipt(plain3, log_keys(), emitter).emitter_signature,
                         "verified (trusted emitter key)")
        with self.assertRaisesRegex(al.VerificationError, "^emitter: .*not among"):
            al.verify_receipt(plain3, log_keys(), [second])

    def test_structure_check_needs_no_key(self):
        self.assertEqual(receipt.check_receipt_structure(self.plain()).index, 1)
        self.assertEqual(receipt.check_receipt_structure(self.keylog()).index, 3)
        bad = receipt_text(V["cosigner.entry.bytes"], 1, [bytes(32)],
                           V["checkpoint.note"].decode())
        with self.assertRaisesRegex(al.VerificationError, "^inclusion: "):
            receipt.check_receipt_structure(bad)

    def assertRejected(self, text, check, pattern=""):
        with self.assertRaisesRegex(al.VerificationError, f"^{check}: .*{pattern}") as cm:
            al.verify_receipt(text, log_keys())
        self.assertEqual(cm.exception.check, check)

    def test_tampered_receipts_are_rejected(self):
        good = self.plain()
        lines = good.split("\n")
        self.assertTrue(lines[1].startswith("extra "))
        # A flipped bit in the entry bytes: the leaf no longer leads to the root.
        entry = bytearray(V["cosigner.entry.bytes"])
        entry[-1] ^= 1
        self.assertRejected(receipt_text(bytes(entry), 1, [V["genesis.entry.leaf_hash"]],
                                         V["checkpoint.note"].decode()),
                            "inclusion", "leads to root")
        # A changed proof hash.
        self.assertRejected(receipt_text(V["cosigner.entry.bytes"], 1, [bytes(32)],
                                         V["checkpoint.note"].decode()), "inclusion")
        # A proof of the wrong length, an index beyond the tree.
        self.assertRejected(receipt_text(V["cosigner.entry.bytes"], 1, [],
                                         V["checkpoint.note"].decode()),
                            "inclusion", "needs 1")
        self.assertRejected(receipt_text(V["cosigner.entry.bytes"], 2,
                                         [V["genesis.entry.leaf_hash"]],
                                         V["checkpoint.note"].decode()),
                            "inclusion", "not below the tree size 2")
        # Entry 0 proven as index 0 with entry 1's bytes swapped in: the leaf
        # is wrong; entry 0's own bytes at index 1 fail inclusion too.
        self.assertRejected(receipt_text(V["genesis.entry.bytes"], 1,
                                         [V["cosigner.entry.leaf_hash"]],
                                         V["checkpoint.note"].decode()), "inclusion")
        # A re-signed-looking checkpoint: the size changed under the signature.
        self.assertRejected(good.replace("\n2\nG47k", "\n3\nG47k"), "checkpoint",
                            "does not verify")
        # Syntax.
        self.assertRejected(good.replace("c2sp.org/tlog-proof@v1", "tlog-proof"),
                            "parse", "line 1")
        self.assertRejected(good.replace("index 1\n", "index 01\n"), "parse",
                            "leading zeros")
        self.assertRejected("\n".join(lines[:1] + lines[2:]), "entry", "no extra line")

    def test_tampered_key_evidence_is_rejected(self):
        good = self.keylog()
        extra = bytearray(V["keylog.receipt_extra"])
        entry3, keys = receipt.decode_receipt_extra(bytes(extra))
        self.assertEqual([k.index for k in keys], [2, 4])
        # Change a byte inside key entry 2 (its tenant): its inclusion fails.
        at = extra.find(b"acme-ai", len(entry3) + 10)
        self.assertGreater(at, len(entry3))
        extra[at] ^= 0x20
        text = good.replace(good.split("\n")[1],
                            "extra " + signing.b64encode(bytes(extra)))
        self.assertRejected(text, "key_evidence", "leads to root")
        # Truncated container.
        text = good.replace(good.split("\n")[1], "extra " + signing.b64encode(
            V["keylog.receipt_extra"][:-1]))
        self.assertRejected(text, "entry", "truncated")


if __name__ == "__main__":
    unittest.main()
