#!/usr/bin/env bash
# Installs or updates onepass on a kiosk over SSH, provisions it and proves it works:
#   1. copies the .deb to the kiosk (kept in /var/cache/onepass for later rollbacks)
#   2. stops the daemon and backs up its configuration and database
#   3. installs the package without starting the daemon
#   4. writes the site configuration (--config)
#   5. enrolls the kiosk with the hub (--hub and --token: starts the daemon for `onepassctl enroll`)
#   6. runs `onepassctl selftest` as the onepass user
#   7. passed: starts the services. Failed: reinstalls the previous package with its configuration
#      and database, starts it again, and says so.
# Prints a report; exit status 0 only when everything asked for worked.
#
# Usage: scripts/flash.sh [options] [USER@]HOST
#   --deb FILE          the package (default: the newest dist/onepass_*_ARCH.deb for the kiosk's ARCH)
#   --config FILE       site configuration, installed as /etc/onepass/onepassd.toml
#   --hub URL           hub to enroll with (needs --token)
#   --token TOKEN       one-time enrollment token from the hub operator
#   -p, --port N        SSH port (default 22)
#   -i, --identity KEY  SSH private key
#   -o OPTION           extra ssh option, repeatable (e.g. -o UserKnownHostsFile=./known_hosts)
# The SSH user is root, or a user with passwordless sudo.
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "flash.sh: $*" >&2; exit 2; }

deb="" config="" hub="" token="" port=22
ssh_opts=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15)
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="${2:?--deb needs a file}"; shift ;;
    --config) config="${2:?--config needs a file}"; shift ;;
    --hub) hub="${2:?--hub needs a URL}"; shift ;;
    --token) token="${2:?--token needs the token}"; shift ;;
    -p|--port) port="${2:?--port needs a number}"; shift ;;
    -i|--identity) ssh_opts+=(-i "${2:?--identity needs a key file}"); shift ;;
    -o) ssh_opts+=(-o "${2:?-o needs an ssh option}"); shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "${target:-}" ] || die "one HOST only"; target=$1 ;;
  esac
  shift
done
[ -n "${target:-}" ] || { usage >&2; exit 2; }
{ [ -n "$hub" ] && [ -z "$token" ]; } || { [ -z "$hub" ] && [ -n "$token" ]; } && die "--hub and --token go together"
[ -z "$config" ] || [ -r "$config" ] || die "cannot read --config $config"

work=$(mktemp -d)
trap 'ssh "${ssh_opts[@]}" -p "$port" -O exit "$target" 2>/dev/null; rm -rf "$work"' EXIT
# One SSH connection for every step.
ssh_opts+=(-o ControlMaster=auto -o "ControlPath=$work/cm" -o ControlPersist=120)

log() { echo "flash.sh: $*" >&2; }
# q quotes one word for the remote POSIX shell.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
# remote SCRIPT runs a shell script on the kiosk as root; stdin is passed through.
remote() { ssh "${ssh_opts[@]}" -p "$port" "$target" "$sudo sh -c $(q "set -e; $1")"; }

sudo=""
whoami=$(ssh "${ssh_opts[@]}" -p "$port" "$target" id -u) || { echo "flash.sh: cannot log in to $target over SSH (port $port)" >&2; exit 1; }
[ "$whoami" = 0 ] || sudo="sudo -n"

arch=$(remote 'dpkg --print-architecture')
previous=$(remote 'dpkg-query -W -f="\${Status} \${Version}" onepass 2>/dev/null | sed -n "s/^install ok installed //p"' || true)
host=$(remote 'hostname')

if [ -z "$deb" ]; then
  deb=$(ls -t dist/onepass_*_"$arch".deb 2>/dev/null | head -1 || true)
  [ -n "$deb" ] || die "no dist/onepass_*_$arch.deb: build one with scripts/package.sh --arch $arch, or give --deb"
fi
[ -r "$deb" ] || die "cannot read $deb"
deb_arch=$(dpkg-deb -f "$deb" Architecture)
version=$(dpkg-deb -f "$deb" Version)
[ "$deb_arch" = "$arch" ] || [ "$deb_arch" = all ] || die "$deb is for $deb_arch but $host is $arch"
cached="/var/cache/onepass/onepass_${version}_${arch}.deb"
prev_cached="/var/cache/onepass/onepass_${previous}_${arch}.deb"

log "$host ($arch): ${previous:-nothing} → $version"
remote "install -d -m 0750 /var/cache/onepass && cat > $(q "$cached.part") && mv $(q "$cached.part") $(q "$cached")" <"$deb"

# services STOP|START: the daemon holds the devices, so the self-test runs while it is stopped.
# Where systemd is not running (an image being prepared, a container) there is nothing to do.
services() {
  case "$1" in
    stop) remote 'if [ -d /run/systemd/system ]; then systemctl stop onepass-display.service onepassd.service 2>/dev/null || true; fi' ;;
    start) remote 'if [ -d /run/systemd/system ]; then systemctl daemon-reload; systemctl restart onepassd.service;
      if systemctl is-enabled --quiet onepass-display.service; then systemctl restart onepass-display.service; fi; fi' ;;
  esac
}

