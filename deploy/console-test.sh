#!/usr/bin/env bash
# The web console clicked through in a real browser (README, "Web console"):
# Debian's chromium, driven by Playwright (`playwright-core`, pinned in
# tests/console/package-lock.json), runs the seeds' story in tests/console/story.mjs
# against the real `ledger` binary, which the Rust test
# tests/tests/console_browser.rs starts on a fresh database and stream.
#
#   bash deploy/console-test.sh            # services up, then the Rust test (which calls the two below)
#   bash deploy/console-test.sh --prepare  # only install what is missing: chromium, node_modules
#   bash deploy/console-test.sh --story    # the story alone, against CONSOLE_URL (the test sets
#                                          # CONSOLE_URL, CONSOLE_*_TOKEN, … and CONSOLE_SCREENSHOTS)
#   bash deploy/console-test.sh --scale    # tests/console/scale.mjs, one account of 25,000 licenses,
#                                          # against CONSOLE_URL (set by tests/tests/console_scale.rs)
#
# chromium comes from the OS packages (apt-get, as root or through sudo) when
# /usr/bin/chromium is missing: Playwright's own browser download cannot be used
# here. `npm ci` runs when tests/console/node_modules lacks the pinned version.
# Node.js >= 20 must be installed (playwright-core needs it).
set -euo pipefail
cd "$(dirname "$0")/.."

console_dir=tests/console
chromium=/usr/bin/chromium

script_name=console-test
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_chromium() {
  [ -x "$chromium" ] && return 0
  apt_install chromium
  [ -x "$chromium" ] || fail "chromium installed, but $chromium is missing"
}

ensure_node() {
  command -v node >/dev/null || fail "node is missing: install Node.js >= 20"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || fail "playwright-core needs Node.js >= 20; node is $(node --version)"
  command -v npm >/dev/null || fail "npm is missing"
}

# The version the lock pins, and the one installed (empty when none is).
pinned() { node -p "require('./$console_dir/package-lock.json').packages['node_modules/playwright-core'].version"; }
installed() {
  local manifest=$console_dir/node_modules/playwright-core/package.json
  [ -f "$manifest" ] && node -p "require('./$manifest').version" || true
}

ensure_node_modules() {
  [ "$(installed)" = "$(pinned)" ] && return 0
  say "npm ci in $console_dir (playwright-core $(pinned))"
  (cd "$console_dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || fail "npm ci failed"
}

prepare() {
  ensure_node
  # The Rust test and a person may run this at once: one installs, the other waits.
  exec 8>"${TMPDIR:-/tmp}/licensing-ledger-console-test.lock"
  flock -w 900 8 || fail "another install has held the lock for 900 s"
  ensure_chromium
  ensure_node_modules
  exec 8>&-
}

case "${1:-}" in
  --prepare)
    prepare
    ;;
  --story)
    prepare
    : "${CONSOLE_URL:?set by tests/tests/console_browser.rs: run bash deploy/console-test.sh}"
    exec node "$console_dir/story.mjs"
    ;;
  --scale)
    prepare
    : "${CONSOLE_URL:?set by tests/tests/console_scale.rs: run cargo test -p ledger-tests --test console_scale}"
    exec node "$console_dir/scale.mjs"
    ;;
  "")
    bash deploy/services.sh
    prepare
    export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@${LEDGER_PG_HOST:-127.0.0.1}:${LEDGER_PG_PORT:-5432}}
    export TEST_NATS_URL=${TEST_NATS_URL:-nats://${LEDGER_NATS_HOST:-127.0.0.1}:${LEDGER_NATS_PORT:-4222}}
    # The ledger inherits this environment and stops on any LEDGER_* variable that
    # is not one of its settings: drop the scripts' own.
    unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME
    exec cargo test -p ledger-tests --test console_browser -- --nocapture
    ;;
  *)
    fail "unknown argument $1 (use --prepare, --story or nothing)"
    ;;
esac
