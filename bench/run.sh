#!/usr/bin/env bash
# Compare Cinnabar against redis-server: throughput (redis-benchmark), server CPU
# time per request, memory for 1M keys, startup time, and RDB persistence (SAVE,
# BGSAVE, loading at startup, file size, throughput during BGSAVE). See bench/README.md.
#
#   bench/run.sh                                  # full run
#   QUICK=1 bench/run.sh                          # smoke run (-n 100000)
#   CINNABAR_SERVER=redis-server QUICK=1 bench/run.sh   # self-test: ratios ~1.0
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
HELPER="$SCRIPT_DIR/bench_helper.py"

CINNABAR_SERVER=${CINNABAR_SERVER:-$REPO_ROOT/src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
REDIS_CLI=${REDIS_CLI:-redis-cli}
PYTHON=${PYTHON:-python3}

QUICK=${QUICK:-0}
ROUNDS=${ROUNDS:-2}
if [[ $QUICK == 1 ]]; then N=${N:-100000}; else N=${N:-1000000}; fi
KEYSPACE=${KEYSPACE:-100000}
CLIENTS=${CLIENTS:-50}
WARMUP=${WARMUP:-1}                   # one unmeasured pass per server first (JIT warm-up)
SECTIONS=${SECTIONS:-throughput,memory,startup,persistence,cluster}
MEM_KEYS=${MEM_KEYS:-1000000}
MEM_VALUE_SIZE=${MEM_VALUE_SIZE:-100}
STARTUP_TRIALS=${STARTUP_TRIALS:-5}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}   # seconds, per redis-benchmark run
START_TIMEOUT=${START_TIMEOUT:-10}    # seconds, exec -> PONG
STOP_TIMEOUT=${STOP_TIMEOUT:-10}      # seconds, SIGTERM -> exit (then SIGKILL)
MEM_TIMEOUT=${MEM_TIMEOUT:-300}       # seconds, loading the memory data set
if [[ $QUICK == 1 ]]; then PERSIST_KEYS=${PERSIST_KEYS:-100000}; else PERSIST_KEYS=${PERSIST_KEYS:-1000000}; fi
PERSIST_TRIALS=${PERSIST_TRIALS:-3}   # SAVE, BGSAVE and load timings per server
PERSIST_BENCH_N=${PERSIST_BENCH_N:-$((N * 2))}   # SET -P 16 requests, idle and during BGSAVE
PERSIST_TIMEOUT=${PERSIST_TIMEOUT:-300}   # seconds: filling, each SAVE/BGSAVE, each load
PORT_MIN=${PORT_MIN:-16000}
PORT_MAX=${PORT_MAX:-16999}
RESULTS_JSON=${RESULTS_JSON:-$SCRIPT_DIR/results/latest.json}

CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- utilities --

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

resolve_bin() {  # name-or-path -> absolute path, or die
    local p
    p=$(command -v -- "$1" 2>/dev/null) || die "$2 not found or not executable: $1"
    [[ -x $p ]] || die "$2 not executable: $p"
    printf '%s\n' "$p"
}

WORK=""        # temp dir for logs and raw records; created once the inputs are checked
OK_EXIT=0
CHILD_PID=""  # the bounded helper command currently running, if any

declare -A SERVER_PID_KIND=()   # pid -> kind, for every server we started and not yet stopped
declare -A PORTS_USED=()        # ports handed out during this run

