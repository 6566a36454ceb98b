# Shared by the scripts in deploy/ that install what they need: messages named
# after the script, root rights, and OS packages. Source it after setting
# `script_name` (e.g. `fuzz`); messages go to stderr, so stdout stays for what a
# script prints on purpose (a path).

say() { echo "${script_name:?}: $*" >&2; }
fail() {
  echo "${script_name:?}: error: $*" >&2
  exit 1
}

# Root runs package managers directly; anyone else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    fail "need root (or sudo) to run: $*"
  fi
}

# Installs OS packages with apt-get (after refreshing its lists).
apt_install() {
  command -v apt-get >/dev/null || fail "no apt-get: install $* yourself, then run this again"
  say "installing $* from the OS packages"
  as_root apt-get update -qq >&2 || fail "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 ||
    fail "apt-get install $* failed"
}
