#!/usr/bin/env bash
# Starts the whole system locally: installs, migrates every service database, runs every
# service, a render worker and the gateway, and prints the gateway URL. Ctrl-C stops it cleanly.
# Needs PostgreSQL and Redis (noeviction) on localhost, or DATABASE_URL / REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-tools.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
exec pnpm run --silent start
