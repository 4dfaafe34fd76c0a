#!/usr/bin/env bash
# Fails if clang-format (Google style, .clang-format) would change any of our
# C++ files. Usage: check_format.sh [ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
command -v clang-format >/dev/null || { echo "clang-format is not installed" >&2; exit 1; }
files=$(git ls-files -co --exclude-standard -- '*.h' '*.cc' 2>/dev/null || find base crypto ledger node tools tests -name '*.h' -o -name '*.cc')
existing=()
for f in $files; do [ -f "$f" ] && existing+=("$f"); done
[ ${#existing[@]} -eq 0 ] && exit 0
# One run over every file; clang-format names each file it would change.
if ! out=$(clang-format --dry-run -Werror "${existing[@]}" 2>&1); then
  echo "$out" | grep -o '^[^:]*\.\(h\|cc\):' | sort -u | sed 's/:$//; s/^/needs clang-format: /'
  exit 1
fi
