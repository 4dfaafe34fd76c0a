"""Reads the test vectors of ledger/FORMAT.md (sections 11 and 12) from the
file itself, with the syntax section 11 defines: a fenced block tagged
`vector` holds `name: hex` lines; a value may continue on following lines
that hold only hex; `#` starts a comment; whitespace inside values is
ignored. The C++ format_vectors_test reads the same blocks, so the Python
SDK is checked against exactly the bytes the C++ is."""

import os
import re

_NAME = re.compile(r"^([a-z][a-z0-9_.]*):(.*)$")


def format_md_path():
    env = os.environ.get("LEDGER_FORMAT_MD")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "..", "ledger", "FORMAT.md")


def load_vectors(path=None):
    """name -> bytes for every vector in the file."""
    path = path or format_md_path()
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    vectors = {}
    in_block = False
    current = None
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = stripped == "```vector" if not in_block else False
            current = None
            continue
        if not in_block:
            continue
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        m = _NAME.match(body)
        if m:
            current = m.group(1)
            if current in vectors:
                raise ValueError(f"{path}:{no}: vector {current} defined twice")
            vectors[current] = ""
            body = m.group(2)
        elif current is None:
            raise ValueError(f"{path}:{no}: hex outside a named vector")
        hex_part = re.sub(r"\s+", "", body)
        if not re.fullmatch(r"[0-9a-f]*", hex_part):
            raise ValueError(f"{path}:{no}: not lowercase hex: {body!r}")
        vectors[current] += hex_part
    out = {}
    for name, hex_text in vectors.items():
        if len(hex_text) % 2:
            raise ValueError(f"{path}: vector {name} has an odd number of digits")
        out[name] = bytes.fromhex(hex_text)
    return out
