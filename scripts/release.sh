#!/usr/bin/env bash
# Makes the release archives under target/dist/:
#
#   websocket-VERSION-x86_64-linux-gnu.tar.gz
#     lib/libwebsocket.so.VERSION, lib/libwebsocket.so.MAJOR -> .so.VERSION,
#     lib/libwebsocket.so -> .so.MAJOR, lib/libwebsocket.a,
#     lib/pkgconfig/websocket.pc (relocatable: prefix=${pcfiledir}/../..), include/websocket.h,
#     README.md, CHANGELOG.md, LICENSE-MIT, LICENSE-APACHE
#   websocket-VERSION-windows.zip
#     x64/ and x86/: websocket.dll, libwebsocket.dll.a (mingw-w64 import library, GNU dlltool),
#     websocket.lib (MSVC import library, llvm-dlltool); include/websocket.h, websocket.def,
#     README.md, CHANGELOG.md, LICENSE-MIT, LICENSE-APACHE
#   SHA256SUMS
#
# Byte-for-byte reproducible from the same commit: the libraries come from reproducible builds
# (Debian's Rust 1.63, --locked, paths remapped; the DLLs from scripts/windows-build.sh; the
# Linux library in target/dist-build, apart from cargo's usual target/), every file gets the commit's time as
# its mtime (SOURCE_DATE_EPOCH, default: the HEAD commit's time), names are sorted, owners are
# 0/0, gzip stores no name or time, zip stores no extra attributes.
#
# Usage: scripts/release.sh [--no-build] [--check-reproducible]
#   --no-build              package what target/dist-build and target/windows hold
#   --check-reproducible    build everything a second time in scratch target directories and
#                           require byte-identical archives (about 2 minutes more)
# Needs: scripts/setup.sh windows release.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
MAJOR=${VERSION%%.*}
DIST=${DIST_DIR:-$ROOT/target/dist}
LINUX_NAME=websocket-$VERSION-x86_64-linux-gnu
WINDOWS_NAME=websocket-$VERSION-windows

build=1
check=0
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    --check-reproducible) check=1 ;;
    *) echo "usage: $0 [--no-build] [--check-reproducible]" >&2; exit 2 ;;
  esac
done

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

LLVM_DLLTOOL=$(command -v llvm-dlltool || ls /usr/bin/llvm-dlltool-* 2>/dev/null | sort -V | tail -1 || true)
for tool in x86_64-w64-mingw32-dlltool i686-w64-mingw32-dlltool "$LLVM_DLLTOOL" zip gzip tar; do
  [[ -n $tool ]] && command -v "$tool" >/dev/null ||
    { echo "release: ${tool:-llvm-dlltool} missing (scripts/setup.sh release)" >&2; exit 1; }
done

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
took() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01d s' $((ms / 1000)) $(( (ms % 1000) / 100 )); }

# build LINUX_TARGET_DIR WINDOWS_TARGET_DIR: the release libraries, all with Debian's Rust 1.63
# from the committed lockfile (as the DLLs), no checkout or home directory in the binaries.
build_all() {
  local t0
  t0=$(now_ms)
  RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_SPARSE_REGISTRY=true \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$ROOT=/websocket --remap-path-prefix=$1=/target" \
    /usr/bin/cargo build --locked --release --lib --target x86_64-unknown-linux-gnu --target-dir "$1"
  echo "release: Linux library built in $(took "$t0")"
  t0=$(now_ms)
  WINDOWS_TARGET_DIR=$2 scripts/windows-build.sh --target all >/dev/null
  echo "release: Windows DLLs built and checked in $(took "$t0")"
}

# The stdcall argument bytes of every export on x86 (the spec's table; scripts/windows-i686-check.sh
# proves it equal to the real DLL's import library and to the header).
X86_STACK="WebSocketAbortHandle@4 WebSocketBeginClientHandshake@36 WebSocketBeginServerHandshake@32
WebSocketCompleteAction@12 WebSocketCreateClientHandle@12 WebSocketCreateServerHandle@12
WebSocketDeleteHandle@4 WebSocketEndClientHandshake@24 WebSocketEndServerHandshake@4
WebSocketGetAction@32 WebSocketGetGlobalProperty@12 WebSocketReceive@12 WebSocketSend@16"

