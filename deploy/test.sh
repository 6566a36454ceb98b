#!/usr/bin/env bash
# The README's "run the tests" command: starts PostgreSQL and NATS when they are
# down (deploy/services.sh), then every test of the workspace. Each test makes its
# own database, stream and subject prefix. Extra arguments go to `cargo test`,
# e.g. a name filter `bash deploy/test.sh landing_page` or `bash deploy/test.sh -- --nocapture`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh

# The tests find the servers through TEST_POSTGRES_URL / TEST_NATS_URL: point them
# at the ones services.sh just checked, unless told otherwise.
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@${LEDGER_PG_HOST:-127.0.0.1}:${LEDGER_PG_PORT:-5432}}
export TEST_NATS_URL=${TEST_NATS_URL:-nats://${LEDGER_NATS_HOST:-127.0.0.1}:${LEDGER_NATS_PORT:-4222}}
# Fault tests start and kill NATS servers of their own (never the shared one).
export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$(bash deploy/services.sh --print-nats-server)}
# The monitoring tests check metrics, alert rules and dashboard queries with promtool.
export PROMTOOL=${PROMTOOL:-$(bash deploy/services.sh --print-promtool)}
# The ledger binaries the tests start inherit this environment, and they stop on
# any LEDGER_* variable that is not one of their settings: drop the scripts' own.
unset LEDGER_PG_HOST LEDGER_PG_PORT LEDGER_NATS_HOST LEDGER_NATS_PORT LEDGER_NATS_STORE_DIR LEDGER_DB_NAME

exec cargo test --workspace --all-targets "$@"
