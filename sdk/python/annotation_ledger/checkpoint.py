"""Signed checkpoints: C2SP signed notes with a tlog-checkpoint body
(FORMAT.md section 9).

open_checkpoint() does what section 9.5 asks of a verifier: parse the note,
verify every signature line whose name and key ID match a trusted verifier
key (a matching line that fails makes the checkpoint invalid; lines of
untrusted keys are ignored), and require a verified Ed25519 log signature
by a trusted key named after the origin.
"""

import dataclasses
import struct

from .errors import MalformedError, VerificationError
from .signing import (SIG_COSIGNATURE_V1, SIG_ED25519, b64decode_strict,
                      ed25519_verify, is_valid_key_name)

MAX_NOTE_SIGNATURES = 64
_SIG_PREFIX = "\u2014 "  # em dash, space


@dataclasses.dataclass
class NoteSignature:
    name: str
    key_id: int
    signature: bytes


@dataclasses.dataclass
class Checkpoint:
    """A verified checkpoint: origin, tree size, root hash, extension lines,
    the verified signatures' keys and, for cosignatures, their timestamps
    (POSIX seconds)."""
    origin: str
    size: int
    root: bytes
    extensions: list
    note: str
    verified_by: list  # VerifierKey of each verified signature
    cosigned_at: list  # timestamps of verified cosignatures


def _parse_canonical_uint(text):
    if not text or not text.isascii() or not text.isdigit() or (
            len(text) > 1 and text[0] == "0"):
        return None
    v = int(text)
    return v if v < (1 << 64) else None


def parse_note(note):
    """Splits a signed note into its text and signature lines."""
    if not isinstance(note, str):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as e:
            raise MalformedError(f"note is not valid UTF-8 at byte {e.start}") from None
    for i, ch in enumerate(note):
        cp = ord(ch)
        if (cp < 0x20 and ch != "\n") or cp == 0x7F:
            raise MalformedError(
                f"note contains control character U+{cp:04X} at character {i}")
        if 0xD800 <= cp <= 0xDFFF:
            raise MalformedError(f"note is not valid UTF-8 at character {i}")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedError("note has no blank line before its signatures")
    text = note[:split + 1]
    sigs = note[split + 2:]
    if not sigs or not sigs.endswith("\n"):
        raise MalformedError("note signatures must be followed by a newline")
    signatures = []
    for line in sigs[:-1].split("\n"):
        if len(signatures) >= MAX_NOTE_SIGNATURES:
            raise MalformedError(
                f"note has more than {MAX_NOTE_SIGNATURES} signatures")
        if not line.startswith(_SIG_PREFIX):
            raise MalformedError(
                "note signature line must start with an em dash and a space")
        line = line[len(_SIG_PREFIX):]
        name, space, b64 = line.partition(" ")
        if not space:
            raise MalformedError("note signature line must be '\u2014 name signature'")
        if not is_valid_key_name(name):
            raise MalformedError(f"invalid key name in signature line: {name!r}")
        try:
            raw = b64decode_strict(b64, "signature")
        except MalformedError:
            raw = b""
        if len(raw) < 5:
            raise MalformedError(
                f"signature by {name!r} is not base64 of a key ID and bytes")
        signatures.append(
            NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, signatures


def parse_checkpoint_body(text):
    """(origin, size, root, extensions) of a tlog-checkpoint body."""
    if not text.endswith("\n"):
        raise MalformedError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError(
            "checkpoint must have at least 3 lines (origin, tree size, root "
            f"hash), got {len(lines)}")
    if not lines[0]:
        raise MalformedError("checkpoint origin line is empty")
    size = _parse_canonical_uint(lines[1])
    if size is None:
        raise MalformedError(
            "checkpoint tree size must be a decimal number without sign or "
            f"leading zeros, got {lines[1][:64]!r}")
    root = b64decode_strict(lines[2], f"checkpoint root hash {lines[2][:64]!r}")
    if len(root) != 32:
        raise MalformedError(
            f"checkpoint root hash must be 32 bytes, got {len(root)}")
    for i, line in enumerate(lines[3:], 4):
        if not line:
            raise MalformedError(f"checkpoint extension line {i} is empty")
    return lines[0], size, root, lines[3:]


def _cosigned_message(text, timestamp):
    return f"cosignature/v1\ntime {timestamp}\n".encode("utf-8") + text.encode("utf-8")


def open_checkpoint(note, verifier_keys, origin=""):
    """Verifies a checkpoint note against trusted verifier keys (a list of
    VerifierKey, e.g. from read_verifier_keys of `ledgerctl keys --note`'s
    output). `origin`, if given, must be the checkpoint's. Returns a
    Checkpoint; raises MalformedError or VerificationError("checkpoint")."""
    text, signatures = parse_note(note)
    cp_origin, size, root, extensions = parse_checkpoint_body(text)
    if origin and cp_origin != origin:
        raise VerificationError(
            "checkpoint",
            f"checkpoint is for origin {cp_origin!r}, expected {origin!r}")
    verified, cosigned_at = [], []
    log_signed = False
    for sig in signatures:
        for key in verifier_keys:
            if key.name != sig.name or key.key_id != sig.key_id:
                continue
            ok = False
            if key.sig_type == SIG_ED25519 and len(sig.signature) == 64:
                ok = ed25519_verify(key.public_key, text.encode("utf-8"),
                                    sig.signature)
            elif key.sig_type == SIG_COSIGNATURE_V1 and len(sig.signature) == 72:
                (ts,) = struct.unpack(">Q", sig.signature[:8])
                ok = ts < (1 << 63) and ed25519_verify(
                    key.public_key, _cosigned_message(text, ts), sig.signature[8:])
                if ok:
                    cosigned_at.append(ts)
            if not ok:
                raise VerificationError(
                    "checkpoint",
                    f"note signature by {sig.name}+{sig.key_id:08x} does not "
                    f"verify (checkpoint of {cp_origin!r} at size {size})")
            verified.append(key)
            if key.sig_type == SIG_ED25519 and key.name == cp_origin:
                log_signed = True
    if not verified:
        raise VerificationError(
            "checkpoint",
            f"checkpoint of {cp_origin!r} at size {size}: note carries no "
            "signature from a trusted key")
    if not log_signed:
        raise VerificationError(
            "checkpoint",
            f"checkpoint of {cp_origin!r} at size {size} carries no verified "
            "Ed25519 signature by a trusted key named after its origin "
            f"({len(verified)} other trusted signatures verified)")
    return Checkpoint(cp_origin, size, root, extensions, note, verified,
                      cosigned_at)