# Back up what an install and a self-test may change: the configuration and the database (a newer
# version migrates its schema, which an older one refuses).
backup='rm -rf /var/cache/onepass/rollback && install -d -m 0700 /var/cache/onepass/rollback
  cp -a /etc/onepass/onepassd.toml /var/cache/onepass/rollback/ 2>/dev/null || true
  for f in /var/lib/onepass/onepass.db /var/lib/onepass/onepass.db-wal /var/lib/onepass/onepass.db-shm; do
    if [ -e "$f" ]; then cp -a "$f" /var/cache/onepass/rollback/; fi; done'
restore='if [ -e /var/cache/onepass/rollback/onepassd.toml ]; then cp -a /var/cache/onepass/rollback/onepassd.toml /etc/onepass/; fi
  rm -f /var/lib/onepass/onepass.db /var/lib/onepass/onepass.db-wal /var/lib/onepass/onepass.db-shm
  for f in /var/cache/onepass/rollback/onepass.db*; do if [ -e "$f" ]; then cp -a "$f" /var/lib/onepass/; fi; done'
dpkg_install() {
  remote "ONEPASS_NO_START=1 DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i $(q "$1") >/var/cache/onepass/dpkg.log 2>&1 || { cat /var/cache/onepass/dpkg.log >&2; exit 1; }"
}
selftest() {
  remote 'runuser -u onepass -- onepassctl selftest --config /etc/onepass/onepassd.toml 2>&1' >"$work/selftest.txt"
}

services stop
remote "$backup"
install_ok=true
dpkg_install "$cached" || install_ok=false

site="unchanged"
if $install_ok && [ -n "$config" ]; then
  remote 'cat > /etc/onepass/onepassd.toml.new && chown root:onepass /etc/onepass/onepassd.toml.new &&
    chmod 0640 /etc/onepass/onepassd.toml.new && mv /etc/onepass/onepassd.toml.new /etc/onepass/onepassd.toml' <"$config"
  site="written from $config"
fi

enroll="skipped (no --token)"
enroll_ok=true
if $install_ok && [ -n "$token" ]; then
  if ! remote 'onepassctl --help 2>&1 | grep -q "^  enroll"'; then
    enroll="NOT AVAILABLE: onepassctl $version has no enroll command; enroll later with: onepassctl enroll --hub URL --token TOKEN"
    enroll_ok=false
  else
    # `onepassctl enroll` asks the running daemon (it keeps the identity under its data
    # directory); `systemctl restart` returns once the daemon said READY.
    services start
    # The daemon's address: the top-level `listen` of the kiosk's configuration.
    listen=$(remote 'sed -n "/^\[/q; s/^listen *= *\"\([^\"]*\)\".*/\1/p" /etc/onepass/onepassd.toml')
    if out=$(remote "onepassctl --addr $(q "http://${listen:-127.0.0.1:8080}") enroll --hub $(q "$hub") --token $(q "$token") 2>&1"); then
      enroll="done with $hub"
    else
      enroll="FAILED: $(echo "$out" | tail -3 | tr '\n' ' ')"
      enroll_ok=false
    fi
    services stop
  fi
fi

test_ok=false
if $install_ok && selftest; then test_ok=true; fi

result=""
if $test_ok; then
  result="OK: $version installed"
elif [ -n "$previous" ] && remote "test -r $(q "$prev_cached")"; then
  log "self-test failed: rolling back to $previous"
  cp "$work/selftest.txt" "$work/selftest-failed.txt" 2>/dev/null || true
  dpkg_install "$prev_cached" && remote "$restore" && selftest || true
  result="ROLLED BACK to $previous: $version failed its self-test (below)"
elif [ -n "$previous" ]; then
  result="FAILED, NOT ROLLED BACK: no cached package of $previous on the kiosk ($prev_cached)"
else
  result="FAILED: a first install has nothing to roll back to; fix the cause and flash again"
fi
services start

{
  echo "== onepass flash report: $host ($target) =="
  printf '%-14s %s\n' architecture "$arch" previous "${previous:-none}" package "$version ($(basename "$deb"))"
  printf '%-14s %s\n' install "$($install_ok && echo done || echo 'FAILED (dpkg output above)')"
  printf '%-14s %s\n' "site config" "$site" enrollment "$enroll"
  now=$(remote 'dpkg-query -W -f="\${Version}" onepass 2>/dev/null' || true)
  printf '%-14s %s\n' installed "${now:-none}"
  if [ -s "$work/selftest-failed.txt" ]; then
    echo "-- self-test of $version --"
    cat "$work/selftest-failed.txt"
    echo "-- self-test of $previous after the rollback --"
  else
    echo "-- self-test --"
  fi
  cat "$work/selftest.txt" 2>/dev/null || echo "(not run)"
  printf '%-14s %s\n' result "$result"
}
if $test_ok && $enroll_ok; then exit 0; fi
exit 1
