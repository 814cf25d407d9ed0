#!/usr/bin/env bash
# The shipping tests: the Linux install (scripts/install.sh) and the release archives
# (scripts/release.sh), used the way their users use them.
#
# Cases:
#   build-tree/soname       plain `cargo build --release`: SONAME libwebsocket.so.MAJOR, and a
#                           program linked against target/release records it (NEEDED) and runs
#   install/destdir         DESTDIR staging: exactly the expected files and symlinks, the .pc file
#                           names the real prefix
#   install/pkg-config      install into a temporary prefix; tests/ship/sdk_names.c compiled with
#                           `pkg-config --cflags --libs websocket` only (C and C++) runs; readelf
#                           shows NEEDED = SONAME = libwebsocket.so.MAJOR; ldd resolves it to the
#                           installed file
#   install/static          the same program linked with the installed libwebsocket.a and
#                           `pkg-config --static` (Libs.private): no libwebsocket NEEDED, runs
#   install/again           a second install over the first: same files
#   install/uninstall       --uninstall removes exactly the installed files
#   header/sdk-tags         sdk_names.c (SDK tag spellings) compiles for Linux (C, C++) and with
#                           mingw for x86_64 and i686
#   release/build           scripts/release.sh --check-reproducible: both archives built twice
#                           from scratch with identical bytes; SHA256SUMS verifies
#   release/linux-contents  the tar lists exactly the expected entries, owner 0/0, one mtime
#   release/linux-use       unpacked anywhere: sdk_names.c built by pkg-config from the archive's
#                           relocatable .pc, run against the archive's library
#   release/windows-contents the zip lists exactly the expected entries; the x86 import
#                           libraries carry the real DLL's stdcall names (= mingw's libwebsocket.a)
#   release/windows-ARCH-*  mingw programs built for x86_64 and i686 from the archive alone
#                           (header + libwebsocket.dll.a, or websocket.lib) run under Wine next to
#                           the archive's DLL: sdk_names.c, tests/windows/exchange.c, version.c
#
# Usage: tests/ship/run.sh [--no-release]
# The last line is "ship: N passed, M failed"; the exit status is 0 only when M is 0.
# Needs: scripts/setup.sh base windows release.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
MAJOR=${VERSION%%.*}
OUT=$ROOT/target/ship-tests
LOGS=$OUT/logs
release=1
for a in "$@"; do
  case $a in
    --no-release) release=0 ;;
    *) echo "usage: $0 [--no-release]" >&2; exit 2 ;;
  esac
done
rm -rf "$OUT"
mkdir -p "$LOGS"

passed=0; failed=0; failures=()
CASE_WIDTH=36
source "$ROOT/tests/cases.sh"

# expect_eq WHAT GOT EXPECTED
expect_eq() {
  if [[ $2 == "$3" ]]; then echo "$1: $2"; else echo "$1: got '$2', expected '$3'"; return 1; fi
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ' | sed 's/ $//'; }
soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
SDK=$ROOT/tests/ship/sdk_names.c
CWARN=(-Wall -Wextra -Werror)

# --- the build tree ------------------------------------------------------------------------------
build_tree() {
  cargo build --release --locked --lib || return 1
  expect_eq "target/release/libwebsocket.so SONAME" "$(soname target/release/libwebsocket.so)" "libwebsocket.so.$MAJOR" || return 1
  gcc -std=c11 "${CWARN[@]}" -Iinclude -o "$OUT/sdk-buildtree" "$SDK" -Ltarget/release -lwebsocket -Wl,-rpath,"$ROOT/target/release" || return 1
  case " $(needed "$OUT/sdk-buildtree") " in
    *" libwebsocket.so.$MAJOR "*) echo "program NEEDED: $(needed "$OUT/sdk-buildtree")" ;;
    *) echo "program does not record libwebsocket.so.$MAJOR: $(needed "$OUT/sdk-buildtree")"; return 1 ;;
  esac
  "$OUT/sdk-buildtree"
}
echo "=== ship: Linux library"
case_run build-tree/soname build_tree

# --- install ---------------------------------------------------------------------------------------
EXPECTED_FILES="include/websocket.h
lib/libwebsocket.a
lib/libwebsocket.so -> libwebsocket.so.$MAJOR
lib/libwebsocket.so.$MAJOR -> libwebsocket.so.$VERSION
lib/libwebsocket.so.$VERSION
lib/pkgconfig/websocket.pc"

# tree_listing DIR: "path" or "path -> target" for every file and symlink, sorted.
tree_listing() {
  (cd "$1" && find . \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort | while read -r f; do
    if [[ -L $f ]]; then echo "$f -> $(readlink "$f")"; else echo "$f"; fi
  done)
}

