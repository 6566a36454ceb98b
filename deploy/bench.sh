#!/usr/bin/env bash
# The benchmark harness (BENCHMARKS.md): starts PostgreSQL and NATS when they are
# down, builds the ledger and the harness in release mode, and runs every phase
# against the real binary with each role in its own process, next to this
# machine's own limits measured in the same run (pgbench, raw JetStream, a static
# endpoint) and a plain cqrs-es peer driven by the same load generator. Prints
# a Markdown summary; the full figures go to bench-results.json.
#
#   bash deploy/bench.sh                 # full run: 1,000,000 licenses, ~8 min
#   bash deploy/bench.sh --smoke         # seconds: only proves every phase works
#   bash deploy/bench.sh --licenses 200000 --phase-seconds 10
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh

export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@${LEDGER_PG_HOST:-127.0.0.1}:${LEDGER_PG_PORT:-5432}}
export TEST_NATS_URL=${TEST_NATS_URL:-nats://${LEDGER_NATS_HOST:-127.0.0.1}:${LEDGER_NATS_PORT:-4222}}
# The ledger processes inherit this environment and stop on any LEDGER_* variable
# that is not one of their settings: drop the scripts' own.
unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p ledger-gateway -p ledger-tests --bin ledger --bin ledger-bench --bin ledger-peer
exec "$target/release/ledger-bench" --ledger-bin "$target/release/ledger" --peer-bin "$target/release/ledger-peer" "$@"
