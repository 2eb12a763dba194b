#!/usr/bin/env bash
# The whole test suite (README's test command, and what CI runs): notebooks clean, library in
# sync, README in sync, every notebook executed, pytest, and the docs preprocessing.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore::DeprecationWarning

step() { printf '\n== %s\n' "$*"; }
snapshot() { git ls-files -co --exclude-standard -- nbs fae_book README.md | LC_ALL=C sort | while IFS= read -r f; do [ -f "$f" ] && sha1sum "$f"; done; }
unchanged_by() {
  local before after; before=$(snapshot); "$@" >/dev/null; after=$(snapshot)
  if [ "$before" != "$after" ]; then
    echo "FAIL: '$*' changed these files; run it and commit the result:"
    diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u
    exit 1
  fi
  echo "ok: '$*' leaves the tree unchanged"
}

step "notebooks are clean"
unchanged_by nbdev-clean
step "library is in sync with the notebooks"
unchanged_by nbdev-export
step "README.md is in sync with nbs/index.ipynb"
python tools/readme.py --check
step "every notebook runs top to bottom (nbdev-test)"
nbdev-test --n-workers 2 --timing
step "docs preprocessing (nbdev-proc-nbs through its Python API)"
python tools/proc_docs.py
step "pytest"
python -m pytest -q -p no:cacheprovider
