#!/usr/bin/env bash
# Runs every test: starts PostgreSQL and NATS when they are down, then the whole
# workspace's tests (each test makes its own database, stream and subject prefix).
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/services.sh
exec cargo test --workspace "$@"