# stage LINUX_TARGET_DIR WINDOWS_TARGET_DIR OUT: lays out both trees under OUT/stage and writes
# the archives and SHA256SUMS into OUT.
stage() {
  local lt=$1 wt=$2 out=$3
  local s=$out/stage
  rm -rf "$s"
  mkdir -p "$s"

  # --- Linux ---------------------------------------------------------------------------------
  local l=$s/$LINUX_NAME so=libwebsocket.so
  mkdir -p "$l/lib/pkgconfig" "$l/include"
  install -m 755 "$lt/x86_64-unknown-linux-gnu/release/$so" "$l/lib/$so.$VERSION"
  ln -s "$so.$VERSION" "$l/lib/$so.$MAJOR"
  ln -s "$so.$MAJOR" "$l/lib/$so"
  # The static library holds the Rust standard library with its debug information; like the
  # shared library (strip = "debuginfo" in Cargo.toml) it ships without (57 MB -> 33 MB).
  install -m 644 "$lt/x86_64-unknown-linux-gnu/release/libwebsocket.a" "$l/lib/libwebsocket.a"
  strip --strip-debug --enable-deterministic-archives "$l/lib/libwebsocket.a"
  install -m 644 include/websocket.h "$l/include/websocket.h"
  # The same file scripts/install.sh writes, relocated to wherever the archive is unpacked.
  scripts/install.sh --print-pc '${pcfiledir}/../..' >"$l/lib/pkgconfig/websocket.pc"
  chmod 644 "$l/lib/pkgconfig/websocket.pc"

  # --- Windows -------------------------------------------------------------------------------
  local w=$s/$WINDOWS_NAME
  mkdir -p "$w/x64" "$w/x86" "$w/include"
  install -m 644 "$wt/x86_64-pc-windows-gnu/release/websocket.dll" "$w/x64/websocket.dll"
  install -m 644 "$wt/i686-pc-windows-gnu/release/websocket.dll" "$w/x86/websocket.dll"
  install -m 644 include/websocket.h "$w/include/websocket.h"
  install -m 644 websocket.def "$w/websocket.def"
  # x86 import libraries need the decorated stdcall names (_Name@N) that callers' object files
  # reference; -k makes them import the undecorated names the DLL exports.
  local scratch=$s/implib
  mkdir -p "$scratch"
  { echo "LIBRARY websocket.dll"; echo "EXPORTS"; tr ' ' '\n' <<<"$X86_STACK" | sed 's/^/    /'; } >"$scratch/x86.def"
  { echo "LIBRARY websocket.dll"; sed -n '/^EXPORTS/,$p' websocket.def; } >"$scratch/x64.def"
  # dlltool derives symbol names from the output path: write relative names inside the scratch
  # directory, then move the files into place.
  mkdir -p "$scratch/x64" "$scratch/x86"
  (cd "$scratch/x64" &&
    x86_64-w64-mingw32-dlltool --deterministic-libraries -t websocket_x64 -d ../x64.def -D websocket.dll -l libwebsocket.dll.a &&
    "$LLVM_DLLTOOL" -m i386:x86-64 -d ../x64.def -D websocket.dll -l websocket.lib) &&
    (cd "$scratch/x86" &&
      i686-w64-mingw32-dlltool --deterministic-libraries -t websocket_x86 -k -d ../x86.def -D websocket.dll -l libwebsocket.dll.a &&
      "$LLVM_DLLTOOL" -m i386 -k -d ../x86.def -D websocket.dll -l websocket.lib) || return 1
  mv "$scratch"/x64/*.a "$scratch"/x64/*.lib "$w/x64/"
  mv "$scratch"/x86/*.a "$scratch"/x86/*.lib "$w/x86/"
  rm -rf "$scratch"
  chmod 644 "$w"/x64/* "$w"/x86/*

  local d
  for d in "$l" "$w"; do
    install -m 644 README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE "$d/"
  done

  # --- archives ------------------------------------------------------------------------------
  find "$s" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$s" && LC_ALL=C tar --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
    --mtime="@$SOURCE_DATE_EPOCH" -cf - "$LINUX_NAME" | gzip -9 -n >"$out/$LINUX_NAME.tar.gz")
  rm -f "$out/$WINDOWS_NAME.zip"
  (cd "$s" && find "$WINDOWS_NAME" -print | LC_ALL=C sort | TZ=UTC zip -X -q -9 "$out/$WINDOWS_NAME.zip" -@)
  (cd "$out" && sha256sum "$LINUX_NAME.tar.gz" "$WINDOWS_NAME.zip" >SHA256SUMS)
  rm -rf "$s"
}

t0=$(now_ms)
if [[ $build -eq 1 ]]; then
  build_all "$ROOT/target/dist-build" "$ROOT/target/windows"
fi
mkdir -p "$DIST"
stage "$ROOT/target/dist-build" "$ROOT/target/windows" "$DIST"
echo "release: $DIST (commit time $SOURCE_DATE_EPOCH, packaged in $(took "$t0"))"
(cd "$DIST" && for f in "$LINUX_NAME.tar.gz" "$WINDOWS_NAME.zip"; do
  printf 'release:   %-44s %9d bytes\n' "$f" "$(stat -c %s "$f")"
done)
sed 's/^/release:   /' "$DIST/SHA256SUMS"

if [[ $check -eq 1 ]]; then
  t0=$(now_ms)
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/websocket-release.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  echo "release: second build from scratch in $scratch"
  build_all "$scratch/linux" "$scratch/windows" >"$scratch/build.log" 2>&1 ||
    { tail -20 "$scratch/build.log" >&2; echo "release: second build failed" >&2; exit 1; }
  mkdir -p "$scratch/dist"
  stage "$scratch/linux" "$scratch/windows" "$scratch/dist"
  if cmp "$DIST/SHA256SUMS" "$scratch/dist/SHA256SUMS"; then
    echo "release: reproducible: a second build from scratch gave identical archives ($(took "$t0"))"
  else
    echo "release: NOT reproducible:" >&2
    diff "$DIST/SHA256SUMS" "$scratch/dist/SHA256SUMS" >&2 || true
    # Keep the second set for comparison (diffoscope, or cmp of the unpacked files).
    rm -rf "$DIST/second"
    mv "$scratch/dist" "$DIST/second"
    echo "release: the second build's archives are in $DIST/second" >&2
    exit 1
  fi
fi
