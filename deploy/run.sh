#!/usr/bin/env bash
# The README's "run the ledger" command: starts PostgreSQL and NATS when they are
# down (deploy/services.sh), creates the database, then builds and serves all roles
# on http://127.0.0.1:8080. Extra arguments go to `ledger serve`, e.g.
# `bash deploy/run.sh --roles gateway`; `--demo` first loads a demo account
# (`ledger demo`: a new one each run) and prints its portal and auditor tokens
# and the console's address.
#
#   LEDGER_DATABASE_URL   default postgres://postgres@127.0.0.1:5432/$LEDGER_DB_NAME
#   LEDGER_DB_NAME        default ledger (only used to build the default URL)
#   LEDGER_NATS_URL       default nats://127.0.0.1:4222
#   LEDGER_LICENSE_SIGNING_KEYS  default: a key generated once for this machine, in
#                         ${XDG_STATE_HOME:-~/.local/state}/licensing-ledger/license-signing-key
#   LEDGER_AUTH_SIGNING_KEYS     default: likewise, in …/licensing-ledger/auth-signing-key
#   LEDGER_CHECKPOINT_SIGNING_KEYS  default: likewise, in …/checkpoint-signing-key
# Before serving it prints an admin token, valid 24 hours.
#   other LEDGER_* settings: see the README's "Configuration"
set -euo pipefail
cd "$(dirname "$0")/.."

# `--demo` is this script's; every other argument goes to `ledger serve`, and a
# `--config FILE` to `ledger demo` as well.
demo=false
serve_args=()
demo_args=()
previous=
for arg in "$@"; do
  if [ "$arg" = --demo ]; then
    demo=true
    continue
  fi
  serve_args+=("$arg")
  if [ "$previous" = --config ]; then demo_args+=(--config "$arg"); fi
  case $arg in --config=*) demo_args+=("$arg") ;; esac
  previous=$arg
done
set -- ${serve_args[@]+"${serve_args[@]}"}

bash deploy/services.sh

pg_host=${LEDGER_PG_HOST:-127.0.0.1}
pg_port=${LEDGER_PG_PORT:-5432}
db=${LEDGER_DB_NAME:-ledger}

if [ -z "${LEDGER_DATABASE_URL:-}" ]; then
  export LEDGER_DATABASE_URL="postgres://postgres@$pg_host:$pg_port/$db"
  # The ledger creates a missing database itself; doing it here as well gives a
  # clear error early when PostgreSQL refuses us.
  if command -v psql >/dev/null; then
    db_exists() {
      psql -X -q -At -h "$pg_host" -p "$pg_port" -U postgres -d postgres -v db="$db" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db'" | grep -qx 1
    }
    if ! db_exists; then
      # Another run may create it at the same moment: only a still-missing database is an error.
      createdb -h "$pg_host" -p "$pg_port" -U postgres "$db" 2>/dev/null || db_exists ||
        { echo "run: cannot create database $db on $pg_host:$pg_port" >&2; exit 1; }
      echo "run: created database $db"
    fi
  fi
fi
export LEDGER_NATS_URL=${LEDGER_NATS_URL:-nats://${LEDGER_NATS_HOST:-127.0.0.1}:${LEDGER_NATS_PORT:-4222}}

# The ledger stops on any LEDGER_* variable that is not one of its settings:
# drop the ones that only these scripts read.
unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME

ledger() { cargo run --release -q -p ledger-gateway --bin ledger -- "$@"; }

# Keys come from configuration only, never from the code. License files,
# bearer tokens and integrity checkpoints each need a signing key. When one is not
# configured (its variable unset, no config file), this machine gets a key of its
# own: generated once, kept outside the repository, readable by this user alone.
# An empty variable means "no key": license file downloads answer 503, no
# checkpoints are written (and the gateway does not start without a token key).
state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/licensing-ledger"
configured_elsewhere() { [ -n "${LEDGER_CONFIG:-}" ] || [[ " $* " == *" --config"* ]]; }
machine_key() { # <variable> <file name> <key id prefix>
  local variable=$1 key_file="$state_dir/$2"
  if [ -n "${!variable+set}" ]; then return; fi
  if [ ! -s "$key_file" ]; then
    (
      umask 077
      mkdir -p "$state_dir"
      ledger signing-key generate --key-id "$3-$(date -u +%Y%m%d)" >"$key_file.new"
    )
    mv "$key_file.new" "$key_file"
    echo "run: generated a signing key in $key_file"
  fi
  export "$variable=$(cat "$key_file")"
}
if ! configured_elsewhere "$@"; then
  machine_key LEDGER_LICENSE_SIGNING_KEYS license-signing-key local
  machine_key LEDGER_AUTH_SIGNING_KEYS auth-signing-key auth
  machine_key LEDGER_CHECKPOINT_SIGNING_KEYS checkpoint-signing-key checkpoint
fi

# Every API call needs a bearer token: start with an admin token, which creates
# accounts and issues their tokens (README, "Accounts and tokens").
if token=$(ledger admin issue-token --role admin --subject quickstart-admin \
  --valid-for-hours 24 2>/dev/null); then
  echo "run: an admin token, valid 24 hours (keep it secret):"
  echo "$token"
else
  echo "run: no admin token issued (no auth signing key with a private key?); see the README" >&2
fi

# The demo is recorded through the ledger's own commands straight into its
# database; the relay and the projector of the ledger started below publish and
# project it as they start.
if $demo; then
  ledger ${demo_args[@]+"${demo_args[@]}"} demo
fi

exec cargo run --release -p ledger-gateway --bin ledger -- serve "$@"
