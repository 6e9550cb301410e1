#!/usr/bin/env bash
# Resharding speed: a three-master cluster holding KEYS keys (loaded by a pipeline to each key's owner), then
# `redis-cli --cluster reshard` moving a third of the slots (5461) from the first master to the second, timed.
# Reports seconds, slots/s and keys/s, for a Cinnabar cluster and a redis-server cluster side by side, and checks
# that no key was lost (the DBSIZE sum is the same before and after).
#
#   bench/reshard.sh                      # 1,000,000 keys, both kinds
#   KEYS=100000 KINDS=cinnabar bench/reshard.sh
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CINNABAR_SERVER=${CINNABAR_SERVER:-$REPO_ROOT/src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
PYTHON=${PYTHON:-python3}
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
SLOTS=${SLOTS:-5461}
PIPELINE=${PIPELINE:-10}          # redis-cli's --cluster-pipeline (keys per MIGRATE); 10 is its default
KINDS=${KINDS:-cinnabar redis}
PORT_MIN=${PORT_MIN:-15000}
PORT_MAX=${PORT_MAX:-15999}

WORK=$(mktemp -d /tmp/cinnabar-reshard.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; }
free_port() {   # a port whose bus port (+10000) is free too
    local p
    for _ in $(seq 1 500); do
        p=$((PORT_MIN + RANDOM % (PORT_MAX - PORT_MIN + 1)))
        if port_free "$p" && port_free $((p + 10000)); then echo "$p"; return; fi
    done
    echo "no free port" >&2; exit 1
}

wait_pong() {
    for _ in $(seq 1 200); do
        [[ $($REDIS_CLI -p "$1" PING 2>/dev/null) == PONG ]] && return 0
        sleep 0.05
    done
    echo "server on $1 did not start" >&2; return 1
}

# Loads N keys "key:i" (VALUE_SIZE bytes), each sent to the master that owns its slot, 1000 commands a batch.
LOAD='
import socket, sys
ports, n, size = [int(p) for p in sys.argv[1].split(",")], int(sys.argv[2]), int(sys.argv[3])
table = [0] * 256
for i in range(256):
    crc = i << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    table[i] = crc
def slot(key):
    crc = 0
    for b in key:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ b) & 0xFF]
    return crc & 16383
owner = [None] * 16384
conns = {}
for p in ports:
    conns[p] = socket.create_connection(("127.0.0.1", p))
f = {p: conns[p].makefile("rb") for p in ports}
conns[ports[0]].sendall(b"*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n")
hdr = f[ports[0]].readline(); text = f[ports[0]].read(int(hdr[1:]) + 2).decode()
for line in text.splitlines():
    parts = line.split()
    if len(parts) < 8 or "master" not in parts[2]: continue
    port = int(parts[1].split("@")[0].split(":")[1])
    for r in parts[8:]:
        if r.startswith("["): continue
        a, _, b = r.partition("-"); b = b or a
        for i in range(int(a), int(b) + 1): owner[i] = port
value = b"x" * size
pending = {p: [] for p in ports}; counts = {p: 0 for p in ports}
def flush(p):
    if not pending[p]: return
    conns[p].sendall(b"".join(pending[p]))
    for _ in pending[p]:
        if not f[p].readline().startswith(b"+"): raise SystemExit("SET failed")
    pending[p] = []
for i in range(n):
    k = b"key:%d" % i
    p = owner[slot(k)]
    pending[p].append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, value))
    if len(pending[p]) >= 1000: flush(p)
for p in ports: flush(p)
'

dbsize_sum() { local t=0; for p in "$@"; do t=$((t + $($REDIS_CLI -p "$p" DBSIZE))); done; echo "$t"; }

run_kind() {   # kind
    local kind=$1 bin dir ports=() p
    [[ $kind == cinnabar ]] && bin=$CINNABAR_SERVER || bin=$REDIS_SERVER
    for i in 0 1 2; do
        p=$(free_port); dir=$WORK/$kind-$p; mkdir -p "$dir"
        (cd "$dir" && exec "$bin" --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
            --cluster-enabled yes --cluster-node-timeout 5000 > "$dir/log" 2>&1) &
        PIDS+=($!); ports+=("$p")
        wait_pong "$p" || return 1
    done
    $REDIS_CLI --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-yes > "$WORK/$kind-create.log" 2>&1 || { cat "$WORK/$kind-create.log" >&2; return 1; }
    for _ in $(seq 1 200); do
        $REDIS_CLI --cluster check "127.0.0.1:${ports[0]}" > /dev/null 2>&1 && break
        sleep 0.1
    done
    for _ in $(seq 1 200); do
        local ok=1
        for p in "${ports[@]}"; do $REDIS_CLI -p "$p" CLUSTER INFO | grep -q "cluster_state:ok" || ok=0; done
        [[ $ok == 1 ]] && break
        sleep 0.1
    done
    local t0 t1
    t0=$(date +%s.%N)
    $PYTHON -c "$LOAD" "$(IFS=,; echo "${ports[*]}")" "$KEYS" "$VALUE_SIZE" || return 1
    t1=$(date +%s.%N)
    local before on_src from to
    before=$(dbsize_sum "${ports[@]}")
    on_src=$($REDIS_CLI -p "${ports[0]}" DBSIZE)
    from=$($REDIS_CLI -p "${ports[0]}" CLUSTER MYID); to=$($REDIS_CLI -p "${ports[1]}" CLUSTER MYID)
    local r0 r1
    r0=$(date +%s.%N)
    $REDIS_CLI --cluster reshard "127.0.0.1:${ports[0]}" --cluster-from "$from" --cluster-to "$to" \
        --cluster-slots "$SLOTS" --cluster-pipeline "$PIPELINE" --cluster-yes > "$WORK/$kind-reshard.log" 2>&1 \
        || { echo "reshard failed:" >&2; tail -20 "$WORK/$kind-reshard.log" >&2; return 1; }
    r1=$(date +%s.%N)
    local moved after secs
    moved=$((on_src - $($REDIS_CLI -p "${ports[0]}" DBSIZE)))
    after=$(dbsize_sum "${ports[@]}")
    secs=$(echo "$r1 - $r0" | bc)
    printf "%-9s %9d %8.1f %10.1f %8d %9.0f %10.0f %s\n" "$kind" "$before" "$(echo "$t1 - $t0" | bc)" "$secs" "$SLOTS" \
        "$(echo "$SLOTS / $secs" | bc -l)" "$(echo "$moved / $secs" | bc -l)" \
        "$([[ $before == "$after" ]] && echo "none lost ($moved moved)" || echo "LOST $((before - after))")"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
}

echo "redis-cli --cluster reshard of $SLOTS slots out of three masters holding $KEYS keys (${VALUE_SIZE}-byte values), --cluster-pipeline $PIPELINE"
printf "%-9s %9s %8s %10s %8s %9s %10s %s\n" server keys load_s reshard_s slots slots/s keys/s check
for kind in $KINDS; do run_kind "$kind" || echo "$kind: failed" >&2; done
