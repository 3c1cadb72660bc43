#!/usr/bin/env bash
# Everything `npm start` and `npm test` need, each step skipped when already done: packages,
# a Docker Engine, the demo images and the compiled daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'warmpool setup: %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

bash scripts/engine.sh
bash scripts/images.sh

# Compile when any source is newer than the build, or there is no build yet.
if [ ! -f dist/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json -newer dist/main.js -print -quit)" ]; then
  say "compiling (tsc)"
  npx tsc -p tsconfig.build.json
  touch dist/main.js
fi
