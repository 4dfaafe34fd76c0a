"""Emitter keys and batch signatures (FORMAT.md sections 5, 6 and 9.2).

An emitter signs a batch of n events with one Ed25519 signature over

    "annotation-ledger batch v1" LF || u32 n || batch_root

where batch_root is the RFC 6962 root over the events' leaf hashes
SHA-256(0x00 || event bytes). A single event is a batch of one. Keys are
read from the files `ledgerctl keygen` writes (NAME.key: a signer-key line
"PRIVATE+KEY+name+keyid+base64(0x01 || seed)", mode 0600; NAME.pub: a
verifier-key line "name+keyid+base64(0x01 || public key)").
"""

import base64
import binascii
import dataclasses
import hashlib
import os
import stat
import struct

import nacl.exceptions
import nacl.signing

from . import rfc6962
from .encoding import encode_event
from .errors import MalformedError, VerificationError

BATCH_PREFIX = b"annotation-ledger batch v1\n"
MAX_BATCH_EVENTS = 100000
SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
# The order of the Ed25519 group (RFC 8032): a signature's S must be below it.
_GROUP_ORDER = 2**252 + 27742317777372353535851937790883648493


def key_id_of(public_key):
    """The entry key ID: SHA-256(0x01 || public key), 32 bytes."""
    return hashlib.sha256(b"\x01" + bytes(public_key)).digest()


def note_key_id(name, sig_type, public_key):
    """The C2SP note key ID: the first 4 bytes of
    SHA-256(name || LF || type || public key), as an int."""
    h = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) +
                       bytes(public_key)).digest()
    return int.from_bytes(h[:4], "big")


