"""Key evidence in a receipt (ledger/FORMAT.md section 10.5): the entries
that registered, rotated and revoked the key that signed the proven entry,
each proven in the receipt's checkpoint and signed by the log key.

check_key_evidence() replays them and checks what bears on the proven
entry: the key was registered (or rotated in) before the entry, was not
rotated out or revoked before it, its validity window holds the entry's
received_at_ns, the event's tenant is the key's, its producer is the key's
producer or a version of it, its type is not ledger-internal, and the
emitter signature verifies under the key (FORMAT.md section 8.3 rules 3
and 4). It does not replay every rule of section 8 (a full audit does).
"""

import dataclasses

from . import rfc6962
from .encoding import decode_event
from .entry import decode_entry
from .errors import MalformedError, VerificationError
from .signing import (SIG_ED25519, b64decode_strict, key_id_of,
                      verify_entry_signature)

# Types only a node key may sign (FORMAT.md section 3.2).
LEDGER_INTERNAL_TYPES = frozenset({
    "grade.propagated", "checkpoint.issued", "key.registered", "key.rotated",
    "key.revoked", "policy.changed", "key.erased", "access.denied"})


def _attr(event, name, entry_index):
    value = event.attributes.get(name)
    if value is None:
        raise VerificationError(
            "key_evidence",
            f"key entry {entry_index} ({event.type}) has no {name} attribute")
    return value


def _key_id_attr(event, name, entry_index):
    value = _attr(event, name, entry_index)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32 or raw.hex() != value:
        raise VerificationError(
            "key_evidence", f"key entry {entry_index}: {name} {value[:80]!r} is "
            "not 64 lowercase hex digits")
    return raw


def _nanos(value, default):
    if value is None or value == "0":
        return default
    if not value.isascii() or not value.isdigit() or (len(value) > 1 and
                                                      value[0] == "0"):
        raise VerificationError("key_evidence", f"bad time attribute {value!r}")
    return int(value)


@dataclasses.dataclass
class RegisteredKey:
    """An emitter key as the key evidence defines it."""
    key_id: bytes
    public_key: bytes
    name: str
    tenant: str
    producer: str | None
    valid_from: int
    valid_until: int | None
    registered_at: int  # index of the key.registered / key.rotated entry
    registered_by: str  # the actor of that entry
    rotated_at: int | None = None
    revoked_at: int | None = None


def _replay_key_events(key_events, log_key_ids):
    """Replays key entries (decoded entry, event) in order (FORMAT.md 8.3
    rule 5) into a registry of RegisteredKey by key ID."""
    registry = {}
    for i, (entry, event) in enumerate(key_events):
        where = f"key entry {entry.index}"
        if entry.emitter.key_id not in log_key_ids:
            raise VerificationError(
                "key_evidence", f"{where} is not signed by a trusted log key")
        if i == 0 and event.type != "key.registered":
            raise VerificationError(
                "key_evidence",
                f"{where} must be a key.registered, got {event.type}")
        if event.type == "key.registered":
            pub = b64decode_strict(_attr(event, "key.public_key", entry.index),
                                   "key.public_key")
            kid = key_id_of(pub)
            if _attr(event, "key.id", entry.index) != kid.hex():
                raise VerificationError(
                    "key_evidence", f"{where}: key.id does not match key.public_key")
            if kid in registry:
                raise VerificationError(
                    "key_evidence", f"{where} registers key {kid.hex()} again")
            registry[kid] = RegisteredKey(
                kid, pub, _attr(event, "key.name", entry.index),
                event.attributes.get("key.tenant", event.tenant),
                event.attributes.get("key.producer"),
                _nanos(event.attributes.get("key.valid_from"), event.occurred_at_ns),
                _nanos(event.attributes.get("key.valid_until"), None),
                entry.index, event.actor.id)
            if event.attributes.get("key.role") != "emitter":
                registry[kid].tenant = None  # not an emitter key
        elif event.type == "key.rotated":
            old = registry.get(_key_id_attr(event, "key.id", entry.index))
            if old is None or old.rotated_at is not None or old.revoked_at is not None:
                raise VerificationError(
                    "key_evidence", f"{where} rotates a key that is not registered "
                    "and current in the evidence")
            pub = b64decode_strict(_attr(event, "key.new.public_key", entry.index),
                                   "key.new.public_key")
            kid = key_id_of(pub)
            if _attr(event, "key.new.id", entry.index) != kid.hex() or kid in registry:
                raise VerificationError(
                    "key_evidence", f"{where}: key.new.id does not match "
                    "key.new.public_key or is already registered")
            old.rotated_at = entry.index
            registry[kid] = RegisteredKey(
                kid, pub, _attr(event, "key.new.name", entry.index), old.tenant,
                old.producer, event.occurred_at_ns,
                _nanos(event.attributes.get("key.new.valid_until"), None),
                entry.index, event.actor.id)
        elif event.type == "key.revoked":
            key = registry.get(_key_id_attr(event, "key.id", entry.index))
            if key is None or key.revoked_at is not None:
                raise VerificationError(
                    "key_evidence", f"{where} revokes a key that is not registered "
                    "or already revoked in the evidence")
            key.revoked_at = entry.index
        else:
            raise VerificationError(
                "key_evidence", f"{where} is a {event.type}, not a key event")
    return registry


