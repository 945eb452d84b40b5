#!/usr/bin/env bash
# Install what the tests need (the package with its [test] extra, Debian's chromium for the
# JavaScript-rendered pages) and run the suite. Safe to re-run; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS=""
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
python -m pip install -q -e '.[test]'
ruff check .
python -m pytest -q "$@"
