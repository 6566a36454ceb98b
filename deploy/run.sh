#!/usr/bin/env bash
# Runs the ledger on this machine: starts PostgreSQL and NATS when they are down,
# then builds and serves all roles on http://127.0.0.1:8080 (the database and the
# stream are created on start). Extra arguments go to `ledger serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh
export LEDGER_DATABASE_URL=${LEDGER_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/ledger}
export LEDGER_NATS_URL=${LEDGER_NATS_URL:-nats://127.0.0.1:4222}
exec cargo run --release --quiet -p ledger-gateway --bin ledger -- serve "$@"
