#!/usr/bin/env bash
# Full sync of a large dataset to a real redis-server 7.0 replica: Cinnabar as the master next to redis-server
# as the master, diskless (the 7.0 default) and disk-based. Reports the seconds from starting the replica to
# a finished sync (its master_link_status up), and the master's latency during the sync as seen by one client
# doing GET in a closed loop (p50/p99/p99.9/max; the same probe idle for comparison).
#
#   bench/fullsync.sh                       # 1,000,000 keys
#   KEYS=200000 MODES=diskless bench/fullsync.sh
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CINNABAR_SERVER=${CINNABAR_SERVER:-$REPO_ROOT/src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
PYTHON=${PYTHON:-python3}
KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
MODES=${MODES:-diskless disk}
MASTERS=${MASTERS:-cinnabar redis}
IDLE_SECONDS=${IDLE_SECONDS:-2}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-300}
PORT_MIN=${PORT_MIN:-17000}
PORT_MAX=${PORT_MAX:-17999}

WORK=$(mktemp -d /tmp/cinnabar-fullsync.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((PORT_MIN + RANDOM % (PORT_MAX - PORT_MIN + 1)))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
    done
    echo "no free port" >&2; exit 1
}

wait_pong() {   # port
    for _ in $(seq 1 200); do
        [[ $($REDIS_CLI -p "$1" PING 2>/dev/null) == PONG ]] && return 0
        sleep 0.05
    done
    echo "server on $1 did not start" >&2; return 1
}

# One client, GET in a closed loop until the stop file appears (or for N seconds): latency percentiles in ms.
PROBE='
import socket, sys, time, os
port, stop, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
req = b"*2\r\n$3\r\nGET\r\n$9\r\nkey:12345\r\n"
lat = []; end = time.time() + seconds if seconds > 0 else None
while True:
    if end is not None and time.time() >= end: break
    if end is None and len(lat) % 64 == 0 and os.path.exists(stop): break
    t = time.perf_counter(); s.sendall(req); buf = b""
    while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2): buf += s.recv(65536)
    lat.append((time.perf_counter() - t) * 1000)
lat.sort(); n = len(lat)
q = lambda p: lat[min(n - 1, int(p * n))]
print(f"n={n} p50={q(0.5):.3f} p99={q(0.99):.3f} p99.9={q(0.999):.3f} max={lat[-1]:.3f}")
'

info_field() {   # port field
    $REDIS_CLI -p "$1" INFO replication 2>/dev/null | tr -d '\r' | grep "^$2:" | cut -d: -f2
}

run_one() {   # master-kind mode
    local kind=$1 mode=$2 mport rport dir bin diskless
    mport=$(free_port); rport=$(free_port)
    while [[ $rport == "$mport" ]]; do rport=$(free_port); done
    dir=$WORK/$kind-$mode; mkdir -p "$dir/m" "$dir/r"
    [[ $kind == cinnabar ]] && bin=$CINNABAR_SERVER || bin=$REDIS_SERVER
    [[ $mode == diskless ]] && diskless=yes || diskless=no
    "$bin" --port "$mport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/m" --enable-debug-command yes \
        --repl-diskless-sync "$diskless" --repl-diskless-sync-delay 0 > "$dir/master.log" 2>&1 &
    local mpid=$!; PIDS+=("$mpid")
    wait_pong "$mport" || return 1
    $REDIS_CLI -p "$mport" DEBUG POPULATE "$KEYS" key "$VALUE_SIZE" > /dev/null
    local idle
    idle=$($PYTHON -c "$PROBE" "$mport" "$dir/stop" "$IDLE_SECONDS")
    rm -f "$dir/stop"
    $PYTHON -c "$PROBE" "$mport" "$dir/stop" 0 > "$dir/probe.out" &
    local probe=$!
    local t0 t1
    t0=$(date +%s.%N)
    "$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/r" \
        --replicaof 127.0.0.1 "$mport" > "$dir/replica.log" 2>&1 &
    local rpid=$!; PIDS+=("$rpid")
    local deadline=$(( $(date +%s) + SYNC_TIMEOUT )) ok=0
    while (( $(date +%s) < deadline )); do
        if [[ $(info_field "$rport" master_link_status) == up ]]; then ok=1; break; fi
        sleep 0.02
    done
    t1=$(date +%s.%N)
    touch "$dir/stop"; wait "$probe"
    local keys
    keys=$($REDIS_CLI -p "$rport" DBSIZE)
    printf '%-9s %-9s sync %6.2f s  replica keys %-8s during sync: %s\n' "$kind" "$mode" \
        "$(echo "$t1 - $t0" | bc)" "$keys" "$(cat "$dir/probe.out")"
    printf '%-9s %-9s                                       idle:        %s\n' "$kind" "$mode" "$idle"
    [[ $ok == 1 ]] || { echo "  sync did not finish: see $dir" >&2; tail -5 "$dir/master.log" "$dir/replica.log" >&2; }
    kill "$rpid" "$mpid" 2>/dev/null; wait "$rpid" "$mpid" 2>/dev/null
}

echo "full sync of $KEYS keys (${VALUE_SIZE}-byte values) to a redis-server replica; latency in ms (one client, GET)"
for mode in $MODES; do
    for kind in $MASTERS; do run_one "$kind" "$mode"; done
done
