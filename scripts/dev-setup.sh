#!/usr/bin/env bash
# Installs the Debian packages that building and testing onepass need. Idempotent and quiet when
# everything is present; uses sudo when not root. Called by `make run` and `make test`.
#
# A fresh Debian 12 has only its Priority: required packages: anything else a build, a test or a
# script runs must be listed here, even when most machines have it (udev and systemd are only
# "important"). scripts/devsetup_test.go fails, naming the program and its package, when the
# code runs a program whose package is in neither.
set -euo pipefail

# package → a file or command that proves it is installed (dpkg -s is slow and noisy on some hosts)
declare -A need=(
  [gcc]=/usr/bin/gcc                              # cgo: go-sqlite3 and gocv
  [pkgconf]=/usr/bin/pkg-config                   # cgo's #cgo pkg-config: opencv4
  [git]=/usr/bin/git                              # the version: git describe (Makefile, scripts/build.sh, package.sh)
  [binutils]=/usr/bin/readelf                     # scripts/package.sh reads the binaries' libraries for Depends
  [file]=/usr/bin/file                            # scripts/build.sh names what it built
  [libsqlite3-dev]=/usr/include/sqlite3.h         # not linked (go-sqlite3 bundles SQLite); headers for tools
  [sqlite3]=/usr/bin/sqlite3                      # technicians inspect the database with it
  [chromium]=/usr/bin/chromium                    # browser tests in headless Chromium
  [postgresql]=/usr/share/doc/postgresql/copyright  # hub tests start throwaway clusters (initdb, postgres in /usr/lib/postgresql/*/bin)
  [espeak-ng]=/usr/bin/espeak-ng                  # scripts/gen-voice.sh (voice clips)
  [sox]=/usr/bin/sox
  [fonts-wqy-microhei]=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc  # CJK glyphs on the kiosk screen
  [libopencv-dev]=/usr/lib/x86_64-linux-gnu/pkgconfig/opencv4.pc  # camera decoding (gocv v0.31.0)
  [libopencv-contrib-dev]=/usr/include/opencv4/opencv2/wechat_qrcode.hpp  # wechat_qrcode (drivers/camera cgo shim)
  [zbar-tools]=/usr/bin/zbarimg                   # the camera benchmark compares our decoder with zbarimg
  [libzxing-dev]=/usr/include/ZXing/ReadBarcode.h  # zxing-cpp: the still and live second decoder (drivers/camera cgo shim)
  [cage]=/usr/bin/cage                            # the screen unit's compositor (systemd-analyze verify checks it)
  [systemd]=/usr/bin/systemd-analyze              # unit checks; the package's scripts run systemctl, systemd-sysusers
  [udev]=/usr/bin/udevadm                         # the package depends on it; TestUdevRules runs udevadm test
  [openssh-server]=/usr/sbin/sshd                 # scripts/flash.sh is tested against a loopback sshd
  [openssh-client]=/usr/bin/ssh
)

# --list: the packages, one a line (scripts/devsetup_test.go checks they cover every program the
# code runs).
if [ "${1:-}" = --list ]; then
  printf '%s\n' "${!need[@]}" | sort
  exit 0
fi

missing=()
for pkg in "${!need[@]}"; do
  [ -e "${need[$pkg]}" ] || missing+=("$pkg")
done
if [ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ] && [[ " ${missing[*]} " == *" libopencv-dev "* ]]; then
  # The proof path above is amd64's; on other architectures ask pkg-config.
  pkg-config --exists opencv4 2>/dev/null && missing=("${missing[@]/libopencv-dev}")
fi
[ "${#missing[@]}" -eq 0 ] && exit 0

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "dev-setup: Go 1.26 is needed (https://go.dev/dl/); put it in /usr/local/go" >&2
  exit 1
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "dev-setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "dev-setup: done" >&2