alive() {  # pid -> running (an exited but unreaped child is a zombie and still passes kill -0)
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

kill_bounded() {  # pid what: SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL; reaps the child
    local pid=$1 what=$2 i
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid"; then
            log "$what (pid $pid) did not exit on SIGTERM within ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    wait "$pid" 2>/dev/null
}

stop_server() {  # pid
    local pid=$1
    [[ -n ${SERVER_PID_KIND[$pid]+x} ]] || return 0
    kill_bounded "$pid" "${SERVER_PID_KIND[$pid]} server"
    unset "SERVER_PID_KIND[$pid]"
}

# bounded SECS OUT ERR CMD...: run CMD under timeout(1), in the background so that
# INT/TERM reach our traps at once; ERR may equal OUT. Returns CMD's status (124 = timed out).
bounded() {
    local secs=$1 out=$2 err=$3 rc
    shift 3
    if [[ $err == "$out" ]]; then
        timeout "$secs" "$@" </dev/null >"$out" 2>&1 &
    else
        timeout "$secs" "$@" </dev/null >"$out" 2>"$err" &
    fi
    CHILD_PID=$!
    wait "$CHILD_PID"
    rc=$?
    CHILD_PID=""
    return "$rc"
}

cleanup() {
    local pid
    # timeout(1) passes SIGTERM on to its whole process group
    [[ -n $CHILD_PID ]] && kill_bounded "$CHILD_PID" "benchmark client"
    for pid in "${!SERVER_PID_KIND[@]}"; do stop_server "$pid"; done
    [[ -n $WORK ]] || return 0
    if [[ $OK_EXIT == 1 && ${KEEP_WORK:-0} != 1 ]]; then
        rm -rf -- "$WORK"
    else
        log "logs and raw data kept in $WORK"
    fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

listening_ports() { ss -Htln 2>/dev/null | awk '{n = split($4, a, ":"); print a[n]}'; }

free_port() {  # prints a port P in range with P and P+10000 not listening and not used by us
    local span=$((PORT_MAX - PORT_MIN + 1)) start p i
    local -A busy=()
    for p in $(listening_ports); do busy[$p]=1; done
    start=$((RANDOM % span))
    for ((i = 0; i < span; i++)); do
        p=$((PORT_MIN + (start + i) % span))
        [[ -n ${busy[$p]+x} || -n ${busy[$((p + 10000))]+x} || -n ${PORTS_USED[$p]+x} ]] && continue
        PORTS_USED[$p]=1
        printf '%s\n' "$p"
        return 0
    done
    return 1
}

ping_once() {  # port -> success if the server answers +PONG (no fork: bash /dev/tcp)
    local port=$1 reply="" fd
    { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&"$fd" 2>/dev/null
    IFS= read -r -t 1 reply <&"$fd" || reply=""
    exec {fd}>&-
    [[ $reply == $'+PONG\r' ]]
}

now_us() { local t=${EPOCHREALTIME/./}; printf '%s\n' "$((10#$t))"; }

# start_server KIND BIN [EXTRA ARGS...] -> sets SRV_PID, SRV_PORT, SRV_START_MS, SRV_LOG; dies on failure.
# PING is answered -LOADING while a server loads its dump file: only +PONG counts as up.
start_server() {
    local kind=$1 bin=$2 port pid t0 t1 deadline logf outf info_pid owner
    shift 2
    port=$(free_port) || die "no free port in $PORT_MIN-$PORT_MAX"
    logf="$WORK/$kind-$port.log"
    outf="$WORK/$kind-$port.out"
    t0=$(now_us)
    "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --enable-debug-command yes --logfile "$logf" "$@" </dev/null >"$outf" 2>&1 &
    pid=$!
    SERVER_PID_KIND[$pid]=$kind
    deadline=$((t0 + START_TIMEOUT * 1000000))
    while :; do
        if ping_once "$port"; then t1=$(now_us); break; fi
        if ! alive "$pid"; then
            tail -n 20 "$logf" "$outf" >&2 2>/dev/null
            die "$kind server ($bin) exited before answering PING on port $port"
        fi
        if (($(now_us) > deadline)); then
            tail -n 20 "$logf" "$outf" >&2 2>/dev/null
            die "$kind server did not answer PING within ${START_TIMEOUT}s on port $port"
        fi
        sleep 0.005
    done
    # make sure the PONG came from our process and not from someone else on that port
    alive "$pid" || die "$kind server exited right after startup (port $port in use?)"
    owner=$(ss -Htlnp "sport = :$port" 2>/dev/null)
    if [[ $owner == *pid=* ]]; then
        [[ $owner == *"pid=$pid,"* ]] ||
            die "port $port is listened on by someone else, not our $kind server pid $pid: $owner"
    else  # ss cannot show owners (not root?): fall back to INFO server process_id
        info_pid=$(timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$port" info server 2>/dev/null |
            tr -d '\r' | awk -F: '$1 == "process_id" {print $2}')
        if [[ -n $info_pid && $info_pid != "$pid" ]]; then
            die "port $port answered with process_id $info_pid, expected our $kind server pid $pid"
        fi
    fi
    SRV_PID=$pid
    SRV_PORT=$port
    SRV_LOG=$logf
    SRV_START_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1000}')
}

cpu_ticks() {  # pid -> utime+stime (all threads) in clock ticks
    local stat rest
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    printf '%s\n' "$((${12} + ${13}))"
}

cpu_ticks_with_children() {  # pid -> utime+stime+cutime+cstime: includes reaped children (Redis's BGSAVE fork)
    local stat rest
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    printf '%s\n' "$((${12} + ${13} + ${14} + ${15}))"
}

proc_status_kb() {  # pid field -> value in kB from /proc/PID/status
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null
}

used_memory() {  # port -> INFO memory used_memory (bytes)
    timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$1" info memory 2>/dev/null |
        tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'
}

# ------------------------------------------------------------------- setup --

REDIS_BIN=$(resolve_bin "$REDIS_SERVER" "REDIS_SERVER") || exit 1
CINNABAR_BIN=$(resolve_bin "$CINNABAR_SERVER" "CINNABAR_SERVER (build Cinnabar first, or set CINNABAR_SERVER)") || exit 1
RB_BIN=$(resolve_bin "$REDIS_BENCHMARK" "redis-benchmark") || exit 1
CLI_BIN=$(resolve_bin "$REDIS_CLI" "redis-cli") || exit 1
REDIS_CLI=$CLI_BIN
REDIS_BENCHMARK=$RB_BIN
command -v "$PYTHON" >/dev/null || die "python3 not found"
command -v ss >/dev/null || die "ss (iproute2) not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cinnabar-bench.XXXXXX") || die "mktemp failed"
RAW="$WORK/raw.tsv"
: >"$RAW"

declare -A BIN=([redis]=$REDIS_BIN [cinnabar]=$CINNABAR_BIN)
KINDS=(redis cinnabar)   # alternation order: A = redis, B = cinnabar

log "redis:    $REDIS_BIN"
log "cinnabar: $CINNABAR_BIN"
log "rounds=$ROUNDS n=$N keyspace=$KEYSPACE clients=$CLIENTS quick=$QUICK sections=$SECTIONS work=$WORK"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

has_section() { [[ ,$SECTIONS, == *,$1,* ]]; }

# -------------------------------------------------------------- throughput --

# label|redis-benchmark test|pipeline|value size (-d)
TESTS=(
    "SET P1|set|1|3"
    "GET P1|get|1|3"
    "INCR P1|incr|1|3"
    "MSET(10 keys) P1|mset|1|3"
    "SET P16|set|16|3"
    "GET P16|get|16|3"
    "INCR P16|incr|16|3"
    "MSET(10 keys) P16|mset|16|3"
    "SET 1KB P1|set|1|1024"
    "GET 1KB P1|get|1|1024"
    "LPUSH P1|lpush|1|3"
    "RPOP P1|rpop|1|3"
    "SADD P1|sadd|1|3"
    "HSET P1|hset|1|3"
    "ZADD P1|zadd|1|3"
    "XADD P1|xadd|1|3"
    "EVALSHA P1|evalsha|1|3"
    "LPUSH P16|lpush|16|3"
    "RPOP P16|rpop|16|3"
    "SADD P16|sadd|16|3"
    "HSET P16|hset|16|3"
    "ZADD P16|zadd|16|3"
    "XADD P16|xadd|16|3"
    "EVALSHA P16|evalsha|16|3"
)
# The EVALSHA test runs this script, loaded with SCRIPT LOAD on each server first.
EVAL_SCRIPT="return redis.call('incr', KEYS[1])"

declare -A TP_PID=() TP_PORT=()

ensure_tp_server() {  # kind: (re)start the throughput server if it is not running
    local kind=$1
    if [[ -n ${TP_PID[$kind]:-} ]] && alive "${TP_PID[$kind]}"; then
        return 0
    fi
    if [[ -n ${TP_PID[$kind]:-} ]]; then
        log "WARNING: $kind server (pid ${TP_PID[$kind]}) died; restarting it"
        stop_server "${TP_PID[$kind]}"
    fi
    start_server "$kind" "${BIN[$kind]}"
    TP_PID[$kind]=$SRV_PID
    TP_PORT[$kind]=$SRV_PORT
    log "$kind throughput server pid $SRV_PID port $SRV_PORT (up in ${SRV_START_MS} ms)"
}

run_one() {  # kind round label test pipeline dsize
    local kind=$1 rnd=$2 label=$3 test=$4 pipe=$5 dsize=$6
    local pid port c0 c1 ticks="" rc t0 t1 wall rps status=ok errf outf
    ensure_tp_server "$kind"
    pid=${TP_PID[$kind]}
    port=${TP_PORT[$kind]}
    errf="$WORK/rb-$kind-$rnd-$test-P$pipe-d$dsize.err"
    outf="$WORK/rb-$kind-$rnd-$test-P$pipe-d$dsize.csv"
    local what=(-t "$test")
    if [[ $test == evalsha ]]; then
        local sha
        sha=$("$REDIS_CLI" -p "$port" SCRIPT LOAD "$EVAL_SCRIPT" 2>/dev/null | tr -d '\r')
        what=(EVALSHA "$sha" 1 "counter:__rand_int__")
    fi
    if [[ $test == xadd ]]; then
        # redis-benchmark 7.0 has no built-in xadd test (-t xadd runs nothing): spell out the command it gained later.
        what=(XADD mystream '*' myfield "__rand_int__")
    fi
    c0=$(cpu_ticks "$pid")
    t0=$(now_us)
    bounded "$BENCH_TIMEOUT" "$outf" "$errf" "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" --csv \
        -n "$N" -r "$KEYSPACE" -c "$CLIENTS" -P "$pipe" -d "$dsize" "${what[@]}"
    rc=$?
    t1=$(now_us)
    c1=$(cpu_ticks "$pid") || c1=""
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
    rps=$(awk -F, 'NR > 1 && NF >= 2 {gsub(/"/, "", $2); print $2; exit}' "$outf")
    if [[ $rc -ne 0 || -z $rps ]]; then
        status="failed(rc=$rc)"
        ((rc == 124)) && status="timeout(${BENCH_TIMEOUT}s)"
        rps=""
        log "WARNING: $kind '$label' round $rnd $status; stderr: $(tail -c 300 "$errf" | tr '\n' ' ')"
    fi
    [[ -n $c0 && -n $c1 ]] && ticks=$((c1 - c0))
    printf 'tp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$rnd" "$label" "$rps" "$ticks" "$N" "$wall" "$status" >>"$RAW"
    log "  round $rnd  $(printf '%-18s %-8s' "$label" "$kind") ${rps:-FAIL} ops/s  cpu ${ticks:-?} ticks  ${wall}s"
}

if has_section throughput; then
    for kind in "${KINDS[@]}"; do ensure_tp_server "$kind"; done
    if [[ $WARMUP == 1 ]]; then
        WN=$((N / 10 > 10000 ? N / 10 : 10000))
        for kind in "${KINDS[@]}"; do
            log "warm-up $kind (-n $WN, not measured)"
            for p in 16 1; do
                bounded "$BENCH_TIMEOUT" /dev/null /dev/null "$REDIS_BENCHMARK" -h 127.0.0.1 \
                    -p "${TP_PORT[$kind]}" -q -t set,get,incr,mset -n "$WN" -r "$KEYSPACE" \
                    -c "$CLIENTS" -P "$p" ||
                    log "WARNING: warm-up on $kind failed (rc=$?)"
            done
        done
    fi
    for ((rnd = 1; rnd <= ROUNDS; rnd++)); do
        log "round $rnd/$ROUNDS"
        for spec in "${TESTS[@]}"; do
            IFS='|' read -r label test pipe dsize <<<"$spec"
            [[ -n ${ONLY:-} && ! $label =~ $ONLY ]] && continue
            for kind in "${KINDS[@]}"; do
                run_one "$kind" "$rnd" "$label" "$test" "$pipe" "$dsize"
            done
        done
    done
    for kind in "${KINDS[@]}"; do
        [[ -n ${TP_PID[$kind]:-} ]] && stop_server "${TP_PID[$kind]}"
    done
fi

# ------------------------------------------------------------------ memory --

if has_section memory; then
    for kind in "${KINDS[@]}"; do
        start_server "$kind" "${BIN[$kind]}"
        pid=$SRV_PID port=$SRV_PORT
        log "memory: $kind pid $pid port $port, loading $MEM_KEYS keys x $MEM_VALUE_SIZE bytes"
        sleep 0.5
        rss0=$(proc_status_kb "$pid" VmRSS)
        um0=$(used_memory "$port")
        t0=$(now_us)
        pipef="$WORK/mem-$kind-pipe.out"
        # shellcheck disable=SC2016
        bounded "$MEM_TIMEOUT" "$pipef" "$pipef" bash -o pipefail -c \
            '"$0" "$1" gen "$2" "$3" | "$4" -h 127.0.0.1 -p "$5" --pipe --pipe-timeout 60' \
            "$PYTHON" "$HELPER" "$MEM_KEYS" "$MEM_VALUE_SIZE" "$REDIS_CLI" "$port"
        rc=$?
        pipe_out=$(cat "$pipef")
        t1=$(now_us)
        load_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e6}')
        dbsize=$(timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$port" dbsize 2>/dev/null | tr -d '\r')
        status=ok
        if [[ $rc -ne 0 ]] || ! grep -q "errors: 0, replies: $MEM_KEYS" <<<"$pipe_out"; then
            status="load failed (rc=$rc): $(tail -n 2 <<<"$pipe_out" | tr '\n' ' ')"
        elif [[ $dbsize != "$MEM_KEYS" ]]; then
            status="dbsize is '$dbsize', expected $MEM_KEYS"
        fi
        [[ $status == ok ]] || log "WARNING: memory $kind: $status"
        sleep 1   # let the server settle (allocator / GC) before sampling
        rss=$(proc_status_kb "$pid" VmRSS)
        hwm=$(proc_status_kb "$pid" VmHWM)
        um=$(used_memory "$port")
        log "memory: $kind loaded in ${load_s}s, RSS ${rss} kB, used_memory ${um}"
        printf 'mem\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$MEM_KEYS" "$status" \
            "$rss0" "$rss" "$hwm" "$um0" "$um" "$load_s" >>"$RAW"
        stop_server "$pid"
    done
fi

# ----------------------------------------------------------------- startup --

if has_section startup; then
    for ((i = 1; i <= STARTUP_TRIALS; i++)); do
        for kind in "${KINDS[@]}"; do
            start_server "$kind" "${BIN[$kind]}"
            printf 'start\t%s\t%s\t%s\n' "$kind" "$i" "$SRV_START_MS" >>"$RAW"
            log "startup: $kind trial $i: ${SRV_START_MS} ms"
            stop_server "$SRV_PID"
        done
    done
fi

# ------------------------------------------------------------- persistence --

info_field() {  # port field -> the value of one INFO line
    timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$1" info 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'
}

cli() {  # port args...: one command, reply on stdout (bounded)
    local port=$1
    shift
    timeout "$PERSIST_TIMEOUT" "$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@" 2>&1 | tr -d '\r'
}

wait_bgsave_done() {  # port -> returns once rdb_bgsave_in_progress is 0 (polls every 10 ms); 1 on timeout
    local port=$1 deadline
    deadline=$(($(now_us) + PERSIST_TIMEOUT * 1000000))
    while [[ $(info_field "$port" rdb_bgsave_in_progress) != 0 ]]; do
        (($(now_us) > deadline)) && return 1
        sleep 0.01
    done
}

declare -A P_PID=() P_PORT=() P_DIR=()

persist_start() {  # kind: start a server on its own dir (loading dump.rdb there if any), time to +PONG
    local kind=$1 secs
    START_TIMEOUT=$PERSIST_TIMEOUT start_server "$kind" "${BIN[$kind]}" --dir "${P_DIR[$kind]}"
    P_PID[$kind]=$SRV_PID
    P_PORT[$kind]=$SRV_PORT
    # both servers log "DB loaded from disk: S seconds" (the load alone, without process startup)
    secs=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$SRV_LOG" | tail -n 1)
    PERSIST_LOADED_S=${secs:-}
}

persist_stop() {  # kind
    [[ -n ${P_PID[$1]:-} ]] && stop_server "${P_PID[$1]}"
    P_PID[$1]=""
}

if has_section persistence; then
    datasetf="$WORK/persist.resp"
    log "persistence: generating $PERSIST_KEYS keys (70% strings ~100 B, 10% each small hashes, lists, zsets)"
    "$PYTHON" "$HELPER" gen-mixed "$PERSIST_KEYS" >"$datasetf" || die "generating the persistence data set failed"
    for kind in "${KINDS[@]}"; do
        P_DIR[$kind]="$WORK/persist-$kind"
        mkdir -p "${P_DIR[$kind]}"
        persist_start "$kind"
        port=${P_PORT[$kind]}
        pipef="$WORK/persist-$kind-pipe.out"
        bounded "$PERSIST_TIMEOUT" "$pipef" "$pipef" bash -c '"$0" -h 127.0.0.1 -p "$1" --pipe --pipe-timeout 60 <"$2"' \
            "$REDIS_CLI" "$port" "$datasetf"
        rc=$?
        dbsize=$(cli "$port" dbsize)
        if [[ $rc -ne 0 ]] || ! grep -q "errors: 0, replies: $PERSIST_KEYS" "$pipef" || [[ $dbsize != "$PERSIST_KEYS" ]]; then
            die "persistence: filling $kind failed (rc=$rc, dbsize '$dbsize'): $(tail -n 2 "$pipef" | tr '\n' ' ')"
        fi
        log "persistence: $kind pid ${P_PID[$kind]} port $port holds $dbsize keys"
    done
    # (a) SAVE and (b) BGSAVE, taking turns; CPU includes Redis's reaped fork child
    for ((i = 1; i <= PERSIST_TRIALS; i++)); do
        for op in SAVE BGSAVE; do
            for kind in "${KINDS[@]}"; do
                pid=${P_PID[$kind]} port=${P_PORT[$kind]}
                c0=$(cpu_ticks_with_children "$pid")
                t0=$(now_us)
                reply=$(cli "$port" "$op")
                status=ok
                if [[ $op == BGSAVE ]]; then
                    [[ $reply == "Background saving started" ]] || status="BGSAVE replied: $reply"
                    wait_bgsave_done "$port" || status="BGSAVE still running after ${PERSIST_TIMEOUT}s"
                    [[ $(info_field "$port" rdb_last_bgsave_status) == ok ]] || status="rdb_last_bgsave_status is not ok"
                else
                    [[ $reply == OK ]] || status="SAVE replied: $reply"
                fi
                t1=$(now_us)
                c1=$(cpu_ticks_with_children "$pid")
                ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}')
                [[ $status == ok ]] || log "WARNING: persistence $kind $op: $status"
                printf 'p%s\t%s\t%s\t%s\t%s\t%s\n' "${op,,}" "$kind" "$i" "$ms" "$((c1 - c0))" "$status" >>"$RAW"
                log "persistence: $op $kind trial $i: ${ms} ms, cpu $((c1 - c0)) ticks"
            done
        done
    done
    # (d) the file the last SAVE/BGSAVE left
    for kind in "${KINDS[@]}"; do
        printf 'psize\t%s\t%s\n' "$kind" "$(stat -c %s "${P_DIR[$kind]}/dump.rdb")" >>"$RAW"
        persist_stop "$kind"
    done
    # (c) loading at startup: exec -> +PONG on the saved dump.rdb, taking turns; the last start stays up
    for ((i = 1; i <= PERSIST_TRIALS; i++)); do
        for kind in "${KINDS[@]}"; do
            persist_start "$kind"
            dbsize=$(cli "${P_PORT[$kind]}" dbsize)
            status=ok
            [[ $dbsize == "$PERSIST_KEYS" ]] || status="dbsize is '$dbsize' after loading, expected $PERSIST_KEYS"
            [[ $status == ok ]] || log "WARNING: persistence $kind load: $status"
            printf 'pload\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$i" "$SRV_START_MS" "$PERSIST_LOADED_S" "$status" >>"$RAW"
            log "persistence: load $kind trial $i: PONG after ${SRV_START_MS} ms (logged load ${PERSIST_LOADED_S:-?} s)"
            ((i < PERSIST_TRIALS)) && persist_stop "$kind"
        done
    done
    # (e) SET -P 16 throughput with no save running, then with BGSAVE restarted whenever none is running
    for mode in idle bgsave; do
        for kind in "${KINDS[@]}"; do
            pid=${P_PID[$kind]} port=${P_PORT[$kind]}
            errf="$WORK/persist-rb-$kind-$mode.err"
            outf="$WORK/persist-rb-$kind-$mode.csv"
            saves=0
            c0=$(cpu_ticks_with_children "$pid")
            t0=$(now_us)
            timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" --csv -n "$PERSIST_BENCH_N" \
                -r "$KEYSPACE" -c "$CLIENTS" -P 16 -t set </dev/null >"$outf" 2>"$errf" &
            CHILD_PID=$!
            if [[ $mode == bgsave ]]; then
                while alive "$CHILD_PID"; do
                    if [[ $(info_field "$port" rdb_bgsave_in_progress) == 0 ]]; then
                        [[ $(cli "$port" bgsave) == "Background saving started" ]] && saves=$((saves + 1))
                    fi
                    sleep 0.02
                done
            fi
            wait "$CHILD_PID"
            rc=$?
            CHILD_PID=""
            t1=$(now_us)
            wait_bgsave_done "$port" || log "WARNING: persistence $kind: BGSAVE still running after ${PERSIST_TIMEOUT}s"
            c1=$(cpu_ticks_with_children "$pid")
            rps=$(awk -F, 'NR > 1 && NF >= 2 {gsub(/"/, "", $2); print $2; exit}' "$outf")
            status=ok
            [[ $rc -eq 0 && -n $rps ]] || status="redis-benchmark failed (rc=$rc): $(tail -c 200 "$errf" | tr '\n' ' ')"
            [[ $status == ok ]] || log "WARNING: persistence $kind SET P16 $mode: $status"
            wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
            printf 'pbench\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$mode" "$rps" "$((c1 - c0))" "$PERSIST_BENCH_N" "$wall" "$saves" "$status" >>"$RAW"
            log "persistence: SET P16 $mode $kind: ${rps:-FAIL} ops/s, ${saves} BGSAVEs started, cpu $((c1 - c0)) ticks"
        done
    done
    for kind in "${KINDS[@]}"; do persist_stop "$kind"; done
    rm -f -- "$datasetf"
