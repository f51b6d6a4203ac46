#!/usr/bin/env bash
# npm run test:compat: the node-level, integration and browser tests on Node.js 22 and Node-RED 5,
# both installed from compat/package-lock.json (exact versions) into a cache folder outside
# the repository's dependency tree, reinstalled only when the lockfile changes.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${MEDALLION_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/node-red-iot-medallion/compat}"
mkdir -p "$cache"
if ! cmp -s compat/package-lock.json "$cache/package-lock.json" || [ ! -x "$cache/node_modules/.bin/node" ]; then
  cp compat/package.json compat/package-lock.json "$cache/"
  (cd "$cache" && npm ci --no-audit --no-fund)
fi

node22="$cache/node_modules/.bin/node"
export MEDALLION_NODE_RED="$cache/node_modules/node-red"
MEDALLION_NODE_RED_VERSION="$("$node22" -p "require('$MEDALLION_NODE_RED/package.json').version")"
export MEDALLION_NODE_RED_VERSION
echo "compat leg: Node.js $("$node22" --version), Node-RED $MEDALLION_NODE_RED_VERSION"
npm run build
exec "$node22" node_modules/mocha/bin/mocha.js --config compat/.mocharc.json
