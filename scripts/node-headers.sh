#!/usr/bin/env bash
# Prints the folder whose include/node holds the running Node's own headers, for node-gyp
# (npm_config_nodedir). Looks beside the node binary and inside the registry's node package;
# prints nothing when none matches the running version, so node-gyp keeps its own choice.
set -euo pipefail
version="$(node -p 'process.versions.node')"
root="$(node -p 'require("node:path").resolve(process.execPath, "../..")')"
for dir in "$root" "$root"/node_modules/node-*-*; do
  header="$dir/include/node/node_version.h"
  [ -f "$header" ] || continue
  found="$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION /{printf "%s.", $3}' "$header")"
  if [ "${found%.}" = "$version" ]; then
    printf '%s\n' "$dir"
    exit 0
  fi
done
