"""The SDK's exceptions.

The ledger's C++ code reports errors as absl::Status codes; the SDK maps the
two kinds a caller must tell apart onto exceptions:

- MalformedError (InvalidArgument): input that does not parse or is out of
  range, e.g. a tlog-proof line that is not base64, an event field that
  cannot be encoded. The message names the field or line.
- VerificationError (DataLoss / NotFound): well-formed input that does not
  verify: a signature, hash or inclusion proof that does not match, or no
  signature by a trusted key. `check` names the failed step.
"""


class LedgerError(Exception):
    """Base class of every error the SDK raises itself."""


class MalformedError(LedgerError, ValueError):
    """Input that does not parse or cannot be encoded."""


class VerificationError(LedgerError):
    """Well-formed input that does not verify.

    `check` names the step that failed, with the names ledger-verify uses in
    its reports: "parse", "checkpoint", "inclusion", "entry", "index",
    "event", "key_evidence" or "emitter".
    """

    def __init__(self, check, message):
        super().__init__(f"{check}: {message}")
        self.check = check
        self.detail = message
