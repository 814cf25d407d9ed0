#!/usr/bin/env bash
# Installs the library.
#
# Linux (the default): builds the release library (cargo build --release --locked --lib) and
# installs it the way C libraries install:
#   LIBDIR/libwebsocket.so.X.Y.Z            the shared library (soname libwebsocket.so.X)
#   LIBDIR/libwebsocket.so.X -> .so.X.Y.Z    for the dynamic loader
#   LIBDIR/libwebsocket.so -> .so.X          for the linker (-lwebsocket)
#   LIBDIR/libwebsocket.a                    the static library
#   LIBDIR/pkgconfig/websocket.pc            pkg-config --cflags --libs [--static] websocket
#   INCLUDEDIR/websocket.h
# then runs ldconfig when installing for real as root. DESTDIR is honoured for staging (the
# files go under $DESTDIR$PREFIX, the .pc file names $PREFIX).
#
#   scripts/install.sh [--prefix DIR] [--libdir DIR] [--includedir DIR] [--no-build] [--uninstall]
#     --prefix DIR      default /usr/local
#     --libdir DIR      default PREFIX/lib
#     --includedir DIR  default PREFIX/include
#     --no-build        install what target/release holds
#     --uninstall       remove exactly the files above (and nothing else)
#
# Wine: puts the Windows DLLs into a Wine prefix, for every program of that prefix, and makes
# Wine load them instead of its own websocket.dll (whose functions are stubs):
#   64-bit prefix (has syswow64): x86_64 DLL -> system32, i686 DLL -> syswow64
#   32-bit prefix:                i686 DLL -> system32
#   HKCU\Software\Wine\DllOverrides: websocket = native
# Wine's own files and any previous override value are kept in PREFIX/websocket-install/, and
# --uninstall puts them back (Wine's builtin DLL is then used again). Running it twice is
# harmless. The DLLs are built with scripts/windows-build.sh unless --no-build.
#
#   scripts/install.sh --wine [WINEPREFIX] [--no-build] [--uninstall]
#     WINEPREFIX        default $WINEPREFIX, else ~/.wine; the prefix must exist (wineboot -i)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
MAJOR=${VERSION%%.*}

mode=linux
prefix=/usr/local
libdir=""
includedir=""
wineprefix=""
build=1
uninstall=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --prefix) prefix=${2:?--prefix DIR}; shift ;;
    --prefix=*) prefix=${1#*=} ;;
    --libdir) libdir=${2:?--libdir DIR}; shift ;;
    --libdir=*) libdir=${1#*=} ;;
    --includedir) includedir=${2:?--includedir DIR}; shift ;;
    --includedir=*) includedir=${1#*=} ;;
    --wine)
      mode=wine
      if [[ $# -gt 1 && $2 != --* ]]; then wineprefix=$2; shift; fi ;;
    --no-build) build=0 ;;
    --uninstall) uninstall=1 ;;
    --print-pc) mode=print-pc; prefix=${2:?--print-pc PREFIX}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# ---------------------------------------------------------------------------------------------
# Linux
# ---------------------------------------------------------------------------------------------
# The system libraries the static library needs (rustc --print native-static-libs for
# x86_64-unknown-linux-gnu); tests/ship/run.sh links a program with `pkg-config --static`.
STATIC_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

