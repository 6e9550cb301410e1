#!/usr/bin/env bash
# Builds Cinnabar and starts a standalone server on 127.0.0.1:6379 with cinnabar.conf.
# Extra arguments are passed to cinnabar-server as redis-server takes them (e.g. --port 6380).
set -euo pipefail
cd "$(dirname "$0")"
# Lua scripting (EVAL, FUNCTION) binds Debian's Lua 5.1 and its cjson / bitop modules; without them the
# server still runs and answers scripting commands with an error.
if ! ldconfig -p | grep -q 'liblua5\.1\.so\.0' || ! ls /usr/lib/*/lua/5.1/cjson.so /usr/lib/*/lua/5.1/bit.so >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "Installing liblua5.1-0, lua-cjson and lua-bitop (Lua scripting)..."
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq liblua5.1-0 lua-cjson lua-bitop >/dev/null; } \
    || echo "warning: could not install the Lua packages; EVAL and FUNCTION will answer an error"
fi
dotnet build src/Cinnabar.Server/Cinnabar.Server.csproj -c Release -nologo -v quiet
echo "Starting cinnabar-server on 127.0.0.1:6379 — connect with: redis-cli -p 6379"
exec src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server cinnabar.conf "$@"
