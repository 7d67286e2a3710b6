#!/usr/bin/env bash
# Installs what a fresh clone needs, using only the npm registry: pnpm into .tools/ (corepack is
# not relied on), then the workspace, whose root devDependency on the `node` package brings
# Node 26 (.node-version) for every pnpm script even where the system Node is older.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=10.34.9
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is required (any Node.js >= 18 provides it); Node 26 itself is installed from the npm registry" >&2
  exit 1
fi
if [ ! -x .tools/node_modules/.bin/pnpm ] || [ "$(.tools/node_modules/.bin/pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "› installing pnpm $PNPM_VERSION into .tools/" >&2
  npm install --prefix .tools --no-save --no-audit --no-fund --silent "pnpm@$PNPM_VERSION" >&2
fi
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
echo "› pnpm install" >&2
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|Packages:)' | tail -n 5 >&2 || true
if [ ! -x node_modules/.bin/node ]; then
  echo "pnpm install did not complete; run 'pnpm install' to see why" >&2
  exit 1
fi
