#!/usr/bin/env bash
# Runs every test of axia, with the services the tests need.
#
# Prepares (idempotently, from the package registries) a Python virtualenv with pyarrow and
# DuckDB, used by the tests that read axia's Parquet files with other tools, then runs
# `cargo test --workspace`. Fails with a message when something cannot be installed or started:
# no test is ever skipped silently.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
cache="${AXIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/axia}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
mkdir -p "$cache"

say() { printf 'test.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- Python readers (pyarrow, DuckDB) -----------------------------------------------------
venv="$cache/venv"
if ! "$venv/bin/python" -c 'import pyarrow, duckdb' 2>/dev/null; then
    say "installing pyarrow and duckdb into $venv"
    command -v python3 >/dev/null || die "python3 is required (apt-get install python3 python3-venv)"
    python3 -m venv "$venv" || die "cannot create a virtualenv in $venv (apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'pyarrow==26.0.1' 'duckdb==2.0.0' \
        || die "cannot install pyarrow/duckdb from PyPI"
fi
export AXIA_TEST_PYTHON="$venv/bin/python"

# --- Tests --------------------------------------------------------------------------------
say "cargo test (target dir $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"
