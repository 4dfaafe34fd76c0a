"""A gRPC client of a ledger node: appends signed events and fetches
receipts.

    key = SigningKey.from_file("keys/demo.key")
    with Client("127.0.0.1:7400", ca="ca.pem", cert="emitter.pem",
                key="emitter.key") as client:
        ref = client.append(event, key)
        receipt = client.get_receipt(index=ref.index)

Connections are mutual TLS, as with ledgerctl (--ca/--cert/--key, or a
profile file), or plaintext only when asked for by name
(insecure_plaintext=True, for a node started with --insecure-plaintext).

Retries: a call answered UNAVAILABLE or RESOURCE_EXHAUSTED is sent again,
the same signed request, after the wait the node suggests (trailing
metadata "grpc-retry-pushback-ms", which the node sets when its append
queue is full, or "retry in N ms" in the message, which its rate limiter
writes), else after an exponential backoff with jitter. Retrying an append
is safe: the node stores at most one entry per (tenant, event_id), and
answers a resent identical event with the existing entry (duplicate=True);
an event with the same id but other content is refused (ALREADY_EXISTS).

Needs grpcio and the generated stubs (package annotation_ledger_proto, built
by the project's CMake build or by `pip install ./sdk/python`).
"""

import dataclasses
import os
import random
import re
import ssl
import stat
import time
import tomllib

import grpc

from .encoding import parse_uuid
from .errors import LedgerError, MalformedError
from .receipt import (TlogProof, check_receipt_structure, format_tlog_proof,
                      verify_receipt)
from .signing import SignedBatch, parse_verifier_keys

try:
    from annotation_ledger_proto.ledger.v1 import (admin_pb2, admin_pb2_grpc,
                                                   event_pb2, ingest_pb2,
                                                   ingest_pb2_grpc, proof_pb2,
                                                   proof_pb2_grpc)
except ImportError as _e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the generated gRPC stubs (package annotation_ledger_proto) are "
        "missing: build them with the project's build (cmake --build build "
        "--target python_sdk_stubs, then add build/sdk/python to PYTHONPATH) "
        f"or install with `pip install ./sdk/python` ({_e})") from _e

PROFILE_ENV = "LEDGER_PROFILE"
PUSHBACK_METADATA = "grpc-retry-pushback-ms"
_RETRY_IN = re.compile(r"retry in (\d+) ms")
_NANOS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class FieldViolation:
    """One google.rpc.BadRequest.FieldViolation: `field` is the path of the
    bad field in the request ("events[3].subjects[0].id" in a batch,
    "event.subjects[0].id" for a single append), `description` what is
    wrong with it (the node's message after "<field>: ")."""
    field: str
    description: str


class AppendError(LedgerError):
    """A call the node refused, or that failed after every retry.

    code: the grpc.StatusCode; details: the node's message, which names the
    field, value and bound for invalid input; attempts: calls made;
    field_violations: for INVALID_ARGUMENT about a request field, the
    FieldViolations of the google.rpc.BadRequest the node sent in the
    status details (docs/api-errors.md), else an empty list."""

    def __init__(self, method, code, details, attempts, field_violations=()):
        super().__init__(f"{method}: {code.name}: {details}"
                         + (f" (after {attempts} attempts)" if attempts > 1 else ""))
        self.method = method
        self.code = code
        self.details = details
        self.attempts = attempts
        self.field_violations = list(field_violations)


@dataclasses.dataclass
class RetryPolicy:
    """When and how long to wait before sending a call again.

    max_attempts counts the first call. A hint from the node is honoured up
    to max_hint_s; without one the n-th wait is uniform in
    [0, min(max_backoff_s, initial_backoff_s * multiplier**(n-1))].
    deadline_s bounds the whole call, retries and waits included."""
    max_attempts: int = 8
    initial_backoff_s: float = 0.05
    max_backoff_s: float = 2.0
    multiplier: float = 2.0
    max_hint_s: float = 10.0
    deadline_s: float = 60.0
    retry_codes: tuple = (grpc.StatusCode.UNAVAILABLE,
                          grpc.StatusCode.RESOURCE_EXHAUSTED)


@dataclasses.dataclass
class EntryRef:
    """The node's acknowledgement of one event: committed at `index`."""
    index: int
    leaf_hash: bytes
    received_at_ns: int
    duplicate: bool
    event_id: str


