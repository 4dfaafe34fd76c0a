"""RFC 6962 / RFC 9162 Merkle trees over SHA-256 (FORMAT.md section 6).

The ledger's tree and every emitter batch use this construction: leaf hash
SHA-256(0x00 || bytes), interior node SHA-256(0x01 || left || right), the
split at the largest power of two below the size.
"""

import hashlib

from .errors import MalformedError, VerificationError

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def path_length(index, size):
    """Hashes in the RFC 9162 inclusion proof of leaf `index` of `size`."""
    n = 0
    while size > 1:
        k = 1 << ((size - 1).bit_length() - 1)
        if index < k:
            size = k
        else:
            index -= k
            size -= k
        n += 1
    return n


def _split(n):
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes):
    """MTH over the given leaf hashes (SHA-256("") for none)."""
    leaf_hashes = list(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    # Bottom-up with RFC 6962's shape: pairing left to right and carrying an
    # odd last node up unchanged gives the same tree as the recursive split.
    level = leaf_hashes
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1])
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_path(index, leaf_hashes):
    """The RFC 9162 section 2.1.3.1 inclusion proof of leaf `index`."""
    leaf_hashes = list(leaf_hashes)
    if not 0 <= index < len(leaf_hashes):
        raise MalformedError(
            f"index {index} is outside a tree of {len(leaf_hashes)} leaves")
    path = []

    def walk(i, leaves):
        if len(leaves) <= 1:
            return
        k = _split(len(leaves))
        if i < k:
            walk(i, leaves[:k])
            path.append(root(leaves[k:]))
        else:
            walk(i - k, leaves[k:])
            path.append(root(leaves[:k]))

    walk(index, leaf_hashes)
    return path


def root_from_inclusion(leaf, index, size, proof):
    """The root that `proof` leads to from `leaf` at `index` in a tree of
    `size` (RFC 9162 section 2.1.3.2). MalformedError if the index is not
    below the size or the proof has the wrong number of hashes."""
    if not 0 <= index < size:
        raise MalformedError(
            f"leaf index {index} is not below the tree size {size}")
    want = path_length(index, size)
    if len(proof) != want:
        raise MalformedError(
            f"inclusion proof has {len(proof)} hashes; index {index} in a "
            f"tree of {size} needs {want}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if len(p) != 32:
            raise MalformedError(f"proof hash of {len(p)} bytes, expected 32")
        if sn == 0:  # Cannot happen with the length check above.
            raise MalformedError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # Cannot happen with the length check above.
        raise MalformedError("inclusion proof is too short")
    return r


def verify_inclusion(leaf, index, size, proof, expected_root, check="inclusion"):
    """Raises VerificationError (naming `check`) unless the proof leads from
    `leaf` at `index` in a tree of `size` to `expected_root`."""
    try:
        got = root_from_inclusion(leaf, index, size, proof)
    except MalformedError as e:
        raise VerificationError(check, str(e)) from None
    if got != expected_root:
        raise VerificationError(
            check,
            f"the inclusion proof of leaf {leaf.hex()} at index {index} leads "
            f"to root {got.hex()}, not to the tree's root "
            f"{expected_root.hex()} (size {size})")
