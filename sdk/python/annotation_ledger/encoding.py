"""Canonical bytes of events (ledger/FORMAT.md sections 2 and 3).

What an emitter signs is not the protobuf message but these bytes; the node
derives the same bytes from the message it receives (node/convert.cc) and
verifies the signature over them. encode_event() is byte-identical to the
C++ EncodeEvent, which the tests check against the vectors of FORMAT.md
section 11.

Decoding is strict, as FORMAT.md requires of a verifier: truncation,
trailing bytes, unknown magic, version or enum values, presence flags other
than 0 and 1, counts that cannot fit the input and attributes out of order
are MalformedError naming the field. Entries are in entry.py.
"""

import dataclasses
import struct
import uuid as _uuid

from .errors import MalformedError

EVENT_MAGIC = b"EV\x01"

ACTOR_HUMAN, ACTOR_SERVICE, ACTOR_MODEL = 1, 2, 3
DATASET, ITEM, ANNOTATION = 1, 2, 3
SUCCESS, FAILURE = 1, 2

# Smallest encodings of list items (FORMAT.md section 2.1): a count is
# checked against the remaining input before anything is read.
_MIN_REF = 18
_MIN_ATTRIBUTE = 8

_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1


@dataclasses.dataclass
class Actor:
    kind: int = ACTOR_SERVICE
    id: str = ""
    role: str = ""


@dataclasses.dataclass
class Source:
    ip: str = ""
    session: str = ""
    request_id: str = ""


@dataclasses.dataclass
class Ref:
    """A subject, input or output: kind DATASET, ITEM or ANNOTATION."""
    kind: int
    id: str
    version: str = ""
    content_sha256: bytes | None = None  # 32 raw bytes, or None
    item_count: int = 0


@dataclasses.dataclass
class Outcome:
    status: int = SUCCESS
    error_code: str = ""


@dataclasses.dataclass
class Event:
    """An event (FORMAT.md section 3), field for field.

    event_id is the UUID text (8-4-4-4-12 hex digits); occurred_at_ns is UTC
    nanoseconds since the Unix epoch; attributes is a str -> str mapping
    (encoded sorted by key bytes); payload is opaque bytes (an envelope of
    section 3.4, or empty).
    """
    event_id: str
    type: str
    occurred_at_ns: int
    producer: str
    tenant: str
    actor: Actor
    schema_version: int = 1
    project: str = ""
    on_behalf_of: str = ""
    source: Source = dataclasses.field(default_factory=Source)
    subjects: list = dataclasses.field(default_factory=list)
    inputs: list = dataclasses.field(default_factory=list)
    outputs: list = dataclasses.field(default_factory=list)
    outcome: Outcome = dataclasses.field(default_factory=Outcome)
    region: str = ""
    purpose: str = ""
    run_id: str = ""
    parent_run_id: str = ""
    attributes: dict = dataclasses.field(default_factory=dict)
    payload: bytes = b""


def new_event_id():
    """A fresh random (version 4) UUID as text, for Event.event_id.

    The event_id is the idempotency key: an emitter that retries MUST send
    the same event_id (and the same event), which the node then acknowledges
    once.
    """
    return str(_uuid.uuid4())


def parse_uuid(text, field="event_id"):
    """The 16 bytes of a UUID in 8-4-4-4-12 form (either case), as the node's
    ParseUuid accepts it."""
    if not isinstance(text, str) or len(text) != 36:
        raise MalformedError(
            f"{field}: must be a UUID (8-4-4-4-12 hex digits), got {text!r:.80}")
    for i in (8, 13, 18, 23):
        if text[i] != "-":
            raise MalformedError(
                f"{field}: must be a UUID, expected '-' at position {i} of "
                f"{text!r}")
    digits = text.replace("-", "")
    try:
        if len(digits) != 32 or not all(c in "0123456789abcdefABCDEF"
                                        for c in digits):
            raise ValueError
        return bytes.fromhex(digits)
    except ValueError:
        raise MalformedError(
            f"{field}: must be a UUID of hex digits, got {text!r}") from None


