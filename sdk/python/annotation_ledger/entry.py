"""Canonical bytes of entries (ledger/FORMAT.md section 4).

An entry wraps the emitter's signed event bytes, verbatim, with what the
ledger computes. Decoding is strict as FORMAT.md section 4.1 requires:
MalformedError names the field.
"""

import dataclasses

from .encoding import Decoder, Encoder
from .errors import MalformedError
from .rfc6962 import path_length

ENTRY_MAGIC = b"EN\x01"
# Back-links also follow actors (FORMAT.md section 7).
LINK_ACTOR = 4
NO_PREVIOUS = (1 << 64) - 1
# Smallest encodings of a list item (FORMAT.md section 2.1).
_MIN_TEXT = 4
_MIN_BACK_LINK = 13


@dataclasses.dataclass
class EmitterBlock:
    algorithm: int
    key_id: bytes
    batch_size: int
    batch_index: int
    batch_root: bytes
    audit_path: list
    signature: bytes


@dataclasses.dataclass
class BackLink:
    kind: int
    id: str
    previous: int  # NO_PREVIOUS if none


@dataclasses.dataclass
class Entry:
    """An entry (FORMAT.md section 4); event_bytes are kept verbatim."""
    index: int
    received_at_ns: int
    event_bytes: bytes
    emitter: EmitterBlock
    risk_grade: int
    risk_reasons: list
    policy_version: int
    prev_chain_hash: bytes
    back_links: list


def decode_entry(data):
    """Decodes entry bytes strictly (FORMAT.md section 4.1); the embedded
    event stays bytes (decode_event(entry.event_bytes) decodes it)."""
    d = Decoder(data, "entry")
    if d.raw(3, "magic and version") != ENTRY_MAGIC:
        raise MalformedError("entry: not an entry of version 1 (magic and "
                             "version must be 45 4e 01)")
    index = d.u64("index")
    received = d.i64("received_at_ns")
    event_bytes = d.bytes_("event_bytes")
    algorithm = d.enum("emitter.algorithm", (1,))
    key_id = d.raw(32, "emitter.key_id")
    batch_size = d.u32("emitter.batch_size")
    batch_index = d.u32("emitter.batch_index")
    if batch_index >= batch_size:
        raise MalformedError(
            f"entry: emitter.batch_index {batch_index} is not below "
            f"emitter.batch_size {batch_size}")
    batch_root = d.raw(32, "emitter.batch_root")
    want = path_length(batch_index, batch_size)
    got = d.u32("emitter.audit_path count")
    if got != want:
        raise MalformedError(
            f"entry: emitter.audit_path: {got} hashes, but index {batch_index} "
            f"of a batch of {batch_size} needs {want}")
    audit_path = [d.raw(32, f"emitter.audit_path[{i}]") for i in range(got)]
    signature = d.raw(64, "emitter.signature")
    grade = d.enum("risk.grade", (0, 1, 2, 3, 4))
    reasons = [d.text(f"risk.reasons[{i}]")
               for i in range(d.count("risk.reasons", _MIN_TEXT))]
    policy_version = d.u32("policy_version")
    prev_chain_hash = d.raw(32, "prev_chain_hash")
    links = []
    for i in range(d.count("back_links", _MIN_BACK_LINK)):
        f = f"back_links[{i}]"
        links.append(BackLink(d.enum(f + ".kind", (1, 2, 3, 4)), d.text(f + ".id"),
                              d.u64(f + ".previous")))
    d.finish()
    return Entry(index=index, received_at_ns=received, event_bytes=event_bytes,
                 emitter=EmitterBlock(algorithm, key_id, batch_size,
                                      batch_index, batch_root, audit_path,
                                      signature),
                 risk_grade=grade, risk_reasons=reasons,
                 policy_version=policy_version, prev_chain_hash=prev_chain_hash,
                 back_links=links)


def encode_entry(entry):
    """The canonical bytes of an entry (FORMAT.md section 4). Verifiers do
    not need it; the tests use it to check decode_entry both ways."""
    e = Encoder()
    e.raw(ENTRY_MAGIC)
    e.u64(entry.index, "index")
    e.i64(entry.received_at_ns, "received_at_ns")
    e.bytes_(entry.event_bytes, "event_bytes")
    m = entry.emitter
    e.u8(m.algorithm, "emitter.algorithm")
    e.raw(m.key_id)
    e.u32(m.batch_size, "emitter.batch_size")
    e.u32(m.batch_index, "emitter.batch_index")
    e.raw(m.batch_root)
    e.u32(len(m.audit_path), "emitter.audit_path count")
    for h in m.audit_path:
        e.raw(h)
    e.raw(m.signature)
    e.u8(entry.risk_grade, "risk.grade")
    e.u32(len(entry.risk_reasons), "risk.reasons count")
    for i, r in enumerate(entry.risk_reasons):
        e.text(r, f"risk.reasons[{i}]")
    e.u32(entry.policy_version, "policy_version")
    e.raw(entry.prev_chain_hash)
    e.u32(len(entry.back_links), "back_links count")
    for i, link in enumerate(entry.back_links):
        e.u8(link.kind, f"back_links[{i}].kind")
        e.text(link.id, f"back_links[{i}].id")
        e.u64(link.previous, f"back_links[{i}].previous")
    return e.take()