def check_key_evidence(key_entries, cp, entry, event, log_keys):
    log_key_ids = {key_id_of(k.public_key): k.public_key for k in log_keys
                   if k.sig_type == SIG_ED25519}
    decoded = []
    previous = -1
    for k in key_entries:
        if not previous < k.index < cp.size:
            raise VerificationError(
                "key_evidence",
                f"key entry index {k.index} is not above {previous} and below "
                f"the checkpoint's size {cp.size}")
        previous = k.index
        rfc6962.verify_inclusion(rfc6962.leaf_hash(k.entry), k.index, cp.size,
                                 k.proof, cp.root, check="key_evidence")
        try:
            key_entry = decode_entry(k.entry)
            key_event = decode_event(key_entry.event_bytes)
        except MalformedError as e:
            raise VerificationError("key_evidence", f"key entry {k.index}: {e}") from None
        if key_entry.index != k.index:
            raise VerificationError(
                "key_evidence",
                f"key entry says it is index {key_entry.index} but is proven at "
                f"{k.index}")
        pub = log_key_ids.get(key_entry.emitter.key_id)
        if pub is None:
            raise VerificationError(
                "key_evidence", f"key entry {k.index} is not signed by a trusted log key")
        try:
            verify_entry_signature(key_entry, pub)
        except VerificationError as e:
            raise VerificationError("key_evidence",
                                    f"key entry {k.index}: {e.detail}") from None
        decoded.append((key_entry, key_event))
    registry = _replay_key_events(decoded, set(log_key_ids))
    key = registry.get(entry.emitter.key_id)
    if key is None:
        raise VerificationError(
            "key_evidence",
            f"the evidence does not register the entry's key "
            f"{entry.emitter.key_id.hex()}")
    i, t = entry.index, entry.received_at_ns
    problems = []
    if key.tenant is None:
        problems.append("it is not an emitter key")
    if key.registered_at >= i:
        problems.append(f"it was registered at entry {key.registered_at}, not before")
    if key.rotated_at is not None and key.rotated_at < i:
        problems.append(f"it was rotated out at entry {key.rotated_at}")
    if key.revoked_at is not None and key.revoked_at < i:
        problems.append(f"it was revoked at entry {key.revoked_at}")
    if t < key.valid_from or (key.valid_until is not None and t >= key.valid_until):
        problems.append(f"received_at_ns {t} is outside its validity window")
    if key.tenant is not None and event.tenant != key.tenant:
        problems.append(f"it is for tenant {key.tenant!r}, the event's is {event.tenant!r}")
    if event.type in LEDGER_INTERNAL_TYPES:
        problems.append(f"an emitter key may not sign {event.type}")
    if key.producer is not None and not (
            event.producer == key.producer or
            event.producer.startswith(key.producer + "/")):
        problems.append(
            f"it signs for producer {key.producer!r}, the event's is "
            f"{event.producer!r}")
    if problems:
        raise VerificationError(
            "key_evidence",
            f"key {key.key_id.hex()} may not sign entry {i}: " + "; ".join(problems))
    try:
        verify_entry_signature(entry, key.public_key)
    except VerificationError as e:
        raise VerificationError("emitter", e.detail) from None
    return key
