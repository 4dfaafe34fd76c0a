#!/usr/bin/env python3
"""Checks #include edges against scripts/source-dependencies.json.

Every C++ file belongs to the first module whose path prefix matches it; each
quoted or angled include that names one of our modules (or a guarded external
library) must be allowed for the including module. Prints every violation
and exits 1 if there is any.
"""
import json
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def module_of(path, modules):
    for name, spec in modules.items():
        if any(path.startswith(p) for p in spec["paths"]):
            return name
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    with open(os.path.join(root, "scripts", "source-dependencies.json")) as f:
        policy = json.load(f)
    modules = policy["modules"]
    external = policy["external"]
    forbidden = policy["forbidden_external"]
    violations = []
    checked = 0
    for folder in ("base", "crypto", "ledger", "node", "tools", "tests"):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                src = module_of(rel, modules)
                if src is None:
                    violations.append(f"{rel}: belongs to no module")
                    continue
                checked += 1
                with open(full, encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    for ext, prefixes in external.items():
                        if any(inc.startswith(p) for p in prefixes):
                            if ext in forbidden.get(src, []):
                                violations.append(
                                    f"{rel}: {src} must not include {ext} "
                                    f"header <{inc}>")
                            elif ext in ("rocksdb", "proto") and \
                                    ext not in modules[src]["may_include"]:
                                violations.append(
                                    f"{rel}: {src} may not include <{inc}>")
                            break
                    else:
                        dst = module_of(inc, modules)
                        if dst is not None and \
                                dst not in modules[src]["may_include"]:
                            violations.append(
                                f"{rel}: {src} may not include \"{inc}\" "
                                f"({dst})")
    for v in violations:
        print(v)
    print(f"checked {checked} files, {len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