def format_uuid(raw):
    h = raw.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class Encoder:
    def __init__(self):
        self._parts = []

    def raw(self, b):
        self._parts.append(bytes(b))

    def u8(self, v, field):
        self._parts.append(struct.pack(">B", _ranged(v, 0, 0xFF, field)))

    def u32(self, v, field):
        self._parts.append(struct.pack(">I", _ranged(v, 0, _U32_MAX, field)))

    def u64(self, v, field):
        self._parts.append(struct.pack(">Q", _ranged(v, 0, _U64_MAX, field)))

    def i64(self, v, field):
        self._parts.append(
            struct.pack(">q", _ranged(v, -(1 << 63), (1 << 63) - 1, field)))

    def bytes_(self, b, field):
        if not isinstance(b, (bytes, bytearray)):
            raise MalformedError(f"{field}: must be bytes, got {type(b).__name__}")
        self.u32(len(b), field + " length")
        self._parts.append(bytes(b))

    def text(self, s, field):
        if not isinstance(s, str):
            raise MalformedError(f"{field}: must be str, got {type(s).__name__}")
        try:
            b = s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise MalformedError(
                f"{field}: not encodable as UTF-8 ({e.reason} at character "
                f"{e.start})") from None
        self.bytes_(b, field)

    def take(self):
        return b"".join(self._parts)


