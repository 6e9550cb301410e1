#!/usr/bin/env bash
# Builds Cinnabar and starts a local Redis Cluster of six Cinnabar nodes on 127.0.0.1:7000-7005 — three
# masters with one replica each (cluster bus on 17000-17005) — each node in cluster/<port>/ with its
# nodes.conf, dump.rdb and AOF, so running it again restarts the same cluster with its data. Ctrl-C stops it.
#
#   ./run.sh                         the cluster (BASE_PORT=7100 ./run.sh to use 7100-7105)
#   ./run.sh --node PORT             start one node of that cluster again (say after kill -9), in the foreground
#   ./run.sh --standalone [options]  one server on 127.0.0.1:6379 with cinnabar.conf; options are passed
#                                    to cinnabar-server as redis-server takes them (e.g. --port 6380)
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
install_packages() {  # apt packages...
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null; }
}
# Lua scripting (EVAL, FUNCTION) binds Debian's Lua 5.1 and its cjson / bitop modules; without them the
# server still runs and answers scripting commands with an error.
if ! ldconfig -p | grep -q 'liblua5\.1\.so\.0' || ! ls /usr/lib/*/lua/5.1/cjson.so /usr/lib/*/lua/5.1/bit.so >/dev/null 2>&1; then
  echo "Installing liblua5.1-0, lua-cjson and lua-bitop (Lua scripting)..."
  install_packages liblua5.1-0 lua-cjson lua-bitop || echo "warning: could not install the Lua packages; EVAL and FUNCTION will answer an error"
fi
# The server, and cinnabar, the operator's tool (cinnabar doctor / watch / cluster ...).
dotnet build src/Cinnabar.Server/Cinnabar.Server.csproj -c Release -nologo -v quiet
dotnet build src/Cinnabar.Cli/Cinnabar.Cli.csproj -c Release -nologo -v quiet
SERVER=src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server
CLI=src/Cinnabar.Cli/bin/Release/net10.0/cinnabar
echo "The tool: $CLI   (e.g. $CLI doctor 127.0.0.1:${BASE_PORT:-7000})"

# One cluster node in cluster/<port>/, with its nodes.conf, data and log there.
start_node() {  # port
  local dir="cluster/$1"
  mkdir -p "$dir"
  exec "$SERVER" cinnabar.conf --port "$1" --dir "$dir" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --appendonly yes --save "3600 1 300 100 60 10000" --logfile "$PWD/$dir/server.log"
}

if [ "${1:-}" = "--node" ]; then
  [ -n "${2:-}" ] || { echo "usage: ./run.sh --node PORT" >&2; exit 2; }
  echo "Starting the node on 127.0.0.1:$2 again from cluster/$2 (its log: cluster/$2/server.log); Ctrl-C stops it."
  start_node "$2"   # exec: the script becomes the node
  exit $?
fi

if [ "${1:-}" = "--standalone" ]; then
  shift
  echo "Starting cinnabar-server on 127.0.0.1:6379 — connect with: redis-cli -p 6379"
  exec "$SERVER" cinnabar.conf "$@"
fi

# redis-cli creates the cluster (redis-cli --cluster create), as it would for redis-server nodes.
if ! command -v redis-cli >/dev/null; then
  echo "Installing redis-tools (redis-cli)..."
  install_packages redis-tools
fi

BASE_PORT=${BASE_PORT:-7000}
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=("$((BASE_PORT + i))"); done
PIDS=()
stop_nodes() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_nodes; exit 0' INT TERM
trap stop_nodes EXIT

for port in "${PORTS[@]}"; do
  start_node "$port" &
  PIDS+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
done

if redis-cli -p "${PORTS[0]}" cluster info | grep -q '^cluster_slots_assigned:0'; then
  echo "Creating the cluster..."
  redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-replicas 1 --cluster-yes >/dev/null
fi
for _ in $(seq 1 100); do
  ok=0
  for port in "${PORTS[@]}"; do redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1)); done
  [ "$ok" -eq "${#PORTS[@]}" ] && break
  sleep 0.2
done
redis-cli -p "${PORTS[0]}" cluster nodes
echo
echo "Cinnabar cluster of three masters and three replicas on 127.0.0.1:${PORTS[0]}-${PORTS[5]} (logs in cluster/<port>/server.log)."
echo "Connect with:  redis-cli -c -p ${PORTS[0]}        Check it with:  redis-cli --cluster check 127.0.0.1:${PORTS[0]}"
echo "Diagnose it with:  $CLI doctor 127.0.0.1:${PORTS[0]}     Watch it with:  $CLI watch 127.0.0.1:${PORTS[0]}"
echo "Ctrl-C stops the nodes; ./run.sh again restarts them with their data (./run.sh --node PORT restarts one)."
wait
