#!/usr/bin/env bash
# Starts the whole system locally: installs, migrates every service database, runs every
# service, a render worker and the gateway, and prints the gateway URL. Ctrl-C stops it cleanly.
# Needs PostgreSQL and Redis (noeviction) on localhost, or DATABASE_URL / REDIS_URL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-tools.sh
# node_modules/.bin first: its `node` is Node 26 from the npm registry (for the runner's children).
# The runner is exec'd as that binary itself, not through node_modules/.bin/node (a shell wrapper
# that would stay in between), so Ctrl-C and a SIGTERM to this script's pid reach the runner,
# which stops every process once.
export PATH="$PWD/node_modules/.bin:$PWD/.tools/node_modules/.bin:$PATH"
# The web app the gateway serves at / (web/dist): built first, so the printed URL opens the product.
echo "› building the web app (web/dist)" >&2
if ! out=$(pnpm --filter @imlab/web run build 2>&1); then
  echo "$out" >&2
  echo "the web app did not build" >&2
  exit 1
fi
exec "$PWD/node_modules/node/bin/node" --import tsx scripts/dev.ts
