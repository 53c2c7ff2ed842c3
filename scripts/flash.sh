#!/usr/bin/env bash
# Installs or updates onepass on a kiosk over SSH, provisions it and proves it works:
#   1. copies the .deb to the kiosk (kept in /var/cache/onepass for later rollbacks)
#   2. stops the daemon and backs up its configuration and database
#   3. installs the package without starting the daemon
#   4. writes the site configuration (--config)
#   5. enrolls the kiosk with the hub (--hub and --token: starts the daemon for `onepassctl enroll`)
#   6. runs `onepassctl selftest` as the onepass user
#   7. starts the new daemon and proves it runs: READY, up and never restarted for the settle time,
#      and its local API answering as the new version (without systemd flash.sh runs it itself, as
#      the unit would, then stops it again)
#   8. any failure: reinstalls the previous package with its configuration and database and checks
#      that it runs again; a first install is left with its daemon stopped. The report says why.
# Prints a report; exit status 0 only when everything asked for worked.
#
# Usage: scripts/flash.sh [options] [USER@]HOST
#   --deb FILE          the package (default: the newest dist/onepass_*_ARCH.deb for the kiosk's ARCH)
#   --config FILE       site configuration, installed as /etc/onepass/onepassd.toml
#   --hub URL           hub to enroll with (needs --token)
#   --token TOKEN       one-time enrollment token from the hub operator
#   --settle SECONDS    how long the new daemon must stay up without a restart (default 10)
#   --start-timeout S   how long the daemon may take to start and answer (default 90)
#   -p, --port N        SSH port (default 22)
#   -i, --identity KEY  SSH private key
#   -o OPTION           extra ssh option, repeatable (e.g. -o UserKnownHostsFile=./known_hosts)
# The SSH user is root, or a user with passwordless sudo.
set -euo pipefail

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "flash.sh: $*" >&2; exit 2; }

deb="" config="" hub="" token="" port=22 settle=10 start_timeout=90
ssh_opts=(-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=15)
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="${2:?--deb needs a file}"; shift ;;
    --config) config="${2:?--config needs a file}"; shift ;;
    --hub) hub="${2:?--hub needs a URL}"; shift ;;
    --token) token="${2:?--token needs the token}"; shift ;;
    --settle) settle="${2:?--settle needs seconds}"; shift ;;
    --start-timeout) start_timeout="${2:?--start-timeout needs seconds}"; shift ;;
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
[[ $settle =~ ^[0-9]+$ ]] || die "--settle needs whole seconds, not $settle"
[[ $start_timeout =~ ^[1-9][0-9]*$ ]] || die "--start-timeout needs whole seconds, not $start_timeout"

# Once the package on the kiosk may have changed, every failure must end in the report (and a
# rollback); the explicit checks below do that. This trap is the net under them: should the
# script still stop early (the SSH connection lost), it says that nothing was checked.
changed=false reported=false step=""
work=$(mktemp -d)
on_exit() {
  local rc=$?
  if $changed && ! $reported; then
    echo "flash.sh: stopped unexpectedly (exit $rc) while $step, after the package on $target began to change:" \
      "neither checked nor rolled back; look at the kiosk (onepassctl status; /var/cache/onepass/dpkg.log)" >&2
  fi
  ssh "${ssh_opts[@]}" -p "$port" -O exit "$target" 2>/dev/null || true
  rm -rf "$work"
}
trap on_exit EXIT
# One SSH connection for every step.
ssh_opts+=(-o ControlMaster=auto -o "ControlPath=$work/cm" -o ControlPersist=120)

log() { echo "flash.sh: $*" >&2; }
# q quotes one word for the remote POSIX shell.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
# remote SCRIPT runs a shell script on the kiosk as root; stdin is passed through.
remote() { ssh "${ssh_opts[@]}" -p "$port" "$target" "$sudo sh -c $(q "set -e; $1")"; }

# The kiosk side of starting, checking and stopping the daemon (POSIX sh, run as root), sent
# ahead of each call that needs it. Errors are handled explicitly, hence set +e.
kiosk_lib=$(cat <<'KIOSK'
set +e
unit=onepassd.service
flashrun=/run/onepass-flash                  # the PID of a daemon flash.sh started itself
daemon_log=/var/cache/onepass/onepassd.log   # its output (with systemd: the journal)
has_systemd() { [ -d /run/systemd/system ]; }

# listen_addr: where the daemon answers (the configuration's top-level listen; the default).
listen_addr() {
  a=$(sed -n '/^\[/q; s/^listen *= *"\([^"]*\)".*/\1/p' /etc/onepass/onepassd.toml 2>/dev/null)
  a=${a:-127.0.0.1:8080}
  case $a in
    :*) a=127.0.0.1$a ;;
    0.0.0.0:*) a=127.0.0.1:${a#0.0.0.0:} ;;
    "[::]:"*) a="[::1]:${a#"[::]:"}" ;;
  esac
  echo "$a"
}

