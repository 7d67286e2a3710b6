#!/usr/bin/env bash
# Runs the whole test suite: type check, lint, every test (real Postgres, Redis and HTTP).
# Uses DATABASE_URL / REDIS_URL when set; otherwise the local servers on their default ports when
# they answer; otherwise the test setup starts throwaway containers (testcontainers, needs Docker).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-tools.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${DATABASE_URL:-}" ] && answers 5432; then export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres; fi
if [ -z "${REDIS_URL:-}" ] && answers 6379; then export REDIS_URL=redis://127.0.0.1:6379; fi
exec pnpm run --silent test
