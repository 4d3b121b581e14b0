#!/usr/bin/env bash
# Runs every test of axia, with the services the tests need.
#
# Prepares (idempotently, from the package registries) a Python virtualenv with pyarrow and
# DuckDB, used by the tests that read axia's Parquet files with other tools, makes sure a
# redis-server answers on loopback (starting one when none does) and a three-primary Redis
# Cluster too (ports 7101-7103 by default, reused when every node is healthy; both are left running for the
# next run), then runs `cargo test --workspace`. Fails with a message when something cannot be
# installed or started: no test is ever skipped silently. Debian's chromium (the headless browser
# of the chart tests) is installed with apt-get when missing.
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

# --- Headless Chromium (axia chart's HTML page) ---------------------------------------------
# The chart e2e tests open the generated page in a real headless browser (Debian's chromium).
if ! command -v chromium >/dev/null; then
    say "installing chromium (apt-get)"
    if [[ $(id -u) -eq 0 ]]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
    "${apt_get[@]}" install -y chromium >&2 \
        || { "${apt_get[@]}" update >&2 && "${apt_get[@]}" install -y chromium >&2; } \
        || die "cannot install chromium (apt-get install chromium): the chart tests need a headless browser"
fi
AXIA_TEST_CHROMIUM="$(command -v chromium)" || die "chromium is not on PATH after installing it"
export AXIA_TEST_CHROMIUM

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

# --- Redis Cluster --------------------------------------------------------------------------
# The cluster tests need a real three-primary Redis Cluster on loopback. Reuse one whose nodes
# all answer `cluster_state:ok` (the first alone may still say ok for the node timeout, 15 s,
# after another died); otherwise start the nodes afresh (in a wiped directory: a nodes-*.conf
# left from an earlier boot would make the nodes reload a stale topology) and create it.
read -r -a cluster_ports <<<"${AXIA_TEST_REDIS_CLUSTER_PORTS:-7101 7102 7103}"
((${#cluster_ports[@]} == 3)) || die "AXIA_TEST_REDIS_CLUSTER_PORTS must name three ports, not '${cluster_ports[*]}'"
cluster_dir="$cache/redis-cluster"
command -v redis-cli >/dev/null || die "redis-cli is required to create the test Redis Cluster (apt-get install redis-tools)"
node_cli() { local port="$1"; shift; redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }
node_ping() { [[ "$(node_cli "$1" PING)" == PONG ]]; }
node_ok() { [[ "$(node_cli "$1" CLUSTER INFO)" == *cluster_state:ok* ]]; }
cluster_ok() { local p; for p in "${cluster_ports[@]}"; do node_ok "$p" || return 1; done; }
if cluster_ok; then
    say "reusing the Redis Cluster on 127.0.0.1:${cluster_ports[0]}"
else
    command -v redis-server >/dev/null || die "no Redis Cluster answers on 127.0.0.1:${cluster_ports[0]} and redis-server is not installed (apt-get install redis-server)"
    started=$(date +%s%N)
    # A node still answering is either one this script started in an earlier run (its pid is in
    # our pidfile: stop it, the cluster is rebuilt) or someone else's (never touched: fail).
    for port in "${cluster_ports[@]}"; do
        node_ping "$port" || continue
        pid="$(node_cli "$port" INFO server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')"
        [[ -n "$pid" && "$pid" == "$(cat "$cluster_dir/redis-$port.pid" 2>/dev/null)" ]] \
            || die "127.0.0.1:$port answers but is not a node of a healthy Redis Cluster, and this script did not start it: stop it or set AXIA_TEST_REDIS_CLUSTER_PORTS to three free ports"
        say "stopping the stale cluster node on 127.0.0.1:$port (pid $pid)"
        node_cli "$port" SHUTDOWN NOSAVE >/dev/null || true
        for _ in $(seq 50); do node_ping "$port" || break; sleep 0.1; done
        ! node_ping "$port" || die "the stale cluster node on 127.0.0.1:$port (pid $pid) did not stop"
    done
    rm -rf "$cluster_dir"
    mkdir -p "$cluster_dir"
    say "starting a Redis Cluster on 127.0.0.1:${cluster_ports[*]} (in $cluster_dir)"
    for port in "${cluster_ports[@]}"; do
        redis-server --cluster-enabled yes --cluster-config-file "$cluster_dir/nodes-$port.conf" \
            --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
            --pidfile "$cluster_dir/redis-$port.pid" --logfile "$cluster_dir/redis-$port.log" --dir "$cluster_dir" \
            || die "cannot start the cluster node on 127.0.0.1:$port (see $cluster_dir/redis-$port.log)"
    done
    for port in "${cluster_ports[@]}"; do
        for _ in $(seq 50); do node_ping "$port" && break; sleep 0.1; done
        node_ping "$port" || die "the cluster node on 127.0.0.1:$port did not answer (see $cluster_dir/redis-$port.log; its bus port $((port + 10000)) must be free too)"
    done
    nodes=()
    for port in "${cluster_ports[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$cluster_dir/create.log" 2>&1 \
        || die "redis-cli --cluster create failed (see $cluster_dir/create.log)"
    for _ in $(seq 100); do cluster_ok && break; sleep 0.1; done
    cluster_ok || die "the Redis Cluster on 127.0.0.1:${cluster_ports[*]} did not reach cluster_state:ok (see $cluster_dir/*.log)"
    say "Redis Cluster ready in $(( ($(date +%s%N) - started) / 1000000 )) ms"
fi
export AXIA_TEST_REDIS_CLUSTER_URL="redis://127.0.0.1:${cluster_ports[0]}"

# --- Local AWS server (S3, DynamoDB, SQS) ----------------------------------------------------
# The S3 / DynamoDB / SQS adapters' tests run against ministack on loopback (installed and
# started by scripts/aws-server.sh, reused when it answers, left running for the next run), with
# fake credentials: nothing here may reach real AWS.
aws_port="${AXIA_TEST_AWS_PORT:-4566}"
AXIA_CACHE_DIR="$cache" AXIA_TEST_AWS_PORT="$aws_port" "$here/scripts/aws-server.sh" start >/dev/null \
    || die "cannot start the local AWS server on 127.0.0.1:$aws_port (see above; scripts/aws-server.sh start)"
unset AWS_PROFILE AWS_SESSION_TOKEN
export AXIA_TEST_AWS_ENDPOINT="http://127.0.0.1:$aws_port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# --- Deployment files ---------------------------------------------------------------------
# cfn-lint on the CloudFormation template (zero findings), then scripts/check_deploy.py: the IAM
# policy documents parse and match the template's managed policies, and the template's table
# has the layout `axia init` creates.
if ! "$venv/bin/python" -c 'import cfnlint' 2>/dev/null; then
    say "installing cfn-lint into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'cfn-lint==1.58.0' \
        || die "cannot install cfn-lint from PyPI (needed to lint deploy/cloudformation/axia.yaml)"
fi
"$venv/bin/cfn-lint" deploy/cloudformation/axia.yaml \
    || die "cfn-lint found problems in deploy/cloudformation/axia.yaml (listed above)"
"$venv/bin/python" scripts/check_deploy.py \
    || die "the deployment files disagree (listed above): deploy/iam/*.json, deploy/cloudformation/axia.yaml, the DynamoDB layout"

# --- Tests --------------------------------------------------------------------------------
say "cargo test (target dir $CARGO_TARGET_DIR)"
cargo test --workspace --locked "$@"