# unit_setting KEY: the value in the installed onepassd.service (a copy in /etc wins).
unit_setting() {
  sed -n "s/^$1=//p" /lib/systemd/system/$unit /usr/lib/systemd/system/$unit /etc/systemd/system/$unit 2>/dev/null | tail -n 1
}

# alive PID: that process still runs onepassd (an exited one is a zombie with no command line).
# While the process execs, its command line can be briefly unreadable or still the shell's: look
# again a few times before calling it gone (stderr first, so a failed open prints nothing).
alive() {
  [ -n "$1" ] || return 1
  for _ in 1 2 3; do
    alive_cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") && case $alive_cmd in *onepassd*) return 0 ;; esac
    [ -d "/proc/$1" ] || return 1
    sleep 0.1
  done
  return 1
}

daemon_running() {
  if has_systemd; then systemctl is-active --quiet "$unit"; else alive "$main_pid"; fi
}

# daemon_stop: stops the screen and the daemon, or the daemon flash.sh started without systemd.
daemon_stop() {
  if has_systemd; then systemctl stop onepass-display.service "$unit" 2>/dev/null; fi
  pid=$(cat "$flashrun/onepassd.pid" 2>/dev/null)
  if alive "$pid"; then
    kill -TERM "$pid"
    i=0
    while alive "$pid" && [ "$i" -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if alive "$pid"; then kill -KILL "$pid"; fi
  fi
  rm -f "$flashrun/onepassd.pid"
  return 0
}

# daemon_start_plain: without systemd, runs ExecStart as the unit would (User=, Group= with the
# user's groups, UMask=, in /), in a session of its own, output to $daemon_log.
daemon_start_plain() {
  cmdline=$(unit_setting ExecStart)
  user=$(unit_setting User) group=$(unit_setting Group) mask=$(unit_setting UMask)
  mkdir -p "$flashrun"
  (
    umask "${mask:-0022}"
    cd / && exec setsid setpriv --reuid="${user:-root}" --regid="${group:-${user:-root}}" --init-groups -- \
      ${cmdline:-/usr/bin/onepassd --config /etc/onepass/onepassd.toml}
  ) </dev/null >"$daemon_log" 2>&1 &
  main_pid=$!
  echo "$main_pid" >"$flashrun/onepassd.pid"
}

# probe: asks the daemon's local API who answers (GET /api/status via onepassctl status): sets
# answer_version and answer_health; fails while nothing answers or the daemon is still starting.
probe() {
  status_out=$(onepassctl --addr "http://$addr" status 2>&1 </dev/null)
  line=$(printf '%s\n' "$status_out" | sed -n 's/^onepassd \(.*\), up .*, health \([a-z]*\)$/\1 \2/p' | head -n 1)
  [ -n "$line" ] || return 1
  answer_version=${line% *} answer_health=${line##* }
}

unit_state() {
  systemctl show -p MainPID -p NRestarts -p ActiveEnterTimestampMonotonic -p ActiveState "$unit" | sort | tr '\n' ' '
}

# failed WHY: the first line of the check's output says why, the rest shows the evidence.
failed() {
  echo "FAILED: $*"
  if has_systemd; then
    systemctl show -p ActiveState -p SubState -p Result -p ExecMainStatus -p NRestarts "$unit" | tr '\n' ' '
    echo
    systemctl status --no-pager --lines 15 "$unit" 2>&1 | tail -n 20
  else
    if alive "$main_pid"; then daemon_stop; fi
    echo "its output ($daemon_log):"
    tail -n 15 "$daemon_log"
  fi
  return 1
}

# daemon_check SETTLE TIMEOUT [keep]: starts the installed daemon and proves that it runs: started
# (with systemd: READY=1, `systemctl restart` returns only then), answering on its local API as the
# installed version within TIMEOUT seconds, then up for SETTLE seconds with no exit and no restart
# (same main PID, NRestarts and ActiveEnterTimestamp), still answering, and not "down". Without
# systemd the daemon is stopped again afterwards unless keep is given.
daemon_check() {
  settle=$1 timeout=$2 keep=${3:-}
  addr=$(listen_addr)
  want=$(onepassd --version 2>/dev/null </dev/null | sed -n 's/^onepassd //p' | head -n 1)
  [ -n "$want" ] || { failed "onepassd --version names no version"; return 1; }
  t0=$(date +%s)
  if has_systemd; then
    systemctl daemon-reload
    out=$(timeout "$timeout" systemctl restart "$unit" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" = 124 ]; then failed "onepassd $want did not report READY within ${timeout}s"; return 1; fi
    if [ "$rc" != 0 ]; then failed "onepassd $want did not start: $(echo "$out" | head -n 1 | sed 's/\.$//')"; return 1; fi
    main_pid=$(systemctl show -p MainPID --value "$unit")
    before=$(unit_state)
  else
    daemon_stop
    daemon_start_plain
  fi
  while ! probe; do
    if ! daemon_running; then
      if ! has_systemd; then wait "$main_pid"; failed "onepassd $want exited (status $?) before it answered at http://$addr"
      else failed "onepassd $want stopped before it answered at http://$addr"; fi
      return 1
    fi
    if [ $(($(date +%s) - t0)) -ge "$timeout" ]; then
      failed "onepassd $want did not answer at http://$addr within ${timeout}s"
      return 1
    fi
    sleep 1
  done
  i=0
  while [ "$i" -lt "$settle" ]; do
    sleep 1
    i=$((i + 1))
    if ! daemon_running; then
      if ! has_systemd; then wait "$main_pid"; failed "onepassd $want exited (status $?) while settling, ${i}s after it answered"
      else failed "onepassd $want stopped or restarted while settling, ${i}s after it answered"; fi
      return 1
    fi
  done
  if has_systemd; then
    after=$(unit_state)
    if [ "$after" != "$before" ]; then failed "onepassd $want restarted within ${settle}s: $before→ $after"; return 1; fi
  fi
  if ! probe; then failed "onepassd $want no longer answers at http://$addr after ${settle}s"; return 1; fi
  if [ "$answer_version" != "$want" ]; then
    failed "http://$addr answers as onepassd $answer_version, not the installed $want"
    return 1
  fi
  if [ "$answer_health" = down ]; then
    failed "onepassd $want runs but its health is down (nobody can pass): $(printf '%s\n' "$status_out" | tr '\n' ' ')"
    return 1
  fi
  how="kept running by systemd"
  if ! has_systemd; then
    how="kept running until the next flash (no systemd)"
    [ -n "$keep" ] || { daemon_stop; how="stopped again: no systemd to keep it running"; }
  fi
  echo "onepassd $want up ${settle}s without a restart (pid $main_pid), answering at http://$addr as $answer_version, health $answer_health; $how"
}
KIOSK
)
# kiosk CALL: runs one of the functions above on the kiosk.
kiosk() { remote "$kiosk_lib
$1"; }

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
# daemon_check FILE: starts the installed daemon and proves it runs (see daemon_check above);
# FILE gets the verdict on its first line and the evidence of a failure below it.
daemon_check() {
  kiosk "daemon_check $settle $start_timeout" >"$1" 2>&1 || {
    grep -q '^FAILED: ' "$1" || echo "FAILED: the check itself failed (SSH?): $(tr '\n' ' ' <"$1")" >"$1"
    return 1
  }
}
# stop_daemon: the daemon holds the devices, so the self-test (and a rollback) runs while it is stopped.
stop_daemon() { kiosk daemon_stop; }

step="stopping the daemon"
stop_daemon || die "cannot stop the daemon on $host; nothing changed"
remote "$backup" || die "cannot back up the configuration and database on $host; nothing changed"
changed=true

step="installing $version"
install_ok=true
dpkg_install "$cached" || install_ok=false

step="writing the site configuration"
site="unchanged"
config_ok=true
if $install_ok && [ -n "$config" ]; then
  if remote 'cat > /etc/onepass/onepassd.toml.new && chown root:onepass /etc/onepass/onepassd.toml.new &&
    chmod 0640 /etc/onepass/onepassd.toml.new && mv /etc/onepass/onepassd.toml.new /etc/onepass/onepassd.toml' <"$config"; then
    site="written from $config"
  else
    site="FAILED to write it from $config"
    config_ok=false
  fi
fi

step="enrolling"
enroll="skipped (no --token)"
enroll_ok=true
if $install_ok && $config_ok && [ -n "$token" ]; then
  if ! remote 'onepassctl --help 2>&1 | grep -q "^  enroll"'; then
    enroll="NOT AVAILABLE: onepassctl $version has no enroll command; enroll later with: onepassctl enroll --hub URL --token TOKEN"
    enroll_ok=false
  else
    # `onepassctl enroll` asks the running daemon (it keeps the identity under its data
    # directory): start it until it answers, enroll, stop it again.
    if ! started=$(kiosk "daemon_check 0 $start_timeout keep" 2>&1); then
      enroll="FAILED: the daemon did not start for it: $(echo "$started" | head -1)"
      enroll_ok=false
    else
      listen=$(kiosk listen_addr || true)
      if out=$(remote "onepassctl --addr $(q "http://${listen:-127.0.0.1:8080}") enroll --hub $(q "$hub") --token $(q "$token") 2>&1"); then
        enroll="done with $hub"
      else
        enroll="FAILED: $(echo "$out" | tail -3 | tr '\n' ' ')"
        enroll_ok=false
      fi
    fi
    stop_daemon || true
  fi
fi

step="running the self-test"
test_ok=false
if $install_ok && $config_ok && selftest; then test_ok=true; fi

step="checking the daemon"
daemon_ok=false
if $test_ok && daemon_check "$work/daemon.txt"; then daemon_ok=true; fi

# why: what went wrong with $version (empty: nothing).
why=""
if ! $install_ok; then why="could not be installed (dpkg output above)"
elif ! $config_ok; then why="could not get the site configuration"
elif ! $test_ok; then why="failed its self-test (below)"
elif ! $daemon_ok; then why="did not run: $(head -1 "$work/daemon.txt" | sed 's/^FAILED: //')"
fi

step="rolling back"
result=""
rollback_daemon=""
if [ -z "$why" ]; then
  result="OK: $version installed, its daemon runs"
  if ! remote 'if [ -d /run/systemd/system ] && systemctl is-enabled --quiet onepass-display.service; then systemctl restart onepass-display.service; fi'; then
    log "onepass-display.service did not start (the screen): see systemctl status onepass-display on the kiosk"
  fi
else
  stop_daemon || true
  if [ -n "$previous" ] && remote "test -r $(q "$prev_cached")"; then
    log "$version $why: rolling back to $previous"
    cp "$work/selftest.txt" "$work/selftest-failed.txt" 2>/dev/null || true
    [ ! -e "$work/daemon.txt" ] || mv "$work/daemon.txt" "$work/daemon-failed.txt"
    back="ROLLED BACK to $previous: $version $why"
    if ! dpkg_install "$prev_cached"; then
      result="$back; reinstalling $previous FAILED (dpkg output above): the kiosk needs a technician"
    elif ! remote "$restore"; then
      result="$back; restoring its configuration and database FAILED: the kiosk needs a technician"
    elif ! selftest; then
      result="$back; $previous fails its self-test too (below): its daemon is left stopped"
    elif ! daemon_check "$work/daemon.txt"; then
      stop_daemon || true
      result="$back; $previous does not run either (below): its daemon is left stopped"
    else
      result="$back; $previous is back and runs"
    fi
    rollback_daemon=$previous
  elif [ -n "$previous" ]; then
    result="FAILED, NOT ROLLED BACK: $version $why; no cached package of $previous on the kiosk ($prev_cached): the daemon is left stopped"
  else
    result="FAILED: $version $why; a first install has nothing to roll back to: the daemon is left stopped; fix the cause and flash again"
  fi
fi

step="printing the report"
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
  if [ -s "$work/daemon-failed.txt" ]; then
    printf '%-14s %s\n' daemon "$(head -1 "$work/daemon-failed.txt")"
    echo "-- daemon of $version --"
    tail -n +2 "$work/daemon-failed.txt"
  fi
  if [ -s "$work/daemon.txt" ]; then
    printf '%-14s %s\n' "daemon${rollback_daemon:+ $rollback_daemon}" "$(head -1 "$work/daemon.txt")"
    if [ "$(wc -l <"$work/daemon.txt")" -gt 1 ]; then
      echo "-- daemon${rollback_daemon:+ of $rollback_daemon after the rollback} --"
      tail -n +2 "$work/daemon.txt"
    fi
  elif [ ! -s "$work/daemon-failed.txt" ]; then
    printf '%-14s %s\n' daemon "not started (the steps above failed)"
  fi
  printf '%-14s %s\n' result "$result"
}
reported=true
if [ -z "$why" ] && $enroll_ok; then exit 0; fi
exit 1
