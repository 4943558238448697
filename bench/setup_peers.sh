#!/usr/bin/env bash
# Creates a separate virtualenv for the peer engines that bench/llm_throughput.py compares
# against (bespokelabs-curator, distilabel, the plain openai SDK), so they never disturb the
# main environment. Idempotent: packages already importable in the venv are not reinstalled.
#
#   bash bench/setup_peers.sh [VENV_DIR]        # default: bench/.peers-venv
#   PYTHON=python3.11 bash bench/setup_peers.sh # interpreter the venv is made from
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.peers-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtualenv $venv (from $($python -c 'import sys; print(sys.executable)'))"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
fi
py="$venv/bin/python"

# "module:package" pairs; a package is installed only when its module cannot be imported
wanted=(openai:openai bespokelabs.curator:bespokelabs-curator distilabel:distilabel)
missing=()
for pair in "${wanted[@]}"; do
    module="${pair%%:*}"
    package="${pair#*:}"
    if ! "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('${module%%.*}') is None \
            or importlib.util.find_spec('$module') is None)" 2>/dev/null; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing into $venv: ${missing[*]}"
    "$py" -m pip install -q "${missing[@]}"
else
    echo "peers already installed in $venv"
fi

# curator counts tokens with tiktoken's cl100k_base, which it would download; litellm ships the
# file in its wheel, and peers.py points TIKTOKEN_CACHE_DIR there. Check it is found offline.
"$py" - <<'PY'
import importlib.metadata as md
import importlib.util
import os

for dist in ("openai", "bespokelabs-curator", "distilabel", "litellm", "tiktoken"):
    try:
        print(f"  {dist:<20} {md.version(dist)}")
    except md.PackageNotFoundError:
        print(f"  {dist:<20} MISSING")
spec = importlib.util.find_spec("litellm")
tok = os.path.join(os.path.dirname(spec.origin), "litellm_core_utils", "tokenizers") if spec else ""
if tok and os.path.isdir(tok):
    print(f"  tiktoken cache dir   {tok} ({len(os.listdir(tok))} files)")
else:
    print("  warning: litellm's bundled tokenizer files not found; curator may try to download cl100k_base")
PY
echo "peer python: $py"
