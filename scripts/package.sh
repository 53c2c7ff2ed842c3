#!/usr/bin/env bash
# Builds the onepass .deb for one architecture with dpkg-deb: the binaries, the systemd units,
# udev rules, sysusers.d and tmpfiles.d entries, the default /etc/onepass/onepassd.toml and the
# maintainer scripts (scripts/deb/), and the camera's CNN models in /usr/share/onepass/wechat_qrcode.
# Prints the .deb's path on stdout.
#
# Usage: scripts/package.sh [--arch amd64|arm64] [--out DIR] [--debian-version]
#   --arch            target architecture (default: this machine's)
#   --out             where dist/<arch>/ binaries are and the .deb goes (default: dist); binaries
#                     missing there are built with scripts/build.sh
#   --debian-version  print the Debian version VERSION becomes, and build nothing
# Environment: VERSION (default: git describe), DEB_COMPRESSION (xz, default; gzip is faster).
# The Debian version: a release tag stays itself (v1.2.0 → 1.2.0), commits after it sort between
# it and the next release (1.2.0-3-gabc → 1.2.0+3.gabc), and an untagged build sorts below every
# release, whatever its hash (abc1234, 1234567-dirty → 0.0.0+git.abc1234, 0.0.0+git.1234567.dirty).
set -euo pipefail
cd "$(dirname "$0")/.."

host_arch=$(dpkg --print-architecture)
arch=$host_arch
out=dist
print_version=false
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) shift; arch="${1:?--arch needs amd64 or arm64}" ;;
    --out) shift; out="${1:?--out needs a folder}" ;;
    --debian-version) print_version=true ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
export VERSION

# debian_version turns a git-describe string into a Debian version that sorts the same way. Only
# a release tag (dotted numbers, e.g. 1.2.3) counts as a release: an untagged commit's hash may
# start with a digit (1234567), and as a version it would sort above every release.
debian_version() {
  local v=${1#v} release='^[0-9]+(\.[0-9]+)+(-[0-9]+-g[0-9a-f]+)?(-dirty)?$'
  if [[ $v =~ $release ]]; then
    echo "$v" | sed 's/-/+/; s/-/./g'
  else
    v=${1//[^A-Za-z0-9.+~]/.} # what a Debian version may hold
    echo "0.0.0+git.$v"
  fi
}
debver=$(debian_version "$VERSION")
if $print_version; then
  echo "$debver"
  exit 0
fi

bin="$out/$arch"
if [ "$(cat "$bin/VERSION" 2>/dev/null)" != "$VERSION" ] || [ ! -x "$bin/onepassd" ] || [ ! -x "$bin/onepassctl" ]; then
  scripts/build.sh --arch "$arch" --out "$out" >&2
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/usr/lib/udev/rules.d" \
  "$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" "$stage/etc/onepass" "$stage/etc/pam.d" \
  "$stage/usr/share/doc/onepass" "$stage/usr/share/onepass/wechat_qrcode"
install -m 0755 "$bin/onepassd" "$bin/onepassctl" "$stage/usr/bin/"
install -m 0644 systemd/onepassd.service systemd/onepass-display.service "$stage/usr/lib/systemd/system/"
install -m 0644 systemd/99-onepass.rules "$stage/usr/lib/udev/rules.d/"
install -m 0644 systemd/onepass.sysusers "$stage/usr/lib/sysusers.d/onepass.conf"
install -m 0644 systemd/onepass.tmpfiles "$stage/usr/lib/tmpfiles.d/onepass.conf"
install -m 0644 systemd/onepass-display.pam "$stage/etc/pam.d/onepass-display"
install -m 0640 scripts/deb/onepassd.toml "$stage/etc/onepass/onepassd.toml"
install -m 0644 README.md "$stage/usr/share/doc/onepass/README.md"
# The camera's CNN models (the camera driver's default models folder), with their NOTICE: source,
# MD5 sums, licence situation.
models=drivers/camera/wechat_qrcode
install -m 0644 "$models"/detect.prototxt "$models"/detect.caffemodel "$models"/sr.prototxt "$models"/sr.caffemodel \
  "$models"/NOTICE "$stage/usr/share/onepass/wechat_qrcode/"
install -m 0755 scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm "$stage/DEBIAN/"
printf '/etc/onepass/onepassd.toml\n/etc/pam.d/onepass-display\n' >"$stage/DEBIAN/conffiles"

# Depends from the shared libraries the binaries load (readelf reads any architecture's ELF).
tri() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }
triplet=$(tri "$arch")
host_triplet=$(tri "$host_arch")
declare -A deps=([systemd]=1 [udev]=1)
# built_against PKG: the version of PKG the binaries were linked with: for a cross build, the one
# unpacked into the sysroot (build.sh lists them in .packages); else the one installed here.
sysroot=$(cat "$out/.sysroot-$arch" 2>/dev/null || true)
built_against() {
  local v=""
  if [ "$arch" != "$host_arch" ] && [ -r "$sysroot/.packages" ]; then
    v=$(awk -v p="$1" '$1 == p {print $2; exit}' "$sysroot/.packages")
  fi
  [ -n "$v" ] || v=$(dpkg-query -W -f='${Version}\n' "$1" 2>/dev/null | head -1)
  echo "$v"
}
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
      # At least the version linked against: an older library may lack a symbol the binary uses.
      ver=$(built_against "$pkg")
      [ -n "$ver" ] || { echo "package.sh: cannot tell which version of $pkg the binaries were built against" >&2; exit 1; }
      deps["$pkg (>= $ver)"]=1 ;;
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
