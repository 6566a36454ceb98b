#!/usr/bin/env bash
# The HTTP contract fuzzed (README, "Fuzz the HTTP contract"): starts PostgreSQL and
# NATS when they are down, installs schemathesis into a virtualenv of its own when
# missing, builds the ledger and the harness, then `ledger-fuzz` starts the ledger
# on a free port with a fresh database and stream, seeds an account through
# `ledger admin` and the HTTP API, and runs schemathesis against it for the budget.
# Exits non-zero on any failure, each printed with a request that shows it.
#
#   bash deploy/fuzz.sh                       # 10 minutes
#   bash deploy/fuzz.sh --seconds 3600        # an hour (the soak's size)
#   bash deploy/fuzz.sh --seed 1234           # repeat a run's requests
#   bash deploy/fuzz.sh --print-schemathesis  # only install it; print its path
#
# schemathesis needs Python >= 3.11 with venv (Debian's python3-venv, which this
# script installs with apt-get when missing, as root or through sudo). The
# virtualenv is kept in ${XDG_DATA_HOME:-~/.local/share}/licensing-ledger/.
set -euo pipefail
cd "$(dirname "$0")/.."

schemathesis_version=4.32.5
venv="${XDG_DATA_HOME:-${HOME:-/tmp}/.local/share}/licensing-ledger/schemathesis-$schemathesis_version"

script_name=fuzz
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A python3 that can make a virtualenv: Debian ships `venv` without ensurepip
# unless python3-venv is installed.
ensure_python() {
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "schemathesis $schemathesis_version needs Python >= 3.11; python3 is $(python3 --version 2>&1)"
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
}

# Prints the schemathesis command, installing it first when missing. A finished
# install leaves a marker: a half-made virtualenv (an interrupted run) is made anew.
ensure_schemathesis() {
  local marker="$venv/.installed"
  if [ ! -f "$marker" ]; then
    ensure_python
    mkdir -p "$(dirname "$venv")"
    # Two runs at once (the test and this script) must not both install.
    exec 8>"$venv.lock"
    flock -w 600 8 || fail "another install has held $venv.lock for 600 s"
    if [ ! -f "$marker" ]; then
      say "installing schemathesis $schemathesis_version into $venv"
      rm -rf "$venv"
      python3 -m venv "$venv" >&2 || fail "python3 -m venv $venv failed"
      PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --quiet \
        "schemathesis==$schemathesis_version" >&2 || fail "pip install schemathesis==$schemathesis_version failed"
      touch "$marker"
    fi
    exec 8>&-
  fi
  echo "$venv/bin/schemathesis"
}

if [ "${1:-}" = "--print-schemathesis" ]; then
  ensure_schemathesis
  exit 0
fi

bash deploy/services.sh
SCHEMATHESIS_BIN=$(ensure_schemathesis)
export SCHEMATHESIS_BIN

export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@${LEDGER_PG_HOST:-127.0.0.1}:${LEDGER_PG_PORT:-5432}}
export TEST_NATS_URL=${TEST_NATS_URL:-nats://${LEDGER_NATS_HOST:-127.0.0.1}:${LEDGER_NATS_PORT:-4222}}
# The ledger inherits this environment and stops on any LEDGER_* variable that is
# not one of its settings: drop the scripts' own.
unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME

# A debug build: its overflow checks turn an arithmetic slip into a server error
# the fuzz reports.
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet -p ledger-gateway -p ledger-tests --bin ledger --bin ledger-fuzz
exec "$target/debug/ledger-fuzz" --ledger-bin "$target/debug/ledger" "$@"
