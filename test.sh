#!/usr/bin/env bash
# Runs every test: unit, integration (real cinnabar-server processes driven by redis-cli and
# StackExchange.Redis) and differential (the same commands to redis-server 7.0 and Cinnabar).
# Installs redis-server and redis-tools when missing; they are the oracle and the clients.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "Installing redis-server and redis-tools (the test oracle and clients)..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi
redis-server --version | grep -q "v=7\.0\." || echo "warning: the oracle is not redis-server 7.0: $(redis-server --version)"

# Lua scripting binds Debian's Lua 5.1 (the version Redis embeds) and its cjson / bitop modules.
if ! ldconfig -p | grep -q 'liblua5\.1\.so\.0' || ! ls /usr/lib/*/lua/5.1/cjson.so /usr/lib/*/lua/5.1/bit.so >/dev/null 2>&1; then
  echo "Installing liblua5.1-0, lua-cjson and lua-bitop (Lua scripting)..."
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq liblua5.1-0 lua-cjson lua-bitop >/dev/null
fi

dotnet build Cinnabar.slnx -c Release -nologo -v quiet
log=$(mktemp)
status=0
dotnet test tests/Cinnabar.Tests/Cinnabar.Tests.csproj -c Release --no-build -nologo \
  --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
passed=$(grep -aE '^\s+Passed: +[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -aE '^\s+Failed: +[0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
rm -f "$log"
echo "tests: ${passed:-0} passed, ${failed:-0} failed"
exit $status
