"""Python SDK of the annotation ledger.

- Canonical event encoding and batch signing, byte-identical to the C++
  (ledger/FORMAT.md): Event, encode_event, SigningKey.sign_batch.
- A gRPC client with retries and idempotent appends: Client (imports the
  generated stubs, package annotation_ledger_proto, on first use).
- Offline verification of receipts (c2sp.org/tlog-proof) and checkpoints in
  pure Python: verify_receipt, open_checkpoint, read_verifier_keys.

See docs/sdk-python.md.
"""

from .checkpoint import Checkpoint, open_checkpoint
from .encoding import (ACTOR_HUMAN, ACTOR_MODEL, ACTOR_SERVICE, ANNOTATION,
                       DATASET, FAILURE, ITEM, SUCCESS, Actor, Event, Outcome,
                       Ref, Source, decode_event, encode_event, new_event_id)
from .entry import Entry, decode_entry
from .errors import LedgerError, MalformedError, VerificationError
from .receipt import VerifiedReceipt, parse_tlog_proof, verify_receipt
from .rfc6962 import leaf_hash
from .signing import (SignedBatch, SigningKey, VerifierKey, key_id_of,
                      parse_verifier_keys, read_verifier_keys,
                      verify_entry_signature)

__version__ = "0.1.0"

__all__ = [
    "ACTOR_HUMAN", "ACTOR_MODEL", "ACTOR_SERVICE", "ANNOTATION", "DATASET",
    "FAILURE", "ITEM", "SUCCESS", "Actor", "AppendError", "Checkpoint",
    "Client", "Entry", "EntryRef", "Event", "FieldViolation", "LedgerError",
    "MalformedError",
    "Outcome", "Receipt", "Ref", "RetryPolicy", "SignedBatch", "SigningKey",
    "Source", "VerificationError", "VerifiedReceipt", "VerifierKey",
    "decode_entry", "decode_event", "encode_event", "key_id_of", "leaf_hash",
    "new_event_id", "open_checkpoint", "parse_tlog_proof",
    "parse_verifier_keys", "read_verifier_keys", "verify_entry_signature",
    "verify_receipt",
]


def __getattr__(name):
    # The client needs grpcio and the generated stubs; encoding and
    # verification do not, so they work without either.
    if name in ("Client", "RetryPolicy", "AppendError", "Receipt", "EntryRef",
                "FieldViolation"):
        from . import client
        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
