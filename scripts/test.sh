#!/usr/bin/env bash
# Runs every test of axia, with the services the tests need.
#
# Prepares (idempotently, from the package registries) a Python virtualenv with pyarrow and
# DuckDB, used by the tests that read axia's Parquet files with other tools, makes sure a
# redis-server answers on loopback (starting one when none does), then runs
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

# --- Redis -------------------------------------------------------------------------------
# The Redis adapter's tests run against a real redis-server; start one on loopback if none answers.
redis_port="${AXIA_TEST_REDIS_PORT:-6379}"
export AXIA_TEST_REDIS_URL="${AXIA_TEST_REDIS_URL:-redis://127.0.0.1:$redis_port/0}"
redis_ping() { (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ "$reply" == +PONG* ]]) 2>/dev/null; }
if ! redis_ping; then
    command -v redis-server >/dev/null || die "no Redis answers on 127.0.0.1:$redis_port and redis-server is not installed (apt-get install redis-server)"
    say "starting redis-server on 127.0.0.1:$redis_port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
        --pidfile "$cache/redis-$redis_port.pid" --logfile "$cache/redis-$redis_port.log" \
        || die "cannot start redis-server (see $cache/redis-$redis_port.log)"
    for _ in $(seq 50); do redis_ping && break; sleep 0.1; done
    redis_ping || die "redis-server did not answer on 127.0.0.1:$redis_port (see $cache/redis-$redis_port.log)"
fi

# --- Tests --------------------------------------------------------------------------------
say "cargo test (target dir $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"