fi

# ------------------------------------------------------------------ cluster --
# redis-benchmark --cluster against three masters of each kind (redis-cli --cluster create), in alternation.
# CPU is the sum over the three server processes.
CLUSTER_TESTS=(
    "CLUSTER SET P1|set|1"
    "CLUSTER GET P1|get|1"
    "CLUSTER SET P16|set|16"
    "CLUSTER GET P16|get|16"
)
declare -A CL_PIDS=() CL_PORTS=()

cluster_start() {  # kind: three cluster-enabled masters, slots assigned, cluster_state:ok everywhere
    local kind=$1 i pids=() ports=() addrs=() ok deadline
    for i in 0 1 2; do
        start_server "$kind" "${BIN[$kind]}" --cluster-enabled yes --cluster-node-timeout 5000 \
            --cluster-config-file "$WORK/nodes-$kind-$i-$$.conf"
        pids+=("$SRV_PID")
        ports+=("$SRV_PORT")
        addrs+=("127.0.0.1:$SRV_PORT")
    done
    CL_PIDS[$kind]="${pids[*]}"
    CL_PORTS[$kind]="${ports[*]}"
    timeout 60 "$REDIS_CLI" --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$WORK/cluster-create-$kind.log" 2>&1 ||
        die "redis-cli --cluster create failed for $kind: $(tail -c 300 "$WORK/cluster-create-$kind.log")"
    deadline=$(($(date +%s) + 60))
    while :; do
        ok=0
        for i in "${ports[@]}"; do
            [[ $(timeout 5 "$REDIS_CLI" -p "$i" cluster info 2>/dev/null | tr -d '\r' | grep '^cluster_state:') == cluster_state:ok ]] && ok=$((ok + 1))
        done
        ((ok == 3)) && break
        (($(date +%s) > deadline)) && die "$kind cluster did not reach cluster_state:ok"
        sleep 0.1
    done
    log "$kind cluster up: pids ${CL_PIDS[$kind]} ports ${CL_PORTS[$kind]}"
}

