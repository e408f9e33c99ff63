#!/usr/bin/env bash
# Sourced by the other scripts: makes sure a Python with moto's server is
# available and exports ENVMIG_PYTHON pointing at it. moto is used where it
# is installed; elsewhere it is installed with pip into .venv at the root.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
moto_version=5.2.1
has_moto() { "$1" -c 'import moto.server, flask' >/dev/null 2>&1; }
if [ -n "${ENVMIG_PYTHON:-}" ] && has_moto "$ENVMIG_PYTHON"; then
  :
elif [ -x "$root/.venv/bin/python" ] && has_moto "$root/.venv/bin/python"; then
  ENVMIG_PYTHON="$root/.venv/bin/python"
elif command -v python3 >/dev/null && has_moto python3; then
  ENVMIG_PYTHON="$(command -v python3)"
else
  command -v python3 >/dev/null || { echo "python3 is needed to run the local AWS emulator (moto)" >&2; exit 1; }
  # The version the suites are written against (its quirks are DESIGN.md's).
  echo "moto is not installed: installing moto[server] $moto_version into $root/.venv" >&2
  python3 -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$root/.venv/bin/python" -m pip install --quiet "moto[server]==$moto_version" >&2
  ENVMIG_PYTHON="$root/.venv/bin/python"
fi
export ENVMIG_PYTHON