@dataclasses.dataclass
class Receipt:
    """A receipt as the node returned it; `tlog_proof` is the
    c2sp.org/tlog-proof@v1 text that ledger-verify and verify_receipt()
    check, and what save() writes."""
    index: int
    entry: bytes
    tlog_proof: str

    def save(self, path):
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(self.tlog_proof)


_DETAILS_METADATA = "grpc-status-details-bin"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_RPC_DESCRIPTORS = "google_rpc.binpb"
_rpc_messages = None


def _rpc_message_classes():
    """google.rpc.Status and google.rpc.BadRequest, from the descriptors the
    stubs build ships (gen_stubs.py), in a descriptor pool of our own so
    that they never clash with googleapis-common-protos' copies."""
    global _rpc_messages
    if _rpc_messages is None:
        import annotation_ledger_proto
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        path = os.path.join(os.path.dirname(annotation_ledger_proto.__file__),
                            _RPC_DESCRIPTORS)
        with open(path, "rb") as f:
            files = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for file in files.file:
            pool.Add(file)
        get_class = getattr(message_factory, "GetMessageClass", None)
        if get_class is None:  # protobuf before 4.22
            get_class = message_factory.MessageFactory(pool).GetPrototype
        _rpc_messages = tuple(
            get_class(pool.FindMessageTypeByName(name))
            for name in ("google.rpc.Status", "google.rpc.BadRequest"))
    return _rpc_messages


def field_violations(error):
    """The google.rpc.BadRequest field violations in a grpc.RpcError's
    status details (trailing metadata "grpc-status-details-bin"), as a list
    of FieldViolation; empty if it has none. Details that do not parse are
    ignored: the message still says what is wrong."""
    from google.protobuf.message import DecodeError
    for key, value in (error.trailing_metadata() or ()):
        if key != _DETAILS_METADATA:
            continue
        status_class, bad_request_class = _rpc_message_classes()
        try:
            status = status_class.FromString(value)
            out = []
            for any_message in status.details:
                if any_message.type_url != _BAD_REQUEST_TYPE:
                    continue
                bad_request = bad_request_class.FromString(any_message.value)
                out.extend(FieldViolation(v.field, v.description)
                           for v in bad_request.field_violations)
            return out
        except DecodeError:
            return []
    return []


def retry_hint_seconds(error):
    """The wait a refused call suggests, in seconds, or None."""
    for key, value in (error.trailing_metadata() or ()):
        if key == PUSHBACK_METADATA:
            try:
                ms = int(value)
            except ValueError:
                return None
            return ms / 1000 if ms >= 0 else None
    m = _RETRY_IN.search(error.details() or "")
    return int(m.group(1)) / 1000 if m else None


def event_to_proto(event):
    """The ledger.v1.Event message the node derives the same canonical bytes
    from (node/convert.cc)."""
    parse_uuid(event.event_id)
    msg = event_pb2.Event(
        event_id=event.event_id, type=event.type,
        schema_version=event.schema_version, producer=event.producer,
        tenant=event.tenant, project=event.project,
        actor=event_pb2.Actor(kind=event.actor.kind, id=event.actor.id,
                              role=event.actor.role),
        on_behalf_of=event.on_behalf_of,
        source=event_pb2.Source(ip=event.source.ip, session=event.source.session,
                                request_id=event.source.request_id),
        outcome=event_pb2.Outcome(status=event.outcome.status,
                                  error_code=event.outcome.error_code),
        region=event.region, purpose=event.purpose, run_id=event.run_id,
        parent_run_id=event.parent_run_id, payload=bytes(event.payload))
    seconds, nanos = divmod(event.occurred_at_ns, _NANOS)
    msg.occurred_at.seconds = seconds
    msg.occurred_at.nanos = nanos
    for name in ("subjects", "inputs", "outputs"):
        target = getattr(msg, name)
        for ref in getattr(event, name):
            target.add(kind=ref.kind, id=ref.id, version=ref.version,
                       content_sha256=(bytes(ref.content_sha256).hex()
                                       if ref.content_sha256 is not None else ""),
                       item_count=ref.item_count)
    for k, v in event.attributes.items():
        msg.attributes[k] = v
    return msg


def _entry_ref(proto):
    return EntryRef(proto.index, bytes(proto.leaf_hash),
                    proto.received_at.seconds * _NANOS + proto.received_at.nanos,
                    proto.duplicate, proto.event_id)


def _read_private(path):
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise PermissionError(
            f"private key file {path} is accessible by group or others (mode "
            f"0{mode:03o}); run: chmod 600 {path}")
    with open(path, "rb") as f:
        return f.read()