install_destdir() {
  local stage=$OUT/destdir
  DESTDIR=$stage scripts/install.sh --prefix /opt/websocket --no-build || return 1
  expect_eq "staged files" "$(tree_listing "$stage/opt/websocket")" "$EXPECTED_FILES" || return 1
  [[ $(find "$stage" -mindepth 1 -maxdepth 1) == "$stage/opt" ]] || { echo "files outside DESTDIR/PREFIX"; return 1; }
  expect_eq ".pc prefix" "$(sed -n 's/^prefix=//p' "$stage/opt/websocket/lib/pkgconfig/websocket.pc")" /opt/websocket || return 1
  expect_eq "mode of the .so" "$(stat -c %a "$stage/opt/websocket/lib/libwebsocket.so.$VERSION")" 755 || return 1
  cmp include/websocket.h "$stage/opt/websocket/include/websocket.h" && echo "header installed as committed"
}

PREFIX=$OUT/prefix
# use_pkg_config PCDIR LIBDIR NAME: builds sdk_names.c with pkg-config only (C and C++), checks
# NEEDED/SONAME and that ldd resolves the soname to LIBDIR, runs both.
use_pkg_config() {
  local pcdir=$1 libdir=$2 name=$3
  local flags
  flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs websocket) || return 1
  echo "pkg-config --cflags --libs websocket: $flags"
  expect_eq "pkg-config --modversion" "$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion websocket)" "$VERSION" || return 1
  # shellcheck disable=SC2086
  gcc -std=c11 "${CWARN[@]}" -o "$OUT/$name" "$SDK" $flags || return 1
  # shellcheck disable=SC2086
  g++ -x c++ -std=c++11 "${CWARN[@]}" -o "$OUT/$name-cxx" "$SDK" $flags || return 1
  expect_eq "NEEDED of the program" "$(needed "$OUT/$name" | tr ' ' '\n' | grep websocket)" "libwebsocket.so.$MAJOR" || return 1
  expect_eq "SONAME of $libdir/libwebsocket.so.$VERSION" "$(soname "$libdir/libwebsocket.so.$VERSION")" "libwebsocket.so.$MAJOR" || return 1
  local resolved
  resolved=$(LD_LIBRARY_PATH=$libdir ldd "$OUT/$name" | sed -n "s/^[[:space:]]*libwebsocket.so.$MAJOR => \([^ ]*\) .*/\1/p")
  expect_eq "ldd: libwebsocket.so.$MAJOR =>" "$resolved" "$libdir/libwebsocket.so.$MAJOR" || return 1
  expect_eq "which is" "$(readlink -f "$resolved")" "$(readlink -f "$libdir/libwebsocket.so.$VERSION")" || return 1
  LD_LIBRARY_PATH=$libdir "$OUT/$name-cxx" || return 1
  LD_LIBRARY_PATH=$libdir "$OUT/$name"
}

install_pkg_config() {
  scripts/install.sh --prefix "$PREFIX" --no-build || return 1
  expect_eq "installed files" "$(tree_listing "$PREFIX")" "$EXPECTED_FILES" || return 1
  use_pkg_config "$PREFIX/lib/pkgconfig" "$PREFIX/lib" sdk-installed
}

install_static() {
  local pc=$PREFIX/lib/pkgconfig cflags libdir libs
  cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags websocket) &&
    libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir websocket) &&
    libs=$(PKG_CONFIG_PATH=$pc pkg-config --static --libs-only-l websocket) || return 1
  echo "static: $libdir/libwebsocket.a + ${libs/-lwebsocket /}"
  # shellcheck disable=SC2086
  gcc -std=c11 "${CWARN[@]}" $cflags -o "$OUT/sdk-static" "$SDK" "$libdir/libwebsocket.a" ${libs/-lwebsocket /} || return 1
  if needed "$OUT/sdk-static" | grep -q websocket; then echo "the static program needs libwebsocket"; return 1; fi
  echo "NEEDED: $(needed "$OUT/sdk-static")"
  "$OUT/sdk-static"
}

install_again() {
  local before after
  before=$(cd "$PREFIX" && find . -type f -exec sha256sum {} + | sort; tree_listing "$PREFIX")
  scripts/install.sh --prefix "$PREFIX" --no-build || return 1
  after=$(cd "$PREFIX" && find . -type f -exec sha256sum {} + | sort; tree_listing "$PREFIX")
  [[ $before == "$after" ]] && echo "second install: identical tree"
}

