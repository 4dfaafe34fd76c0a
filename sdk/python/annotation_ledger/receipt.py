"""Receipts: c2sp.org/tlog-proof@v1 texts, verified offline in pure Python
(FORMAT.md section 10).

verify_receipt() performs the steps of FORMAT.md section 10.3 in order,
as `ledger-verify proof` does:

1. parse the text (header, extra, index, proof hashes, blank line, note);
2. verify the checkpoint note's signatures against the log's verifier keys;
3. take the entry bytes from the extra line (or from the key-evidence
   container of section 10.5) and compute the leaf hash
   SHA-256(0x00 || entry bytes);
4. check the RFC 9162 inclusion proof of that leaf at the index up to the
   checkpoint's root;
5. decode the entry and require its index to be the proven index;
6. decode the event;
7. if the receipt carries key evidence, verify it (each key entry proven in
   the same checkpoint and signed by the log key; the replay defines the
   signing key, valid for this entry) and the emitter signature with it;
8. with trusted emitter keys, verify the emitter signature (section 5).
"""

import dataclasses
import struct

from . import rfc6962
from .checkpoint import open_checkpoint, parse_checkpoint_body, parse_note
from .encoding import decode_event
from .entry import decode_entry
from .errors import MalformedError, VerificationError
from .key_evidence import check_key_evidence
from .signing import (SIG_ED25519, b64decode_strict, b64encode,
                      verify_entry_signature)

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64
EXTRA_MAGIC = b"RK\x01"
MAX_KEY_ENTRIES = 1024

@dataclasses.dataclass
class TlogProof:
    extra: bytes | None
    index: int
    proof: list
    checkpoint: str


@dataclasses.dataclass
class ProvenEntry:
    index: int
    entry: bytes
    proof: list


@dataclasses.dataclass
class VerifiedReceipt:
    """What a verified receipt establishes."""
    index: int
    leaf_hash: bytes
    entry: object  # encoding.Entry
    event: object  # encoding.Event
    checkpoint: object  # checkpoint.Checkpoint
    # "verified (trusted emitter key)", "verified (key from its
    # registration)" or "not checked (no emitter key given)".
    emitter_signature: str
    emitter_key: object = None  # the registered key, from key evidence


def _malformed(line_no, what):
    return MalformedError(f"tlog-proof line {line_no}: {what}")