def _check_tls_files(ca, cert, key):
    """Checks the files before connecting, as ledgerctl does: gRPC reports a
    key that does not belong to its certificate, or a file that is not PEM,
    only as UNAVAILABLE on every call."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, ValueError) as e:
        raise MalformedError(f"ca {ca}: not a PEM CA certificate ({e})") from None
    _read_private(key)  # The mode check, with its message.
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as e:
        raise MalformedError(
            f"cert {cert} and key {key}: not a PEM certificate chain and its "
            f"private key, or the key does not belong to the certificate ({e})"
        ) from None


def load_profile(path):
    """A client profile as ledgerctl reads it (TOML: address, ca, cert, key,
    insecure_plaintext), relative paths resolved against its directory."""
    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise MalformedError(f"{path}: {e}") from None
    allowed = {"address": str, "ca": str, "cert": str, "key": str,
               "insecure_plaintext": bool}
    for k, v in data.items():
        if k not in allowed:
            raise MalformedError(f"{path}: {k}: unknown key (expected one of "
                                 f"{', '.join(allowed)})")
        if not isinstance(v, allowed[k]):
            raise MalformedError(
                f"{path}: {k}: must be a {allowed[k].__name__}, got {v!r}")
    base = os.path.dirname(os.path.abspath(path))
    for k in ("ca", "cert", "key"):
        if k in data and not os.path.isabs(data[k]):
            data[k] = os.path.join(base, data[k])
    if data.get("insecure_plaintext") and any(k in data for k in ("ca", "cert", "key")):
        raise MalformedError(
            f"{path}: insecure_plaintext = true cannot be combined with ca, cert "
            "or key")
    return data


class Client:
    """A connection to a ledger node.

    address: "host:port" (or from the profile). ca, cert, key: PEM files of
    the CA the node's certificate chains to, this client's certificate chain
    and its private key (mode 0600) for mutual TLS. profile: a ledgerctl
    profile file; without one, the file named by $LEDGER_PROFILE is used if
    set. Arguments override the profile. insecure_plaintext=True connects
    without TLS and cannot be combined with ca/cert/key. Nothing falls back
    to plaintext.
    """

    def __init__(self, address=None, *, ca=None, cert=None, key=None,
                 profile=None, insecure_plaintext=False, retry=None,
                 timeout_s=30.0, sleep=time.sleep, options=()):
        if profile is None and not (ca or cert or key or insecure_plaintext):
            profile = os.environ.get(PROFILE_ENV) or None
        settings = load_profile(profile) if profile else {}
        address = address or settings.get("address")
        ca = ca or settings.get("ca")
        cert = cert or settings.get("cert")
        key = key or settings.get("key")
        plaintext = insecure_plaintext or settings.get("insecure_plaintext", False)
        if not address:
            raise MalformedError("no node address: pass address or a profile "
                                 "with `address`")
        if plaintext and (ca or cert or key):
            raise MalformedError(
                "insecure_plaintext cannot be combined with ca, cert or key")
        if plaintext:
            self._channel = grpc.insecure_channel(address, options=list(options))
        else:
            missing = [n for n, v in (("ca", ca), ("cert", cert), ("key", key))
                       if not v]
            if missing:
                raise MalformedError(
                    f"mutual TLS needs ca, cert and key; missing: "
                    f"{', '.join(missing)} (pass them, use a profile, or "
                    "insecure_plaintext=True for a node started that way)")
            _check_tls_files(ca, cert, key)
            with open(ca, "rb") as f:
                root = f.read()
            with open(cert, "rb") as f:
                chain = f.read()
            credentials = grpc.ssl_channel_credentials(
                root_certificates=root, private_key=_read_private(key),
                certificate_chain=chain)
            self._channel = grpc.secure_channel(address, credentials,
                                                options=list(options))
        self.address = address
        self.retry = retry or RetryPolicy()
        self.timeout_s = timeout_s
        self._sleep = sleep
        self._ingest = ingest_pb2_grpc.IngestStub(self._channel)
        self._proof = proof_pb2_grpc.ProofStub(self._channel)
        self._admin = admin_pb2_grpc.AdminStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method_name, method, request):
        policy = self.retry
        end = time.monotonic() + policy.deadline_s
        attempt = 0
        while True:
            attempt += 1
            timeout = min(self.timeout_s, max(end - time.monotonic(), 0.001))
            try:
                return method(request, timeout=timeout)
            except grpc.RpcError as e:
                code = e.code()
                if code not in policy.retry_codes or attempt >= policy.max_attempts:
                    raise AppendError(method_name, code, e.details(), attempt,
                                      field_violations(e)) from None
                hint = retry_hint_seconds(e)
                if hint is not None:
                    wait = min(hint, policy.max_hint_s)
                else:
                    cap = min(policy.max_backoff_s, policy.initial_backoff_s *
                              policy.multiplier ** (attempt - 1))
                    wait = random.uniform(0, cap)
                if time.monotonic() + wait >= end:
                    raise AppendError(method_name, code, e.details(), attempt) from None
                self._sleep(wait)

    def append(self, event, key):
        """Signs `event` with `key` (a SigningKey) as a batch of one and
        appends it. Returns its EntryRef (duplicate=True if the node already
        held this exact event)."""
        batch = key.sign_batch([event])
        request = ingest_pb2.AppendRequest(
            event=event_to_proto(event),
            signature=ingest_pb2.EmitterSignature(key_id=batch.key_id,
                                                  signature=batch.signature))
        return _entry_ref(self._call("Append", self._ingest.Append, request).entry)

    def append_batch(self, events, key=None):
        """Appends events under one batch signature: either a list of Event
        and the SigningKey to sign them with, or a SignedBatch. Returns one
        EntryRef per event, in order. The node stores all of them or none."""
        if isinstance(events, SignedBatch):
            batch = events
        else:
            if key is None:
                raise MalformedError("append_batch: a key is needed to sign events")
            batch = key.sign_batch(events)
        if len(batch.events) != len(batch.event_bytes):
            raise MalformedError(
                "append_batch: the SignedBatch must keep its events (sign it with "
                "SigningKey.sign_batch)")
        request = ingest_pb2.AppendBatchRequest(
            events=[event_to_proto(e) for e in batch.events],
            signature=ingest_pb2.EmitterSignature(key_id=batch.key_id,
                                                  signature=batch.signature))
        response = self._call("AppendBatch", self._ingest.AppendBatch, request)
        return [_entry_ref(e) for e in response.entries]

    def get_receipt(self, index=None, *, tenant=None, event_id=None,
                    key_evidence=False, verify_with=None):
        """The receipt of an entry, by index or by (tenant, event_id). The
        node answers once a checkpoint covers the entry. Every receipt is
        checked to lead to the root of its own checkpoint, as ledgerctl prove
        does (VerificationError otherwise). With
        verify_with=[VerifierKey...] (the log's keys) the receipt is
        verified before it is returned (VerificationError otherwise)."""
        if (index is None) == (event_id is None):
            raise MalformedError("get_receipt: give either index or tenant and "
                                 "event_id")
        request = proof_pb2.GetReceiptRequest(key_evidence=key_evidence)
        if index is not None:
            request.index = index
        else:
            request.event.tenant = tenant or ""
            request.event.event_id = event_id
        r = self._call("GetReceipt", self._proof.GetReceipt, request)
        text = r.tlog_proof
        if not text:
            # A node that sends only the parts: the same text from them.
            text = format_tlog_proof(TlogProof(
                bytes(r.entry), r.index, [bytes(h) for h in r.proof.hashes],
                r.checkpoint.note))
        # As ledgerctl prove: the proof must lead to its own checkpoint's root.
        check_receipt_structure(text)
        receipt = Receipt(r.index, bytes(r.entry), text)
        if verify_with is not None:
            verified = verify_receipt(receipt.tlog_proof, verify_with)
            if verified.index != receipt.index:
                raise LedgerError(
                    f"the node answered the receipt of entry {verified.index}, "
                    f"asked for {receipt.index}")
        return receipt

    def get_checkpoint(self, min_size=0):
        """The latest checkpoint note (or the first of at least min_size);
        verify it with open_checkpoint()."""
        r = self._call("GetCheckpoint", self._proof.GetCheckpoint,
                       proof_pb2.GetCheckpointRequest(min_size=min_size))
        return r.note

    def node_verifier_keys(self):
        """The node's note verifier keys (log key, cosigner key) as it
        reports them. A key fetched from the node being checked proves
        nothing about it: confirm it through a channel you trust once, then
        keep it (FORMAT.md section 9.2)."""
        info = self._call("GetNodeInfo", self._admin.GetNodeInfo,
                          admin_pb2.GetNodeInfoRequest())
        return parse_verifier_keys("\n".join(info.note_verifier_keys))