def b64decode_strict(text, what):
    """Standard base64 with padding and zero padding bits (FORMAT.md
    section 1); anything else is MalformedError naming `what`."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedError(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(
            f"{what} is not canonical base64 (padding or padding bits)")
    return raw


def b64encode(raw):
    return base64.b64encode(bytes(raw)).decode("ascii")


def is_valid_key_name(name):
    """A note key name (FORMAT.md section 9.1): non-empty, no '+', no
    Unicode white space, no control characters U+0000..U+001F, U+007F."""
    if not name:
        return False
    for ch in name:
        cp = ord(ch)
        if ch == "+" or cp < 0x20 or cp == 0x7F or 0xD800 <= cp <= 0xDFFF:
            return False
        if (0x09 <= cp <= 0x0D or cp in (0x20, 0x85, 0xA0, 0x1680, 0x2028,
                                         0x2029, 0x202F, 0x205F, 0x3000) or
                0x2000 <= cp <= 0x200A):
            return False
    return True


def _split_key_text(text):
    # name+id+material: names contain no '+', base64 may.
    parts = text.split("+", 2)
    return parts


@dataclasses.dataclass(frozen=True)
class VerifierKey:
    """A note verifier key (vkey): name, note key ID, type and public key."""
    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    @property
    def entry_key_id(self):
        return key_id_of(self.public_key)

    def text(self):
        return (f"{self.name}+{self.key_id:08x}+"
                f"{b64encode(bytes([self.sig_type]) + self.public_key)}")


def parse_verifier_key(line):
    """Parses one vkey line; MalformedError says what is wrong."""
    parts = _split_key_text(line)
    if len(parts) != 3:
        raise MalformedError(
            "verifier key must have the form name+keyid+base64key")
    name, hex_id, material = parts
    if not is_valid_key_name(name):
        raise MalformedError(f"invalid key name in verifier key: {name!r}")
    if len(hex_id) != 8 or not all(c in "0123456789abcdefABCDEF" for c in hex_id):
        raise MalformedError(f"verifier key ID must be 8 hex digits, got {hex_id!r}")
    raw = b64decode_strict(material, "verifier key material")
    if len(raw) != 33:
        raise MalformedError(
            "verifier key material must be base64 of a type byte and a "
            f"32-byte Ed25519 key, got {len(raw)} bytes")
    if raw[0] not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise MalformedError(
            f"unsupported note signature type 0x{raw[0]:02x} in verifier key")
    computed = note_key_id(name, raw[0], raw[1:])
    if computed != int(hex_id, 16):
        raise MalformedError(
            f"verifier key ID {hex_id} does not match its name and key "
            f"({computed:08x})")
    return VerifierKey(name, computed, raw[0], raw[1:])


def parse_verifier_keys(text):
    """A verifier-key file (FORMAT.md section 9.2): one vkey per line;
    blank lines and lines starting with '#' are skipped. MalformedError
    names the line; a file with no key is an error."""
    keys = []
    for no, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r ").lstrip(" ")
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_verifier_key(line))
        except MalformedError as e:
            raise MalformedError(f"line {no}: {e}") from None
    if not keys:
        raise MalformedError("verifier-key file holds no key")
    return keys


def read_verifier_keys(path):
    with open(path, encoding="utf-8") as f:
        try:
            return parse_verifier_keys(f.read())
        except MalformedError as e:
            raise MalformedError(f"{path}: {e}") from None


def ed25519_verify(public_key, message, signature):
    """Strict Ed25519 verification as the ledger does it (FORMAT.md
    section 5): S must be below the group order; libsodium (under PyNaCl,
    as under the C++) also refuses non-canonical and small-order points."""
    if len(signature) != 64 or len(public_key) != 32:
        return False
    if int.from_bytes(signature[32:], "little") >= _GROUP_ORDER:
        return False
    try:
        nacl.signing.VerifyKey(bytes(public_key)).verify(bytes(message),
                                                         bytes(signature))
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError,
            nacl.exceptions.TypeError):
        return False


def batch_message(size, batch_root):
    """The 63 bytes an emitter signs for a batch of `size` events."""
    if not 1 <= size <= MAX_BATCH_EVENTS:
        raise MalformedError(
            f"a batch holds 1 to {MAX_BATCH_EVENTS} events, got {size}")
    if len(batch_root) != 32:
        raise MalformedError(f"batch root of {len(batch_root)} bytes, expected 32")
    return BATCH_PREFIX + struct.pack(">I", size) + bytes(batch_root)


@dataclasses.dataclass
class SignedBatch:
    """Events with their canonical bytes, the batch root and the signature,
    ready to append (Client.append_batch) or to check."""
    events: list
    event_bytes: list
    root: bytes
    key_id: bytes
    signature: bytes

    def audit_path(self, i):
        """The inclusion proof of event i in the batch (what the entry's
        emitter block will carry)."""
        return rfc6962.inclusion_path(
            i, [rfc6962.leaf_hash(b) for b in self.event_bytes])


class SigningKey:
    """An emitter's Ed25519 signing key.

    SigningKey.from_file(path) reads a `ledgerctl keygen` key file (or the
    only .key file of a directory); SigningKey(seed, name) wraps a 32-byte
    RFC 8032 seed.
    """

    def __init__(self, seed, name="emitter"):
        if len(seed) != 32:
            raise MalformedError(f"Ed25519 seed of {len(seed)} bytes, expected 32")
        if not is_valid_key_name(name):
            raise MalformedError(f"invalid key name {name!r}")
        self._key = nacl.signing.SigningKey(bytes(seed))
        self.name = name

    @property
    def public_key(self):
        return bytes(self._key.verify_key)

    @property
    def key_id(self):
        """The entry key ID, SHA-256(0x01 || public key)."""
        return key_id_of(self.public_key)

    def verifier_key(self):
        pub = self.public_key
        return VerifierKey(self.name, note_key_id(self.name, SIG_ED25519, pub),
                           SIG_ED25519, pub)

    def sign(self, message):
        return self._key.sign(bytes(message)).signature

    def sign_batch(self, events):
        """Encodes `events` (a list of Event) and signs them as one batch."""
        events = list(events)
        encoded = []
        for i, event in enumerate(events):
            try:
                encoded.append(encode_event(event))
            except MalformedError as e:
                raise MalformedError(f"events[{i}].{e}") from None
        return self.sign_encoded(encoded, events)

    def sign_encoded(self, event_bytes, events=None):
        """Signs already-encoded event bytes as one batch."""
        event_bytes = [bytes(b) for b in event_bytes]
        batch_root = rfc6962.root(rfc6962.leaf_hash(b) for b in event_bytes)
        signature = self.sign(batch_message(len(event_bytes), batch_root))
        return SignedBatch(events if events is not None else [], event_bytes,
                           batch_root, self.key_id, signature)

    @classmethod
    def from_text(cls, text):
        """Parses a signer-key line PRIVATE+KEY+name+keyid+base64(0x01||seed)."""
        text = text.strip()
        prefix = "PRIVATE+KEY+"
        if not text.startswith(prefix):
            raise MalformedError("signer key must start with PRIVATE+KEY+")
        parts = _split_key_text(text[len(prefix):])
        if len(parts) != 3 or not is_valid_key_name(parts[0]):
            raise MalformedError(
                "signer key must have the form PRIVATE+KEY+name+keyid+base64key")
        name, hex_id, material = parts
        raw = b64decode_strict(material, "signer key material")
        if len(raw) != 33 or raw[0] != SIG_ED25519:
            raise MalformedError(
                "signer key material must be base64 of the type byte 0x01 and "
                "a 32-byte seed")
        key = cls(raw[1:], name)
        if len(hex_id) != 8 or key.verifier_key().key_id != int(hex_id, 16):
            raise MalformedError("signer key ID does not match its name and key")
        return key

    @classmethod
    def from_file(cls, path):
        """Reads a key file, or the only *.key file in a directory. Refuses a
        key file that group or others may access, as ledgerctl does."""
        if os.path.isdir(path):
            keys = sorted(f for f in os.listdir(path) if f.endswith(".key"))
            if len(keys) != 1:
                raise MalformedError(
                    f"{path} holds {len(keys)} .key files; name the key file "
                    "itself")
            path = os.path.join(path, keys[0])
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise PermissionError(
                f"private key file {path} is accessible by group or others "
                f"(mode 0{mode:03o}); run: chmod 600 {path}")
        with open(path, encoding="utf-8") as f:
            try:
                return cls.from_text(f.read())
            except MalformedError as e:
                raise MalformedError(f"{path}: {e}") from None


def verify_batch_signature(public_key, size, batch_root, signature):
    """Raises VerificationError("emitter", ...) unless `signature` is the
    key's signature of the batch message for `size` and `batch_root`."""
    if not ed25519_verify(public_key, batch_message(size, batch_root), signature):
        raise VerificationError(
            "emitter",
            f"emitter.signature does not verify under key "
            f"{key_id_of(public_key).hex()} for a batch of {size} with root "
            f"{bytes(batch_root).hex()}")


def verify_entry_signature(entry, public_key):
    """FORMAT.md section 5, VerifyEntrySignature: the entry's key ID is the
    key's, its event's audit path leads to the signed batch root, and the
    signature verifies. VerificationError("emitter") names the step."""
    m = entry.emitter
    if m.algorithm != 1:
        raise VerificationError("emitter", f"emitter.algorithm {m.algorithm} is not 1")
    if m.key_id != key_id_of(public_key):
        raise VerificationError(
            "emitter", f"emitter.key_id {m.key_id.hex()} is not the key's "
            f"{key_id_of(public_key).hex()}")
    leaf = rfc6962.leaf_hash(entry.event_bytes)
    rfc6962.verify_inclusion(leaf, m.batch_index, m.batch_size, m.audit_path,
                             m.batch_root, check="emitter")
    verify_batch_signature(public_key, m.batch_size, m.batch_root, m.signature)