install_uninstall() {
  mkdir -p "$PREFIX/lib/other" && touch "$PREFIX/lib/other/keep"
  scripts/install.sh --prefix "$PREFIX" --uninstall || return 1
  expect_eq "left after uninstall" "$(tree_listing "$PREFIX")" "lib/other/keep"
}

echo "=== ship: install (scripts/install.sh)"
case_run install/destdir install_destdir
case_run install/pkg-config install_pkg_config
case_run install/static install_static
case_run install/again install_again
case_run install/uninstall install_uninstall

header_sdk_tags() {
  gcc -std=c11 "${CWARN[@]}" -Iinclude -fsyntax-only "$SDK" &&
    g++ -x c++ -std=c++11 "${CWARN[@]}" -Iinclude -fsyntax-only "$SDK" &&
    x86_64-w64-mingw32-gcc -std=c11 "${CWARN[@]}" -Iinclude -fsyntax-only "$SDK" &&
    i686-w64-mingw32-gcc -std=c11 "${CWARN[@]}" -Iinclude -fsyntax-only "$SDK" &&
    x86_64-w64-mingw32-g++ -x c++ -std=c++11 "${CWARN[@]}" -Iinclude -fsyntax-only "$SDK" &&
    echo "struct _WEB_SOCKET_PROPERTY / _WEB_SOCKET_HTTP_HEADER, union _WEB_SOCKET_BUFFER, enum _WEB_SOCKET_*: gcc, g++, mingw x86_64 (C, C++), mingw i686"
}
case_run header/sdk-tags header_sdk_tags