def parse_tlog_proof(text):
    """Strict syntax check of c2sp.org/tlog-proof@v1 (at most 64 proof
    hashes); the checkpoint is kept verbatim. MalformedError names the
    line."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedError(f"tlog-proof is not UTF-8 at byte {e.start}") from None
    rest = text
    line_no = 0

    def next_line():
        nonlocal rest, line_no
        nl = rest.find("\n")
        if nl < 0:
            return None
        line, rest = rest[:nl], rest[nl + 1:]
        line_no += 1
        return line

    line = next_line()
    if line != HEADER:
        raise _malformed(1, f"the first line must be '{HEADER}'")
    extra = None
    line = next_line()
    if line is not None and line.startswith("extra "):
        try:
            extra = b64decode_strict(line[6:], "extra data")
        except MalformedError:
            raise _malformed(line_no, "extra data is not standard base64") from None
        line = next_line()
    if line is None or not line.startswith("index "):
        raise _malformed(line_no + (0 if line is not None else 1),
                         "expected 'index N'")
    digits = line[6:]
    if (not digits or not digits.isascii() or not digits.isdigit() or
            (len(digits) > 1 and digits[0] == "0") or int(digits) >= 1 << 64):
        raise _malformed(line_no, "index must be a decimal number without sign "
                         "or leading zeros")
    index = int(digits)
    proof = []
    while True:
        line = next_line()
        if line is None:
            raise _malformed(line_no + 1,
                             "missing the empty line before the checkpoint")
        if not line:
            break
        if len(proof) == MAX_PROOF_HASHES:
            raise _malformed(line_no,
                             f"more than {MAX_PROOF_HASHES} inclusion proof hashes")
        try:
            h = b64decode_strict(line, "proof hash")
        except MalformedError:
            h = b""
        if len(h) != 32:
            raise _malformed(
                line_no, "inclusion proof hash must be standard base64 of 32 bytes")
        proof.append(h)
    if not rest:
        raise _malformed(line_no + 1, "the checkpoint is missing")
    return TlogProof(extra, index, proof, rest)


def format_tlog_proof(proof):
    """The text of a TlogProof (the inverse of parse_tlog_proof)."""
    out = [HEADER + "\n"]
    if proof.extra is not None:
        out.append(f"extra {b64encode(proof.extra)}\n")
    out.append(f"index {proof.index}\n")
    out.extend(b64encode(h) + "\n" for h in proof.proof)
    out.append("\n")
    out.append(proof.checkpoint)
    return "".join(out)


def _check_count(field, count, limit, min_item, left):
    if count > limit:
        raise MalformedError(
            f"receipt extra: {field}: count {count} exceeds the limit {limit}")
    if count * min_item > left:
        raise MalformedError(
            f"receipt extra: {field}: count {count} needs at least "
            f"{count * min_item} bytes, only {left} left (truncated)")


def decode_receipt_extra(extra):
    """(entry bytes, [ProvenEntry]) of a receipt's extra data: the entry
    bytes alone, or the key-evidence container of FORMAT.md section 10.5."""
    extra = bytes(extra)
    if not extra.startswith(EXTRA_MAGIC):
        return extra, []
    pos = len(EXTRA_MAGIC)

    def take(n, field):
        nonlocal pos
        if len(extra) - pos < n:
            raise MalformedError(
                f"receipt extra: {field}: truncated (needs {n} bytes at offset "
                f"{pos}, {len(extra) - pos} left)")
        out = extra[pos:pos + n]
        pos += n
        return out

    def u32(field):
        return struct.unpack(">I", take(4, field))[0]

    entry = take(u32("entry length"), "entry")
    count = u32("key_entries count")
    _check_count("key_entries", count, MAX_KEY_ENTRIES, 16, len(extra) - pos)
    if count == 0:
        raise MalformedError(
            "receipt extra: key_entries: must not be empty (a receipt without "
            "key evidence carries the entry bytes alone)")
    key_entries = []
    for i in range(count):
        field = f"key_entries[{i}]"
        (index,) = struct.unpack(">Q", take(8, field + ".index"))
        body = take(u32(field + ".entry length"), field + ".entry")
        hashes = u32(field + ".proof count")
        _check_count(field + ".proof", hashes, MAX_PROOF_HASHES, 32,
                     len(extra) - pos)
        key_entries.append(ProvenEntry(
            index, body, [take(32, field + ".proof") for _ in range(hashes)]))
    if pos != len(extra):
        raise MalformedError(
            f"receipt extra: {len(extra) - pos} trailing bytes")
    return entry, key_entries


def check_receipt_structure(text):
    """What ledgerctl checks of every receipt a node sends before it writes
    it: the text parses, carries entry bytes, and its inclusion proof leads
    to the root written in its own checkpoint. No signature is checked (no
    key is needed): this catches a damaged or inconsistent receipt, not a
    forged one; verify_receipt() does that. Returns the TlogProof."""
    try:
        proof = parse_tlog_proof(text)
    except MalformedError as e:
        raise VerificationError("parse", f"receipt from the node: {e}") from None
    if proof.extra is None:
        raise VerificationError("entry", "the receipt from the node has no entry bytes")
    try:
        note_text, _ = parse_note(proof.checkpoint)
        _, size, root, _ = parse_checkpoint_body(note_text)
        entry_bytes, _ = decode_receipt_extra(proof.extra)
    except MalformedError as e:
        raise VerificationError("checkpoint", f"receipt from the node: {e}") from None
    rfc6962.verify_inclusion(rfc6962.leaf_hash(entry_bytes), proof.index, size,
                             proof.proof, root)
    return proof


def verify_receipt(text, log_keys, emitter_keys=(), origin=""):
    """Verifies a tlog-proof receipt offline (see the module comment).

    log_keys: the log's VerifierKey list (`ledgerctl keys --note`, obtained
    through a channel you trust). emitter_keys: VerifierKey list of emitter
    keys to check the emitter signature against (optional with key
    evidence). origin: the log origin to require, if known.

    Returns a VerifiedReceipt; raises MalformedError for a text that does
    not parse and VerificationError (its `check` names the step) for one
    that does not verify.
    """
    try:
        proof = parse_tlog_proof(text)
    except MalformedError as e:
        raise VerificationError("parse", str(e)) from None
    try:
        cp = open_checkpoint(proof.checkpoint, log_keys, origin)
    except MalformedError as e:
        raise VerificationError("checkpoint", f"checkpoint note: {e}") from None
    if proof.extra is None:
        raise VerificationError(
            "entry", "the proof has no extra line, so it carries no entry bytes")
    try:
        entry_bytes, key_entries = decode_receipt_extra(proof.extra)
    except MalformedError as e:
        raise VerificationError("entry", f"extra data: {e}") from None
    leaf = rfc6962.leaf_hash(entry_bytes)
    rfc6962.verify_inclusion(leaf, proof.index, cp.size, proof.proof, cp.root)
    try:
        entry = decode_entry(entry_bytes)
    except MalformedError as e:
        raise VerificationError("entry", f"entry bytes: {e}") from None
    if entry.index != proof.index:
        raise VerificationError(
            "index", f"the entry says it is index {entry.index} but is proven "
            f"at index {proof.index}")
    try:
        event = decode_event(entry.event_bytes)
    except MalformedError as e:
        raise VerificationError("event", f"event bytes: {e}") from None
    emitter_key = None
    status = "not checked (no emitter key given)"
    if key_entries:
        emitter_key = check_key_evidence(key_entries, cp, entry, event, log_keys)
        status = "verified (key from its registration)"
    trusted = {k.entry_key_id: k for k in emitter_keys}
    # Entries signed by the log key itself (key events) verify with it.
    for k in log_keys:
        if k.sig_type == SIG_ED25519:
            trusted.setdefault(k.entry_key_id, k)
    key = trusted.get(entry.emitter.key_id)
    if key is not None:
        verify_entry_signature(entry, key.public_key)
        if emitter_key is None:
            status = "verified (trusted emitter key)"
    elif emitter_keys and emitter_key is None:
        raise VerificationError(
            "emitter", f"the entry is signed by key {entry.emitter.key_id.hex()}, "
            "which is not among the trusted emitter keys")
    return VerifiedReceipt(proof.index, leaf, entry, event, cp, status, emitter_key)
