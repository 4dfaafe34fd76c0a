"""Key evidence (FORMAT.md section 10.5) that a correct node never writes:
a small log built here, signed with the example node key, whose receipts
carry the key entries, so that the verifier's refusals can be seen. The
entries are built field by field from FORMAT.md sections 4, 8 and 9, the
checkpoint note by the signed-note rules of section 9.4."""

import base64
import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import annotation_ledger as al  # noqa: E402
from annotation_ledger import entry as entry_mod  # noqa: E402
from annotation_ledger import receipt, rfc6962  # noqa: E402

ORIGIN = "example.org/test-log"
NODE = al.SigningKey(bytes(range(0x21, 0x41)), ORIGIN)
EMITTER = al.SigningKey(bytes(range(0x01, 0x21)), "labelstudio")
T0 = 1767225600000000000


def key_event(n, type_, attributes, tenant="acme-ai"):
    return al.Event(event_id=f"00000000-0000-4000-8000-{n:012d}", type=type_,
                    occurred_at_ns=T0 + n, producer="annotation-ledger/0.1.0",
                    tenant=tenant, actor=al.Actor(al.ACTOR_SERVICE, "admin", "admin"),
                    attributes=attributes)


def registration(n, valid_until=None):
    attrs = {"key.algorithm": "ed25519", "key.id": EMITTER.key_id.hex(),
             "key.name": "labelstudio",
             "key.public_key": base64.b64encode(EMITTER.public_key).decode(),
             "key.role": "emitter", "key.tenant": "acme-ai",
             "key.producer": "label-studio", "key.valid_from": str(T0)}
    if valid_until is not None:
        attrs["key.valid_until"] = str(valid_until)
    return key_event(n, "key.registered", attrs)


def revocation(n):
    return key_event(n, "key.revoked", {"key.id": EMITTER.key_id.hex(),
                                        "key.reason": "compromised"})


def platform_event(n, **kw):
    fields = dict(event_id=f"00000000-0000-4000-8000-{n:012d}",
                  type="annotation.created", occurred_at_ns=T0 + n,
                  producer="label-studio/1.13.1", tenant="acme-ai",
                  actor=al.Actor(al.ACTOR_HUMAN, "user:1"))
    fields.update(kw)
    return al.Event(**fields)


class Log:
    """Entries appended in order, each a batch of one signed by its key."""

    def __init__(self):
        self.entries = []

    def append(self, event, signer, received_at_ns=None):
        index = len(self.entries)
        batch = signer.sign_batch([event])
        prev = bytes(32)
        if self.entries:
            last = self.entries[-1]
            prev = hashlib.sha256(al.decode_entry(last).prev_chain_hash +
                                  rfc6962.leaf_hash(last)).digest()
        entry = entry_mod.Entry(
            index=index, received_at_ns=received_at_ns or T0 + 1000 * (index + 1),
            event_bytes=batch.event_bytes[0],
            emitter=entry_mod.EmitterBlock(1, signer.key_id, 1, 0, batch.root, [],
                                          batch.signature),
            risk_grade=0, risk_reasons=[], policy_version=0, prev_chain_hash=prev,
            back_links=[entry_mod.BackLink(entry_mod.LINK_ACTOR, event.actor.id,
                                          entry_mod.NO_PREVIOUS)])
        self.entries.append(entry_mod.encode_entry(entry))
        return index

    def leaves(self):
        return [rfc6962.leaf_hash(e) for e in self.entries]

    def checkpoint(self):
        text = (f"{ORIGIN}\n{len(self.entries)}\n"
                f"{base64.b64encode(rfc6962.root(self.leaves())).decode()}\n")
        sig = NODE.verifier_key().key_id.to_bytes(4, "big") + NODE.sign(text.encode())
        return f"{text}\n\u2014 {ORIGIN} {base64.b64encode(sig).decode()}\n"

    def receipt(self, index, key_indexes):
        leaves = self.leaves()
        extra = bytearray(b"RK\x01")
        entry = self.entries[index]
        extra += len(entry).to_bytes(4, "big") + entry
        extra += len(key_indexes).to_bytes(4, "big")
        for k in key_indexes:
            proof = rfc6962.inclusion_path(k, leaves)
            extra += k.to_bytes(8, "big") + len(self.entries[k]).to_bytes(4, "big")
            extra += self.entries[k] + len(proof).to_bytes(4, "big") + b"".join(proof)
        return receipt.format_tlog_proof(receipt.TlogProof(
            bytes(extra), index, rfc6962.inclusion_path(index, leaves),
            self.checkpoint()))


class KeyEvidenceTest(unittest.TestCase):
    def setUp(self):
        self.log_keys = [NODE.verifier_key()]

    def verify(self, text):
        return al.verify_receipt(text, self.log_keys, origin=ORIGIN)

    def test_entry_before_revocation_verifies_and_after_does_not(self):
        log = Log()
        reg = log.append(registration(1), NODE)
        before = log.append(platform_event(2), EMITTER)
        rev = log.append(revocation(3), NODE)
        after = log.append(platform_event(4), EMITTER)
        v = self.verify(log.receipt(before, [reg, rev]))
        self.assertEqual(v.emitter_key.revoked_at, rev)
        self.assertEqual(v.emitter_signature, "verified (key from its registration)")
        with self.assertRaisesRegex(al.VerificationError,
                                    f"^key_evidence: .*revoked at entry {rev}"):
            self.verify(log.receipt(after, [reg, rev]))
        # The evidence without its revocation still proves the earlier entry.
        self.assertEqual(self.verify(log.receipt(before, [reg])).index, before)

    def test_tenant_producer_type_and_window_rules(self):
        log = Log()
        reg = log.append(registration(1, valid_until=T0 + 10_000), NODE)
        cases = {
            "tenant": platform_event(2, tenant="other"),
            "producer": platform_event(3, producer="label-studio-x/1"),
            "may not sign": platform_event(4, type="policy.changed"),
        }
        for what, event in cases.items():
            index = log.append(event, EMITTER)
            with self.subTest(what):
                with self.assertRaisesRegex(al.VerificationError,
                                            f"^key_evidence: .*{what}"):
                    self.verify(log.receipt(index, [reg]))
        late = log.append(platform_event(5), EMITTER, received_at_ns=T0 + 10_000)
        with self.assertRaisesRegex(al.VerificationError, "validity window"):
            self.verify(log.receipt(late, [reg]))
        fine = log.append(platform_event(6), EMITTER, received_at_ns=T0 + 9_999)
        self.assertEqual(self.verify(log.receipt(fine, [reg])).index, fine)

    def test_evidence_must_be_the_logs(self):
        log = Log()
        # Registered by a key the verifier does not trust as the log's.
        reg = log.append(registration(1), EMITTER)
        index = log.append(platform_event(2), EMITTER)
        with self.assertRaisesRegex(al.VerificationError,
                                    "^key_evidence: .*not signed by a trusted log key"):
            self.verify(log.receipt(index, [reg]))

    def test_key_entries_must_precede_and_be_ordered(self):
        log = Log()
        index = log.append(platform_event(1), EMITTER)
        reg = log.append(registration(2), NODE)
        with self.assertRaisesRegex(al.VerificationError, "not before"):
            self.verify(log.receipt(index, [reg]))
        rev = log.append(revocation(3), NODE)
        with self.assertRaisesRegex(al.VerificationError, "is not above"):
            self.verify(log.receipt(index, [rev, reg]))
        with self.assertRaisesRegex(al.VerificationError, "must be a key.registered"):
            self.verify(log.receipt(index, [rev]))


if __name__ == "__main__":
    unittest.main()
