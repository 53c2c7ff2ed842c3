#!/usr/bin/env bash
# Builds the onepass .deb for one architecture with dpkg-deb: the binaries, the systemd units,
# udev rules, sysusers.d and tmpfiles.d entries, the default /etc/onepass/onepassd.toml and the
# maintainer scripts (scripts/deb/). Prints the .deb's path on stdout.
#
# Usage: scripts/package.sh [--arch amd64|arm64] [--out DIR]
#   --arch  target architecture (default: this machine's)
#   --out   where dist/<arch>/ binaries are and the .deb goes (default: dist); binaries missing
#           there are built with scripts/build.sh
# Environment: VERSION (default: git describe; becomes the Debian version, e.g. 1.2.0-3-gabc →
# 1.2.0+3.gabc, a bare commit abc → 0.0.0+git.abc), DEB_COMPRESSION (xz, default; gzip is faster).
set -euo pipefail
cd "$(dirname "$0")/.."

arch=$(dpkg --print-architecture)
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) shift; arch="${1:?--arch needs amd64 or arm64}" ;;
    --out) shift; out="${1:?--out needs a folder}" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export VERSION

# debian_version turns a git-describe string into a Debian version that sorts the same way.
debian_version() {
  local v=${1#v}
  if [[ $v =~ ^[0-9] ]]; then
    echo "$v" | sed 's/-/+/; s/-/./g'
  else
    echo "0.0.0+git.${v//-/.}"
  fi
}
debver=$(debian_version "$VERSION")

bin="$out/$arch"
if [ "$(cat "$bin/VERSION" 2>/dev/null)" != "$VERSION" ] || [ ! -x "$bin/onepassd" ] || [ ! -x "$bin/onepassctl" ]; then
  scripts/build.sh --arch "$arch" --out "$out" >&2
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/usr/lib/udev/rules.d" \
  "$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" "$stage/etc/onepass" "$stage/etc/pam.d" \
  "$stage/usr/share/doc/onepass"
install -m 0755 "$bin/onepassd" "$bin/onepassctl" "$stage/usr/bin/"
install -m 0644 systemd/onepassd.service systemd/onepass-display.service "$stage/usr/lib/systemd/system/"
install -m 0644 systemd/99-onepass.rules "$stage/usr/lib/udev/rules.d/"
install -m 0644 systemd/onepass.sysusers "$stage/usr/lib/sysusers.d/onepass.conf"
install -m 0644 systemd/onepass.tmpfiles "$stage/usr/lib/tmpfiles.d/onepass.conf"
install -m 0644 systemd/onepass-display.pam "$stage/etc/pam.d/onepass-display"
install -m 0640 scripts/deb/onepassd.toml "$stage/etc/onepass/onepassd.toml"
install -m 0644 README.md "$stage/usr/share/doc/onepass/README.md"
install -m 0755 scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm "$stage/DEBIAN/"
printf '/etc/onepass/onepassd.toml\n/etc/pam.d/onepass-display\n' >"$stage/DEBIAN/conffiles"

# Depends from the shared libraries the binaries load (readelf reads any architecture's ELF).
tri() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }
triplet=$(tri "$arch")
host_triplet=$(tri "$(dpkg --print-architecture)")
declare -A deps=([systemd]=1 [udev]=1)
for lib in $(readelf -d "$bin/onepassd" "$bin/onepassctl" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u); do
  case "$lib" in
    libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|libresolv.so.*|librt.so.*|ld-linux*) deps["libc6 (>= 2.36)"]=1 ;;
    libstdc++.so.*) deps[libstdc++6]=1 ;;
    libgcc_s.so.*) deps[libgcc-s1]=1 ;;
    *)
      # The target's package if installed, else the package of the same soname on this machine
      # (a cross build links against an unpacked sysroot; Debian names the package alike).
      pkg=$(dpkg-query -S "/usr/lib/$triplet/$lib" "/lib/$triplet/$lib" "/usr/lib/$host_triplet/$lib" "/lib/$host_triplet/$lib" 2>/dev/null |
        head -1 | cut -d: -f1) || true
      [ -n "$pkg" ] || { echo "package.sh: no Debian package ships $lib for $arch (is its :$arch package installed?)" >&2; exit 1; }
      deps["$pkg"]=1 ;;
  esac
done
depends=$(printf '%s\n' "${!deps[@]}" | sort | paste -sd, | sed 's/,/, /g')

cat >"$stage/DEBIAN/control" <<CONTROL
Package: onepass
Version: $debver
Architecture: $arch
Maintainer: onepass team <onepass@localhost>
Section: misc
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: cage, chromium, fonts-wqy-microhei
Description: one-code-pass checkpoint kiosk (daemon, screen, technician tools)
 onepassd reads resident ID cards and health codes, measures forehead
 temperature, decides locally under the hall's policy, logs every visit to a
 local SQLite outbox and opens the gate; onepass-display shows its screen with
 cage and Chromium; onepassctl runs the self-test and shows the status.
CONTROL

mkdir -p "$out"
deb="$out/onepass_${debver}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