def _ranged(v, lo, hi, field):
    if isinstance(v, bool) or not isinstance(v, int):
        raise MalformedError(f"{field}: must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise MalformedError(f"{field}: {v} is out of range [{lo}, {hi}]")
    return v


def _encode_ref(e, ref, field):
    if ref.kind not in (DATASET, ITEM, ANNOTATION):
        raise MalformedError(
            f"{field}.kind: must be 1 (dataset), 2 (item) or 3 (annotation), "
            f"got {ref.kind!r}")
    e.u8(ref.kind, field + ".kind")
    e.text(ref.id, field + ".id")
    e.text(ref.version, field + ".version")
    if ref.content_sha256 is None:
        e.u8(0, field + ".content_sha256")
    else:
        h = bytes(ref.content_sha256)
        if len(h) != 32:
            raise MalformedError(
                f"{field}.content_sha256: must be 32 bytes, got {len(h)}")
        e.u8(1, field + ".content_sha256")
        e.raw(h)
    e.u64(ref.item_count, field + ".item_count")


def encode_event(event):
    """The canonical bytes of `event` (FORMAT.md section 3), the bytes the
    emitter signs. Raises MalformedError naming the field that cannot be
    encoded (a wrong type, an out-of-range number, an unknown enum value, a
    bad UUID). Content rules the node enforces at append (known types, text
    without control characters, limits) are not checked here; the node
    answers INVALID_ARGUMENT naming the field."""
    e = Encoder()
    e.raw(EVENT_MAGIC)
    e.raw(parse_uuid(event.event_id))
    e.text(event.type, "type")
    e.u32(event.schema_version, "schema_version")
    e.i64(event.occurred_at_ns, "occurred_at_ns")
    e.text(event.producer, "producer")
    e.text(event.tenant, "tenant")
    e.text(event.project, "project")
    if event.actor.kind not in (ACTOR_HUMAN, ACTOR_SERVICE, ACTOR_MODEL):
        raise MalformedError(
            "actor.kind: must be 1 (human), 2 (service) or 3 (model), got "
            f"{event.actor.kind!r}")
    e.u8(event.actor.kind, "actor.kind")
    e.text(event.actor.id, "actor.id")
    e.text(event.actor.role, "actor.role")
    e.text(event.on_behalf_of, "on_behalf_of")
    e.text(event.source.ip, "source.ip")
    e.text(event.source.session, "source.session")
    e.text(event.source.request_id, "source.request_id")
    for name in ("subjects", "inputs", "outputs"):
        refs = getattr(event, name)
        e.u32(len(refs), name + " count")
        for i, ref in enumerate(refs):
            _encode_ref(e, ref, f"{name}[{i}]")
    if event.outcome.status not in (SUCCESS, FAILURE):
        raise MalformedError(
            "outcome.status: must be 1 (success) or 2 (failure), got "
            f"{event.outcome.status!r}")
    e.u8(event.outcome.status, "outcome.status")
    e.text(event.outcome.error_code, "outcome.error_code")
    e.text(event.region, "region")
    e.text(event.purpose, "purpose")
    e.text(event.run_id, "run_id")
    e.text(event.parent_run_id, "parent_run_id")
    attributes = []
    for key, value in event.attributes.items():
        if not isinstance(key, str):
            raise MalformedError(
                f"attributes: keys must be str, got {type(key).__name__}")
        attributes.append((key.encode("utf-8", "surrogatepass"), key, value))
    # Unsigned byte-wise order of the keys' UTF-8 (FORMAT.md section 3).
    attributes.sort(key=lambda a: a[0])
    e.u32(len(attributes), "attributes count")
    for i, (_, key, value) in enumerate(attributes):
        e.text(key, f"attributes[{i}].key")
        e.text(value, f"attributes[{i}].value")
    e.bytes_(event.payload, "payload")
    return e.take()


class Decoder:
    def __init__(self, data, what):
        self._d = memoryview(bytes(data))
        self._pos = 0
        self._what = what

    def remaining(self):
        return len(self._d) - self._pos

    def raw(self, n, field):
        if self.remaining() < n:
            raise MalformedError(
                f"{self._what}: {field}: truncated (needs {n} bytes at offset "
                f"{self._pos}, {self.remaining()} left)")
        out = bytes(self._d[self._pos:self._pos + n])
        self._pos += n
        return out

    def u8(self, field):
        return self.raw(1, field)[0]

    def u32(self, field):
        return struct.unpack(">I", self.raw(4, field))[0]

    def u64(self, field):
        return struct.unpack(">Q", self.raw(8, field))[0]

    def i64(self, field):
        return struct.unpack(">q", self.raw(8, field))[0]

    def bytes_(self, field):
        n = self.u32(field + " length")
        return self.raw(n, field)

    def text(self, field):
        b = self.bytes_(field)
        # Text content is validation's business (FORMAT.md section 3.3);
        # decoding keeps invalid UTF-8 visible rather than failing.
        return b.decode("utf-8", "surrogateescape")

    def count(self, field, min_item):
        n = self.u32(field + " count")
        if n * min_item > self.remaining():
            raise MalformedError(
                f"{self._what}: {field}: count {n} cannot fit the "
                f"{self.remaining()} bytes left")
        return n

    def enum(self, field, allowed):
        v = self.u8(field)
        if v not in allowed:
            raise MalformedError(
                f"{self._what}: {field}: unknown value {v} (expected one of "
                f"{', '.join(str(a) for a in allowed)})")
        return v

    def finish(self):
        if self.remaining():
            raise MalformedError(
                f"{self._what}: {self.remaining()} trailing bytes after offset "
                f"{self._pos}")


def decode_event(data):
    """Decodes canonical event bytes strictly (FORMAT.md section 3.3,
    without limits: a verifier's limits must be at least the ledger's, and
    the input's own size bounds every count here)."""
    d = Decoder(data, "event")
    if d.raw(3, "magic and version") != EVENT_MAGIC:
        raise MalformedError("event: not an event of version 1 (magic and "
                             "version must be 45 56 01)")
    event_id = format_uuid(d.raw(16, "event_id"))
    type_ = d.text("type")
    schema_version = d.u32("schema_version")
    occurred = d.i64("occurred_at_ns")
    producer = d.text("producer")
    tenant = d.text("tenant")
    project = d.text("project")
    actor = Actor(d.enum("actor.kind", (1, 2, 3)), d.text("actor.id"),
                  d.text("actor.role"))
    on_behalf_of = d.text("on_behalf_of")
    source = Source(d.text("source.ip"), d.text("source.session"),
                    d.text("source.request_id"))
    lists = {}
    for name in ("subjects", "inputs", "outputs"):
        refs = []
        for i in range(d.count(name, _MIN_REF)):
            f = f"{name}[{i}]"
            kind = d.enum(f + ".kind", (1, 2, 3))
            rid = d.text(f + ".id")
            version = d.text(f + ".version")
            flag = d.enum(f + ".content_sha256 presence", (0, 1))
            digest = d.raw(32, f + ".content_sha256") if flag else None
            refs.append(Ref(kind, rid, version, digest, d.u64(f + ".item_count")))
        lists[name] = refs
    outcome = Outcome(d.enum("outcome.status", (1, 2)),
                      d.text("outcome.error_code"))
    region = d.text("region")
    purpose = d.text("purpose")
    run_id = d.text("run_id")
    parent_run_id = d.text("parent_run_id")
    attributes = {}
    previous = None
    for i in range(d.count("attributes", _MIN_ATTRIBUTE)):
        key_bytes = d.bytes_(f"attributes[{i}].key")
        if previous is not None and key_bytes <= previous:
            raise MalformedError(
                f"event: attributes[{i}].key: keys must be in strictly "
                "increasing byte order")
        previous = key_bytes
        value = d.text(f"attributes[{i}].value")
        attributes[key_bytes.decode("utf-8", "surrogateescape")] = value
    payload = d.bytes_("payload")
    d.finish()
    return Event(event_id=event_id, type=type_, occurred_at_ns=occurred,
                 producer=producer, tenant=tenant, actor=actor,
                 schema_version=schema_version, project=project,
                 on_behalf_of=on_behalf_of, source=source,
                 subjects=lists["subjects"], inputs=lists["inputs"],
                 outputs=lists["outputs"], outcome=outcome, region=region,
                 purpose=purpose, run_id=run_id, parent_run_id=parent_run_id,
                 attributes=attributes, payload=payload)