cluster_cpu() {  # kind -> summed ticks of its three servers
    local kind=$1 pid total=0 t
    for pid in ${CL_PIDS[$kind]}; do
        t=$(cpu_ticks "$pid") || return 1
        total=$((total + t))
    done
    printf '%s\n' "$total"
}

if has_section cluster; then
    for kind in "${KINDS[@]}"; do cluster_start "$kind"; done
    for ((rnd = 1; rnd <= ROUNDS; rnd++)); do
        for spec in "${CLUSTER_TESTS[@]}"; do
            IFS='|' read -r label test pipe <<<"$spec"
            [[ -n ${ONLY:-} && ! $label =~ $ONLY ]] && continue
            for kind in "${KINDS[@]}"; do
                port=${CL_PORTS[$kind]%% *}
                outf="$WORK/cl-$kind-$rnd-$test-P$pipe.csv"
                errf="$WORK/cl-$kind-$rnd-$test-P$pipe.err"
                c0=$(cluster_cpu "$kind")
                t0=$(now_us)
                bounded "$BENCH_TIMEOUT" "$outf" "$errf" "$REDIS_BENCHMARK" --cluster -h 127.0.0.1 -p "$port" --csv \
                    -n "$N" -r "$KEYSPACE" -c "$CLIENTS" -P "$pipe" -t "$test"
                rc=$?
                t1=$(now_us)
                c1=$(cluster_cpu "$kind") || c1=""
                wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e6}')
                # --cluster prints the node list before the CSV: take the first data row after its header.
                rps=$(awk -F, '$1 ~ /^"/ && $1 != "\"test\"" && NF >= 2 {gsub(/"/, "", $2); print $2; exit}' "$outf")
                status=ok
                if [[ $rc -ne 0 || -z $rps ]]; then
                    status="failed(rc=$rc)"
                    rps=""
                    log "WARNING: $kind '$label' round $rnd $status; stderr: $(tail -c 300 "$errf" | tr '\n' ' ')"
                fi
                ticks=""
                [[ -n $c0 && -n $c1 ]] && ticks=$((c1 - c0))
                printf 'tp\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$rnd" "$label" "$rps" "$ticks" "$N" "$wall" "$status" >>"$RAW"
                log "  round $rnd  $(printf '%-18s %-8s' "$label" "$kind") ${rps:-FAIL} ops/s  cpu ${ticks:-?} ticks  ${wall}s"
            done
        done
    done
    for kind in "${KINDS[@]}"; do
        for pid in ${CL_PIDS[$kind]}; do stop_server "$pid"; done
    done
fi

# ------------------------------------------------------------------ report --

BENCH_CLK_TCK=$CLK_TCK BENCH_MEM_KEYS=$MEM_KEYS BENCH_PERSIST_KEYS=$PERSIST_KEYS BENCH_MEM_VALUE_SIZE=$MEM_VALUE_SIZE \
BENCH_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) BENCH_QUICK=$QUICK BENCH_ROUNDS=$ROUNDS BENCH_N=$N \
BENCH_KEYSPACE=$KEYSPACE BENCH_CLIENTS=$CLIENTS BENCH_WARMUP=$WARMUP \
BENCH_REDIS_SERVER=$REDIS_BIN BENCH_CINNABAR_SERVER=$CINNABAR_BIN \
BENCH_RB_VERSION=$(timeout 5 "$REDIS_BENCHMARK" --version 2>/dev/null | head -n 1) BENCH_LOADAVG=$LOADAVG \
    "$PYTHON" "$HELPER" report "$RAW" "$RESULTS_JSON" || die "report failed (raw data: $RAW)"

OK_EXIT=1
