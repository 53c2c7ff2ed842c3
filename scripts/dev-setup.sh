#!/usr/bin/env bash
# Installs the Debian packages that building and testing onepass need. Idempotent and quiet when
# everything is present; uses sudo when not root. Called by `make run` and `make test`.
set -euo pipefail

# package → a file or command that proves it is installed (dpkg -s is slow and noisy on some hosts)
declare -A need=(
  [gcc]=/usr/bin/gcc                              # cgo: go-sqlite3 (and later gocv)
  [pkg-config]=/usr/bin/pkg-config
  [libsqlite3-dev]=/usr/include/sqlite3.h         # not linked (go-sqlite3 bundles SQLite); headers for tools
  [sqlite3]=/usr/bin/sqlite3                      # technicians inspect the database with it
  [chromium]=/usr/bin/chromium                    # browser tests in headless Chromium
  [espeak-ng]=/usr/bin/espeak-ng                  # scripts/gen-voice.sh (voice clips)
  [sox]=/usr/bin/sox
  [fonts-wqy-microhei]=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc  # CJK glyphs on the kiosk screen
  [libopencv-dev]=/usr/lib/x86_64-linux-gnu/pkgconfig/opencv4.pc  # camera decoding (gocv v0.31.0)
  [libopencv-contrib-dev]=/usr/include/opencv4/opencv2/wechat_qrcode.hpp  # wechat_qrcode (drivers/camera cgo shim)
  [zbar-tools]=/usr/bin/zbarimg                   # the camera benchmark compares our decoder with zbarimg
  [cage]=/usr/bin/cage                            # the screen unit's compositor (systemd-analyze verify checks it)
  [openssh-server]=/usr/sbin/sshd                 # scripts/flash.sh is tested against a loopback sshd
  [openssh-client]=/usr/bin/ssh
)

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
