#!/usr/bin/env bash
# The soak and fault harness (RELIABILITY.md): starts the machine's PostgreSQL and
# NATS when they are down (for pg_config/initdb and the nats-server binary; the
# run itself uses a PostgreSQL cluster and a NATS server of its own, on free
# ports), builds the ledger and the harness in release mode, and runs two
# gateways, two relays and a projector under load while it kills and restarts
# each of them, NATS and PostgreSQL. Prints a Markdown report; every figure goes
# to soak-results.json. Exits 1 when a check failed.
#
#   bash deploy/soak.sh                  # full run: 200,000 licenses, 16 clients, a fault a minute
#   bash deploy/soak.sh --smoke          # a minute or two: one fault of each kind (CI runs this)
#   bash deploy/soak.sh --licenses 20000 --fault-every-secs 20
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$(bash deploy/services.sh --print-nats-server)}
# The ledger processes inherit this environment and stop on any LEDGER_* variable
# that is not one of their settings: drop the scripts' own.
unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p ledger-gateway -p ledger-tests --bin ledger --bin ledger-soak
exec "$target/release/ledger-soak" --ledger-bin "$target/release/ledger" "$@"