# --- release ---------------------------------------------------------------------------------------
if [[ $release -eq 1 ]]; then
  DIST=$ROOT/target/dist
  LNAME=websocket-$VERSION-x86_64-linux-gnu
  WNAME=websocket-$VERSION-windows
  echo "=== ship: release archives (scripts/release.sh)"
  release_build() {
    scripts/release.sh --check-reproducible || return 1
    (cd "$DIST" && sha256sum -c SHA256SUMS)
  }
  if case_run release/build release_build; then
    sed -n 's/^release: *//p' "$LOGS/release_build.log" | grep -E 'built|bytes|reproducible' | sed 's/^/      /'

    linux_contents() {
      local listing expected
      listing=$(tar -tvzf "$DIST/$LNAME.tar.gz")
      echo "$listing"
      expected="$LNAME/
$LNAME/CHANGELOG.md
$LNAME/LICENSE-APACHE
$LNAME/LICENSE-MIT
$LNAME/README.md
$LNAME/include/
$LNAME/include/websocket.h
$LNAME/lib/
$LNAME/lib/libwebsocket.a
$LNAME/lib/libwebsocket.so -> libwebsocket.so.$MAJOR
$LNAME/lib/libwebsocket.so.$MAJOR -> libwebsocket.so.$VERSION
$LNAME/lib/libwebsocket.so.$VERSION
$LNAME/lib/pkgconfig/
$LNAME/lib/pkgconfig/websocket.pc"
      expect_eq "entries" "$(awk '{ $1=$2=$3=$4=$5=""; sub(/^ +/, ""); print }' <<<"$listing")" "$expected" || return 1
      expect_eq "owners" "$(awk '{print $2}' <<<"$listing" | sort -u)" "0/0" || return 1
      expect_eq "mtimes" "$(awk '{print $4, $5}' <<<"$listing" | sort -u | wc -l)" 1
    }
    case_run release/linux-contents linux_contents

    linux_use() {
      local x=$OUT/unpacked/somewhere/else
      mkdir -p "$x" && tar -xzf "$DIST/$LNAME.tar.gz" -C "$x" || return 1
      use_pkg_config "$x/$LNAME/lib/pkgconfig" "$x/$LNAME/lib" sdk-archive
    }
    case_run release/linux-use linux_use

    WX=$OUT/unpacked/windows
    windows_contents() {
      rm -rf "$WX" && mkdir -p "$WX" && (cd "$WX" && unzip -q "$DIST/$WNAME.zip") || return 1
      local expected="$WNAME/
$WNAME/CHANGELOG.md
$WNAME/LICENSE-APACHE
$WNAME/LICENSE-MIT
$WNAME/README.md
$WNAME/include/
$WNAME/include/websocket.h
$WNAME/websocket.def
$WNAME/x64/
$WNAME/x64/libwebsocket.dll.a
$WNAME/x64/websocket.dll
$WNAME/x64/websocket.lib
$WNAME/x86/
$WNAME/x86/libwebsocket.dll.a
$WNAME/x86/websocket.dll
$WNAME/x86/websocket.lib"
      expect_eq "entries" "$(zipinfo -1 "$DIST/$WNAME.zip" | LC_ALL=C sort)" "$expected" || return 1
      cmp "$WX/$WNAME/x64/websocket.dll" target/windows/x86_64-pc-windows-gnu/release/websocket.dll &&
        cmp "$WX/$WNAME/x86/websocket.dll" target/windows/i686-pc-windows-gnu/release/websocket.dll || return 1
      # The x86 import libraries define exactly mingw's decorated names (_Name@N of the real DLL).
      local mingw ours_a ours_lib
      mingw=$(i686-w64-mingw32-nm /usr/i686-w64-mingw32/lib/libwebsocket.a | sed -n 's/^[0-9a-f]* T \(_WebSocket.*\)$/\1/p' | sort)
      ours_a=$(i686-w64-mingw32-nm "$WX/$WNAME/x86/libwebsocket.dll.a" | sed -n 's/^[0-9a-f]* T \(_WebSocket.*\)$/\1/p' | sort)
      ours_lib=$(llvm-nm "$WX/$WNAME/x86/websocket.lib" 2>/dev/null | sed -n 's/^[0-9a-f]* T \(_WebSocket.*\)$/\1/p' | sort)
      expect_eq "x86 libwebsocket.dll.a symbols = mingw's" "$(echo $ours_a)" "$(echo $mingw)" || return 1
      expect_eq "x86 websocket.lib symbols = mingw's" "$(echo $ours_lib)" "$(echo $mingw)" || return 1
      python3 tests/windows/versioninfo.py "$WX/$WNAME/x86/websocket.dll" --expect-version "$VERSION" >/dev/null &&
        python3 tests/windows/versioninfo.py "$WX/$WNAME/x64/websocket.dll" --expect-version "$VERSION" >/dev/null &&
        echo "17 entries; x86 import libraries: 13 stdcall names as mingw's; VERSIONINFO $VERSION in both DLLs"
    }
    if case_run release/windows-contents windows_contents; then
      source "$ROOT/tests/windows/wine-env.sh"
      mkdir -p "$(dirname "$WINEPREFIX")"
      exec 9>"$WINEPREFIX.lock"
      flock 9
      wine_init
      trap 'wine_stop' EXIT
      for arch in x86_64 i686; do
        sub=x64; [[ $arch == i686 ]] && sub=x86
        bin=$OUT/windows-$arch
        mkdir -p "$bin"
        cp "$WX/$WNAME/$sub/websocket.dll" "$bin/"
        inc=(-I"$WX/$WNAME/include")
        libs=(-L"$WX/$WNAME/$sub")
        cc=$arch-w64-mingw32-gcc
        # Programs from the archive alone: its header and its import libraries (-L puts the
        # archive's directory before mingw's own libwebsocket.a); the DLL beside the exe.
        case_run "release/windows-$arch-sdk-names-dll.a" bash -c '"$1" -std=c11 -Wall -Wextra -Werror $2 -o "$3/sdk.exe" "$4" $5 -lwebsocket &&
          cd "$3" && timeout -k 5 120 wine sdk.exe' _ "$cc" "${inc[*]}" "$bin" "$SDK" "${libs[*]}"
        case_run "release/windows-$arch-sdk-names-lib" bash -c '"$1" -std=c11 -Wall -Wextra -Werror $2 -o "$3/sdk-lib.exe" "$4" "$5" &&
          cd "$3" && timeout -k 5 120 wine sdk-lib.exe' _ "$cc" "${inc[*]}" "$bin" "$SDK" "$WX/$WNAME/$sub/websocket.lib"
        case_run "release/windows-$arch-exchange" bash -c '"$1" -std=gnu11 -O2 -Wall -Wextra -Werror $2 -I"$3" -o "$4/exchange.exe" "$3/exchange.c" $5 -lwebsocket &&
          cd "$4" && timeout -k 5 300 wine exchange.exe' _ "$cc" "${inc[*]}" "$ROOT/tests/windows" "$bin" "${libs[*]}"
        case_run "release/windows-$arch-version" bash -c '"$1" -std=gnu11 -O2 -Wall -Wextra -Werror $2 -I"$3" -o "$4/version.exe" "$3/version.c" $5 -lwebsocket -lversion &&
          cd "$4" && timeout -k 5 120 wine version.exe "$6"' _ "$cc" "${inc[*]}" "$ROOT/tests/windows" "$bin" "${libs[*]}" "$VERSION"
      done
      wine_stop
      trap - EXIT
    fi
  fi
fi

[[ $failed -gt 0 ]] && echo "=== ship: failed: ${failures[*]}"
echo "ship: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
