#!/usr/bin/env bash
# Starts or stops the local AWS server the tests use: ministack (pinned, from PyPI), one
# process that speaks the S3, DynamoDB and SQS wire protocols on a loopback port.
#
#   scripts/aws-server.sh start   install (once) into a venv, start in the background unless
#                                 something already answers the health endpoint, wait until it
#                                 does; prints the endpoint URL (only that) on stdout
#   scripts/aws-server.sh stop    stop the server this script started (by its PID file only)
#
# Settings (env):
#   AXIA_CACHE_DIR        venv, PID file and log (default ${XDG_CACHE_HOME:-$HOME/.cache}/axia)
#   AXIA_TEST_AWS_PORT    port on 127.0.0.1 (default 4566)
#   AXIA_AWS_SERVER_READY_TIMEOUT  seconds to wait for the health endpoint (default 60)
#
# The server keeps its state in memory; tests give every bucket / table / queue its own name.
# Status messages go to stderr; failures exit non-zero with a message saying what to check.
set -euo pipefail

MINISTACK_VERSION="1.5.33"
HEALTH_PATH="/_ministack/health"
host=127.0.0.1
port="${AXIA_TEST_AWS_PORT:-4566}"
cache="${AXIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/axia}"
ready_timeout="${AXIA_AWS_SERVER_READY_TIMEOUT:-60}"

say() { printf 'aws-server.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "AXIA_TEST_AWS_PORT must be a port number, not '$port'"
mkdir -p "$cache" || die "cannot create the cache directory $cache (set AXIA_CACHE_DIR)"
cache="$(cd "$cache" && pwd)"
venv="$cache/aws-venv"
state="$cache/aws-server"
pidfile="$state/ministack-$port.pid"
logfile="$state/ministack-$port.log"
url="http://$host:$port"
mkdir -p "$state"

# One start or stop at a time (concurrent test runs share the server).
exec 9>"$state/.lock"
flock -w 300 9 || die "another aws-server.sh holds $state/.lock for more than 300 s"

# True when the health endpoint answers 2xx (plain bash: no curl or python needed).
healthy() {
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$HEALTH_PATH" "$host" "$port" >&3
        read -r -t 2 status_line <&3 || exit 1
        [[ "$status_line" =~ ^HTTP/[0-9.]+\ 2[0-9][0-9] ]]
    ) 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

# The PID in our PID file, when that process is alive and runs from our venv (not a recycled PID).
our_pid() {
    local pid
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$venv/" \
        && printf '%s\n' "$pid"
}

install() {
    local have
    have="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("ministack"))' 2>/dev/null || true)"
    [[ "$have" == "$MINISTACK_VERSION" ]] && return 0
    command -v python3 >/dev/null || die "python3 (>= 3.10) is required (apt-get install python3 python3-venv)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "ministack needs python3 >= 3.10, found $(python3 --version 2>&1)"
    say "installing ministack==$MINISTACK_VERSION into $venv"
    local started=$SECONDS
    rm -rf "$venv"
    python3 -m venv "$venv" || die "cannot create a virtualenv in $venv (apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "ministack==$MINISTACK_VERSION" \
        || die "cannot install ministack==$MINISTACK_VERSION from PyPI (check the network or a pip proxy)"
    say "installed in $((SECONDS - started)) s"
}

start() {
    if healthy; then
        say "reusing the server that answers $url$HEALTH_PATH"
        printf '%s\n' "$url"
        return 0
    fi
    install
    local pid
    if pid="$(our_pid)"; then
        say "ministack (pid $pid) is running but does not answer yet; waiting"
    else
        rm -f "$pidfile"
        port_open && die "$host:$port is taken by a process that is not ministack: stop it or set AXIA_TEST_AWS_PORT to a free port"
        mkdir -p "$state/tmp"
        printf '=== start %s\n' "$(date -u +%FT%TZ)" >>"$logfile"
        # setsid: the server outlives this script and the test run; 9>&- keeps the lock out of it.
        env GATEWAY_PORT="$port" BIND_HOST="$host" TMPDIR="$state/tmp" S3_DATA_DIR="$state/tmp/s3" \
            setsid "$venv/bin/ministack" </dev/null >>"$logfile" 2>&1 9>&- &
        pid=$!
        printf '%s\n' "$pid" >"$pidfile"
        say "started ministack $MINISTACK_VERSION (pid $pid) on $url, log $logfile"
    fi
    local started deadline
    started=$(date +%s%N)
    deadline=$((SECONDS + ready_timeout))
    until healthy; do
        if ! our_pid >/dev/null; then
            rm -f "$pidfile"
            tail -n 20 "$logfile" >&2 || true
            die "ministack exited during startup (log above, full log $logfile)"
        fi
        if ((SECONDS >= deadline)); then
            kill "$pid" 2>/dev/null || true
            rm -f "$pidfile"
            tail -n 20 "$logfile" >&2 || true
            die "ministack did not answer $url$HEALTH_PATH within $ready_timeout s; stopped it (log $logfile)"
        fi
        sleep 0.1
    done
    say "ready on $url after $((($(date +%s%N) - started) / 1000000)) ms"
    printf '%s\n' "$url"
}

stop() {
    local pid
    if ! pid="$(our_pid)"; then
        [[ -f "$pidfile" ]] && say "removing the stale PID file $pidfile"
        rm -f "$pidfile"
        say "no ministack started by this script runs on port $port"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        say "ministack (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    say "stopped ministack (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop" ;;
esac
