#!/usr/bin/env python3
"""Checks #include edges and test-only code against scripts/source-dependencies.json.

Every C++ file belongs to the first module whose path prefix matches it; each
quoted or angled include that names one of our modules (or a guarded external
library) must be allowed for the including module (its "may_include", and for
its test files also its "test_may_include"). No file outside the test
code ("test_only" files) may include a test-only header.

With --targets FILE (the target list CMake writes into the build directory,
ledger-targets.json), also checks the link graph: no target outside the
tests (test executables, targets named like a test helper or defined in
tests/) may link a test helper or GTest, directly or through other targets.

Prints every violation and exits 1 if there is any.
"""
import argparse
import fnmatch
import json
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
LINK_ONLY = re.compile(r'^\$<LINK_ONLY:(.*)>$')


def module_of(path, modules):
    for name, spec in modules.items():
        if any(path.startswith(p) for p in spec["paths"]):
            return name
    return None


def matches(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def check_includes(root, policy):
    modules = policy["modules"]
    external = policy["external"]
    forbidden = policy["forbidden_external"]
    test_files = policy["test_only"]["files"]
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
                is_test = matches(rel, test_files)
                with open(full, encoding="utf-8") as f:
                    text = f.read()
                for inc in INCLUDE.findall(text):
                    if not is_test and matches(inc, test_files):
                        violations.append(
                            f"{rel}: is not test code but includes the "
                            f"test-only header \"{inc}\"")
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
                        allowed = modules[src]["may_include"]
                        if is_test:
                            allowed = allowed + modules[src].get(
                                "test_may_include", [])
                        if dst is not None and dst not in allowed:
                            violations.append(
                                f"{rel}: {src} may not include \"{inc}\" "
                                f"({dst})")
    return checked, violations


def check_links(targets_file, policy):
    """Product targets must not reach a test-only target or GTest."""
    spec = policy["test_only"]
    with open(targets_file, encoding="utf-8") as f:
        targets = {t["name"]: t for t in json.load(f)["targets"]}

    def test_only(name):
        t = targets[name]
        return (t["test"] or matches(name, spec["target_patterns"]) or
                any(t["dir"] == d or t["dir"].startswith(d + "/")
                    for d in spec["target_dirs"]))

    def links(name):
        for lib in targets[name]["links"]:
            m = LINK_ONLY.match(lib)
            yield m.group(1) if m else lib

    violations = []
    products = sorted(n for n in targets if not test_only(n))
    for name in products:
        # Depth-first over our own targets, remembering the path.
        seen = {name}
        stack = [(name, [name])]
        while stack:
            current, path = stack.pop()
            for lib in links(current):
                via = " -> ".join(path + [lib])
                if lib in targets:
                    if test_only(lib):
                        violations.append(
                            f"{name} ({targets[name]['dir']}) links the test "
                            f"helper {lib}: {via}")
                    elif lib not in seen:
                        seen.add(lib)
                        stack.append((lib, path + [lib]))
                elif matches(lib, spec["forbidden_links"]):
                    violations.append(f"{name} ({targets[name]['dir']}) "
                                      f"links {lib}: {via}")
    return len(products), violations


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?",
                        default=os.path.join(os.path.dirname(__file__), ".."))
    parser.add_argument("--targets", help="ledger-targets.json of a build")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    with open(os.path.join(root, "scripts", "source-dependencies.json")) as f:
        policy = json.load(f)
    checked, violations = check_includes(root, policy)
    summary = f"checked {checked} files"
    if args.targets:
        products, link_violations = check_links(args.targets, policy)
        violations += link_violations
        summary += f" and the links of {products} non-test targets"
    for v in violations:
        print(v)
    print(f"{summary}, {len(violations)} violation(s)")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
