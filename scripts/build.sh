#!/usr/bin/env bash
# Builds the kiosk binaries (onepassd, onepassctl) for amd64 and arm64 into dist/<arch>/, with cgo
# (SQLite, and OpenCV once the camera driver is in the daemon) cross-compiled with Debian's
# multiarch packages, and the version stamped in with -ldflags -X main.version.
#
# Usage: scripts/build.sh [--arch amd64|arm64|all] [--smoke] [--out DIR]
#   --arch   which architectures (default: all)
#   --smoke  run each binary once: natively, or under qemu-user for arm64
#            (onepassd --version, onepassctl selftest --sim)
#   --out    output folder (default: dist)
# Environment: VERSION (default: git describe), GO (default: go, or /usr/local/go/bin/go).
#
# Missing Debian packages (gcc-aarch64-linux-gnu, qemu-user-static, the arm64 OpenCV -dev
# packages) are installed when running as root, else the script names the apt-get command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

arches=(amd64 arm64)
smoke=false
out=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) shift; [ "${1:-}" = all ] && arches=(amd64 arm64) || arches=("${1:?--arch needs amd64, arm64 or all}") ;;
    --smoke) smoke=true ;;
    --out) shift; out="${1:?--out needs a folder}" ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
host_arch=$(dpkg --print-architecture)

say() { echo "build.sh: $*" >&2; }

# ensure PKG... installs Debian packages (arch-qualified names allowed) that are not installed yet.
ensure() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# uses_opencv reports whether the daemon links OpenCV (the camera driver, through gocv).
uses_opencv() { "$GO" list -deps ./cmd/onepassd ./cmd/onepassctl | grep -q '^gocv.io/x/gocv$'; }

triplet() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }

