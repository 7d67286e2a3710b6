#!/usr/bin/env bash
# Starts the whole system locally: installs, migrates every service database, runs every
# service, a render worker and the gateway, and prints the gateway URL. Ctrl-C stops it cleanly.
# Needs PostgreSQL and Redis (noeviction) on localhost, or DATABASE_URL / REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-tools.sh
# node_modules/.bin first: its `node` is Node 24 from the npm registry. exec, and no wrapper in
# between, so Ctrl-C and SIGTERM reach the runner itself, which stops every process once.
export PATH="$PWD/node_modules/.bin:$PWD/.tools/node_modules/.bin:$PATH"
exec node --import tsx scripts/dev.ts