linux_install() {
  [[ $prefix == /* ]] || { echo "install: --prefix must be an absolute path" >&2; exit 2; }
  libdir=${libdir:-$prefix/lib}
  includedir=${includedir:-$prefix/include}
  local dest=${DESTDIR:-}
  local L=$dest$libdir I=$dest$includedir so=libwebsocket.so
  if [[ $uninstall -eq 1 ]]; then
    local f
    for f in "$L/$so.$VERSION" "$L/$so.$MAJOR" "$L/$so" "$L/libwebsocket.a" "$L/pkgconfig/websocket.pc" "$I/websocket.h"; do
      if [[ -e $f || -L $f ]]; then rm -f "$f"; echo "install: removed $f"; fi
    done
    rmdir "$L/pkgconfig" 2>/dev/null || true
    [[ -z $dest && $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null && ldconfig
    return 0
  fi
  if [[ $build -eq 1 ]]; then
    ${CARGO:-cargo} build --release --locked --lib
  fi
  local built=target/release
  for f in $built/$so $built/libwebsocket.a include/websocket.h; do
    [[ -f $f ]] || { echo "install: $f missing (build first, or drop --no-build)" >&2; exit 1; }
  done
  if command -v readelf >/dev/null; then
    local soname
    soname=$(readelf -d "$built/$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [[ $soname == "$so.$MAJOR" ]] || { echo "install: $built/$so has soname '$soname', expected $so.$MAJOR (rebuild)" >&2; exit 1; }
  fi
  install -d "$L" "$L/pkgconfig" "$I"
  install -m 755 "$built/$so" "$L/$so.$VERSION"
  ln -sfn "$so.$VERSION" "$L/$so.$MAJOR"
  ln -sfn "$so.$MAJOR" "$L/$so"
  install -m 644 "$built/libwebsocket.a" "$L/libwebsocket.a"
  # The static library holds the Rust standard library with its debug information; like the
  # shared library (strip = "debuginfo") it is installed without (57 MB -> 33 MB).
  command -v strip >/dev/null && strip --strip-debug --enable-deterministic-archives "$L/libwebsocket.a"
  install -m 644 include/websocket.h "$I/websocket.h"
  pc_file "$prefix" "$libdir" "$includedir" >"$L/pkgconfig/websocket.pc"
  chmod 644 "$L/pkgconfig/websocket.pc"
  echo "install: $L/$so.$VERSION (+ $so.$MAJOR, $so), $L/libwebsocket.a, $L/pkgconfig/websocket.pc, $I/websocket.h"
  if [[ -z $dest && $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null; then
    ldconfig
  fi
}

# pc_file PREFIX LIBDIR INCLUDEDIR: the pkg-config file (also used by scripts/release.sh).
pc_file() {
  local p=$1 l=$2 i=$3
  [[ $l == "$p"/* ]] && l="\${prefix}${l#$p}"
  [[ $i == "$p"/* ]] && i="\${prefix}${i#$p}"
  cat <<EOF
prefix=$p
libdir=$l
includedir=$i

Name: websocket
Description: The Windows WebSocket Protocol Component API (websocket.dll) for Linux
Version: $VERSION
Libs: -L\${libdir} -lwebsocket
Libs.private: $STATIC_LIBS
Cflags: -I\${includedir}
EOF
}

# ---------------------------------------------------------------------------------------------
# Wine
# ---------------------------------------------------------------------------------------------
# WINEARCH only matters when a prefix is created; a value that differs from the prefix's makes
# wine refuse to start.
wine_reg() { WINEPREFIX=$wineprefix WINEDEBUG=-all env -u WINEARCH wine reg "$@" 2>/dev/null | tr -d '\r'; }
OVERRIDES='HKCU\Software\Wine\DllOverrides'

# The current override value of websocket, or nothing.
current_override() {
  { wine_reg query "$OVERRIDES" /v websocket || true; } |
    sed -n 's/^[[:space:]]*websocket[[:space:]]\{1,\}REG_SZ[[:space:]]\{1,\}\(.*\)$/\1/p'
}

wine_install() {
  wineprefix=${wineprefix:-${WINEPREFIX:-$HOME/.wine}}
  command -v wine >/dev/null || { echo "install: wine not found" >&2; exit 1; }
  [[ -f $wineprefix/system.reg ]] || {
    echo "install: $wineprefix is not a Wine prefix (create it with: WINEPREFIX=$wineprefix wineboot -i)" >&2
    exit 1
  }
  local windows=$wineprefix/drive_c/windows
  local state=$wineprefix/websocket-install
  # targets: "ARCH DIR" pairs.
  local targets=()
  if [[ -d $windows/syswow64 ]]; then
    targets=("x86_64 $windows/system32" "i686 $windows/syswow64")
  else
    targets=("i686 $windows/system32")
  fi
  if [[ $uninstall -eq 1 ]]; then
    if [[ ! -d $state ]]; then
      echo "install: nothing to uninstall in $wineprefix"
      return 0
    fi
    local t arch dir
    for t in "${targets[@]}"; do
      read -r arch dir <<<"$t"
      if [[ -f $state/$arch.dll ]]; then
        cp -p "$state/$arch.dll" "$dir/websocket.dll"
        echo "install: restored Wine's $dir/websocket.dll"
      else
        rm -f "$dir/websocket.dll"
        echo "install: removed $dir/websocket.dll"
      fi
    done
    if [[ -f $state/override ]]; then
      wine_reg add "$OVERRIDES" /v websocket /t REG_SZ /d "$(cat "$state/override")" /f >/dev/null
      echo "install: restored the previous websocket override ($(cat "$state/override"))"
    else
      wine_reg delete "$OVERRIDES" /v websocket /f >/dev/null || true
      echo "install: removed the websocket override (Wine's builtin DLL is used again)"
    fi
    rm -rf "$state"
    return 0
  fi

  local arch dir t
  if [[ $build -eq 1 ]]; then
    local wanted=all
    [[ ${#targets[@]} -eq 1 ]] && wanted=i686
    scripts/windows-build.sh --target $wanted >/dev/null
  fi
  for t in "${targets[@]}"; do
    read -r arch dir <<<"$t"
    local dll=target/windows/$arch-pc-windows-gnu/release/websocket.dll
    [[ -n ${WINDOWS_TARGET_DIR:-} ]] && dll=$WINDOWS_TARGET_DIR/$arch-pc-windows-gnu/release/websocket.dll
    [[ -f $dll ]] || { echo "install: $dll missing (scripts/windows-build.sh)" >&2; exit 1; }
  done
  # First install: keep what is there now (Wine's placeholder for its builtin) and the override.
  if [[ ! -d $state ]]; then
    mkdir -p "$state.new"
    for t in "${targets[@]}"; do
      read -r arch dir <<<"$t"
      [[ -f $dir/websocket.dll ]] && cp -p "$dir/websocket.dll" "$state.new/$arch.dll"
    done
    local previous
    previous=$(current_override)
    [[ -n $previous ]] && printf '%s' "$previous" >"$state.new/override"
    echo "$VERSION" >"$state.new/version"
    mv "$state.new" "$state"
  fi
  for t in "${targets[@]}"; do
    read -r arch dir <<<"$t"
    local dll=${WINDOWS_TARGET_DIR:-target/windows}/$arch-pc-windows-gnu/release/websocket.dll
    install -m 644 "$dll" "$dir/websocket.dll"
    echo "install: $dir/websocket.dll ($arch)"
  done
  echo "$VERSION" >"$state/version"
  if [[ $(current_override) != native ]]; then
    wine_reg add "$OVERRIDES" /v websocket /t REG_SZ /d native /f >/dev/null
  fi
  [[ $(current_override) == native ]] || { echo "install: could not set the DllOverrides entry" >&2; exit 1; }
  echo "install: $OVERRIDES websocket = native"
}

case $mode in
  linux) linux_install ;;
  wine) wine_install ;;
  # The .pc file alone, for a tree whose lib/ and include/ are under PREFIX (scripts/release.sh).
  print-pc) pc_file "$prefix" "$prefix/lib" "$prefix/include" ;;
esac
