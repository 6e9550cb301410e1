#!/usr/bin/env bash
# Builds Cinnabar and starts a standalone server on 127.0.0.1:6379 with cinnabar.conf.
# Extra arguments are passed to cinnabar-server as redis-server takes them (e.g. --port 6380).
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/Cinnabar.Server/Cinnabar.Server.csproj -c Release -nologo -v quiet
echo "Starting cinnabar-server on 127.0.0.1:6379 — connect with: redis-cli -p 6379"
exec src/Cinnabar.Server/bin/Release/net10.0/cinnabar-server cinnabar.conf "$@"