# sysroot ARCH prints a folder holding the target's OpenCV headers and libraries with everything
# they load, unpacked from Debian's own ARCH packages (apt-get download + dpkg -x) and never
# installed: libopencv-dev is not multiarch, and installing the modules for a foreign
# architecture makes apt remove the host's (their dependencies, VTK and GDAL, do not co-install).
sysroot() {
  local arch=$1 dir="${ONEPASS_SYSROOT:-/var/cache/onepass-build}/sysroot-$arch"
  # .complete-3: made with zxing-cpp and the alternatives links; an older sysroot lacks them and
  # is made again.
  # (.complete too, so an older build.sh elsewhere on this machine uses it and does not unpack
  # over it.)
  if [ ! -e "$dir/.complete-3" ]; then
    [ ! -e "$dir" ] || { say "remaking $dir (made by an older build.sh)"; rm -rf "$dir"; }
    dpkg --print-foreign-architectures | grep -qx "$arch" || {
      [ "$(id -u)" -eq 0 ] || { say "run: sudo dpkg --add-architecture $arch && sudo apt-get update"; exit 1; }
      say "adding the $arch package lists (nothing of $arch is installed)"
      dpkg --add-architecture "$arch"
      apt-get update -qq
    }
    say "unpacking OpenCV for $arch into $dir (first time only)"
    local dl
    dl=$(mktemp -d)
    # The whole dependency closure, so the linker and qemu find every library the modules load.
    mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
      --no-breaks --no-replaces --no-enhances "libopencv-dev:$arch" "libopencv-contrib-dev:$arch" "libzxing-dev:$arch" |
      sed -n 's/^\([a-z0-9][^ <>]*\)$/\1/p' | sed "s/:$arch\$//" | sort -u)
    # Architecture-independent packages (headers, data: "Architecture: all") have no :arch
    # variant, though apt-cache answers for "name:arch" anyway: read each record's Architecture
    # field, in one apt-cache call for all of them.
    local names=() arch_of
    declare -A arch_of=()
    while read -r name a; do arch_of[$name]=$a; done < <(
      apt-cache show --no-all-versions "${pkgs[@]/%/:$arch}" 2>/dev/null |
        awk '/^Package: /{p=$2} /^Architecture: /{print p, $2}')
    local p
    for p in "${pkgs[@]}"; do
      if [ "${arch_of[$p]:-}" = "$arch" ]; then names+=("$p:$arch"); else names+=("$p"); fi
    done
    (cd "$dl" && apt-get download -qq "${names[@]}") >&2 || { say "downloading the $arch packages failed"; rm -rf "$dl"; exit 1; }
    compgen -G "$dl/*.deb" >/dev/null || { say "no $arch packages were downloaded"; rm -rf "$dl"; exit 1; }
    sysroot_unpack "$dir" "$dl"/*.deb || { rm -rf "$dl"; exit 1; }
    rm -rf "$dl"
    touch "$dir/.complete-3" "$dir/.complete" # only now: a half sysroot must not pass for a whole one
  fi
  echo "$dir"
}

# sysroot_unpack ROOT DEB… unpacks packages into a sysroot without installing them: their files,
# the links their postinst would make with update-alternatives, and ROOT/.packages, what went in
# ("package version" lines, for scripts/package.sh's Depends: >= the version built against).
sysroot_unpack() {
  local root=$1 d
  shift
  mkdir -p "$root"
  for d in "$@"; do
    dpkg -x "$d" "$root" || { say "unpacking $d failed"; return 1; }
    dpkg-deb --show --showformat='${Package} ${Version}\n' "$d"
  done | sort -u >"$root/.packages"
  sysroot_alternatives "$root" "$@"
}

# sysroot_alternatives ROOT DEB… makes in ROOT the links the packages' postinst scripts make with
# update-alternatives --install, which dpkg -x does not run: OpenCV's core loads libblas.so.3 and
# liblapack.so.3, and those are such links (to the reference BLAS, OpenBLAS…). As apt's auto mode,
# the highest priority wins.
sysroot_alternatives() {
  local root=$1 d link target
  shift
  for d in "$@"; do
    dpkg-deb --ctrl-tarfile "$d" | tar -xO ./postinst 2>/dev/null || true
  done | sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' |
    awk '{ for (i = 1; i + 5 <= NF; i++) if ($i == "update-alternatives" && $(i+1) == "--install") print $(i+5), $(i+2), $(i+4) }' |
    sort -k1,1nr | awk '!seen[$2]++ { print $2, $3 }' |
    while read -r link target; do
      [ -e "$root$target" ] || continue
      mkdir -p "$(dirname "$root$link")"
      ln -sfr "$root$target" "$root$link"
    done
}

# sysroot_env ROOT TRIPLET prints the cgo environment for building against a sysroot, one
# VAR=value a line. pkg-config prefixes ROOT to the -I and -L paths of the target's own .pc files.
# The linker gets --sysroot too: the sysroot's libc.so, libm.so… are linker scripts naming
# absolute paths (GROUP ( /lib/aarch64-linux-gnu/libc.so.6 … )) that ld resolves inside its
# sysroot only; without it they point at this machine's files, which a fresh amd64 machine lacks
# (cannot find /lib/aarch64-linux-gnu/libc.so.6). The -rpath-link folders let ld find the
# libraries the OpenCV modules load (some, e.g. libhdf4-0-alt for GDAL, live in /usr/lib).
sysroot_env() {
  local root=$1 tri=$2
  echo "PKG_CONFIG_SYSROOT_DIR=$root"
  echo "PKG_CONFIG_LIBDIR=$root/usr/lib/$tri/pkgconfig:$root/usr/share/pkgconfig"
  echo "CGO_LDFLAGS=-Wl,--sysroot=$root -Wl,-rpath-link,$root/usr/lib/$tri -Wl,-rpath-link,$root/lib/$tri -Wl,-rpath-link,$root/usr/lib"
}

build() {
  local arch=$1 dir="$out/$1" tri
  tri=$(triplet "$arch")
  [ -n "$tri" ] || { say "unknown architecture $arch"; exit 2; }
  local env=(CGO_ENABLED=1 GOOS=linux GOARCH="$arch")
  if [ "$arch" != "$host_arch" ]; then
    ensure "gcc-$tri" "g++-$tri"
    env+=(CC="$tri-gcc" CXX="$tri-g++")
    if uses_opencv; then
      local root
      root=$(sysroot "$arch")
      mapfile -t -O "${#env[@]}" env < <(sysroot_env "$root" "$tri")
      mkdir -p "$out" && echo "$root" >"$out/.sysroot-$arch"
    else
      # Only the target's .pc files: a host library must never leak into a foreign build.
      env+=(PKG_CONFIG_LIBDIR="/usr/lib/$tri/pkgconfig")
      rm -f "$out/.sysroot-$arch"
    fi
  elif uses_opencv; then
    ensure libopencv-dev libopencv-contrib-dev libzxing-dev
  fi
  mkdir -p "$dir"
  say "building $VERSION for $arch"
  env "${env[@]}" "$GO" build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$dir/" ./cmd/onepassd ./cmd/onepassctl
  echo "$VERSION" >"$dir/VERSION" # scripts/package.sh packages these binaries only for this version
  file -b "$dir/onepassd" 2>/dev/null | sed 's/^/build.sh:   /' >&2 || true
}

# run_bin ARCH BIN ARGS… runs a built binary, under qemu-user when it is foreign.
run_bin() {
  local arch=$1; shift
  if [ "$arch" = "$host_arch" ]; then
    "$@"
  else
    local tri qemu
    tri=$(triplet "$arch")
    case "$arch" in arm64) qemu=qemu-aarch64-static ;; amd64) qemu=qemu-x86_64-static ;; esac
    ensure qemu-user-static
    # No binfmt registration needed: qemu runs the binary with the target's loader and libraries.
    local prefix="/usr/$tri" libs="/usr/lib/$tri"
    if [ -r "$out/.sysroot-$arch" ]; then # built with OpenCV: the sysroot has the loader and libraries
      prefix=$(cat "$out/.sysroot-$arch")
      libs="$prefix/usr/lib/$tri:$prefix/lib/$tri:$prefix/usr/lib"
    fi
    # A hang under emulation must fail the build, not stop it forever.
    QEMU_LD_PREFIX="$prefix" LD_LIBRARY_PATH="$libs" timeout 600 "$qemu" "$@"
  fi
}

smoke_test() {
  local arch=$1 dir="$out/$1" data
  data=$(mktemp -d)
  trap 'rm -rf "$data"' RETURN
  say "smoke test $arch: onepassd --version"
  got=$(run_bin "$arch" "$dir/onepassd" --version)
  [ "$got" = "onepassd $VERSION" ] || { say "onepassd --version printed '$got', want 'onepassd $VERSION'"; return 1; }
  if [ "$arch" = "$host_arch" ]; then
    say "smoke test $arch: onepassctl selftest --sim"
    run_bin "$arch" "$dir/onepassctl" selftest --sim --data "$data" --config /dev/null
  else
    # onepassctl hands selftest to onepassd; under qemu-user the emulator's fork of a
    # multi-threaded Go process can hang before exec (seen: a child parked in a futex for
    # 20 min), so the foreign build runs both halves separately. The hand-over itself is
    # the same code on both architectures and is tested natively.
    say "smoke test $arch: onepassctl version"
    got=$(run_bin "$arch" "$dir/onepassctl" version)
    [ "$got" = "onepassctl $VERSION" ] || { say "onepassctl version printed '$got', want 'onepassctl $VERSION'"; return 1; }
    say "smoke test $arch: onepassd onepassctl-local selftest --sim"
    run_bin "$arch" "$dir/onepassd" onepassctl-local selftest --sim --data "$data" --config /dev/null
  fi
}

# Sourced (scripts/buildenv_test.go): the functions only.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

for a in "${arches[@]}"; do
  build "$a"
  if $smoke; then smoke_test "$a"; fi
done
say "done: $(for a in "${arches[@]}"; do printf '%s ' "$out/$a/"; done)"
