#!/usr/bin/env bash
# The Windows test suite, run under Wine on Linux, for both Windows architectures: builds the real
# websocket.dll for x86_64 and for i686 (scripts/windows-build.sh: Debian's Rust 1.63, --locked,
# export/import table and VERSIONINFO checks), builds C programs with mingw-w64 (x86_64 and i686)
# against include/websocket.h and runs each one under Wine with the fresh DLL of its architecture
# copied next to the exe. Every program first proves that the websocket.dll it runs against is
# ours (tests/windows/ours.h), never Wine's builtin stub. The i686 programs are linked through
# mingw's i686 import library, which carries the real DLL's stdcall argument sizes (_Name@N): a
# prototype that disagreed with the real DLL would not link, and one that disagreed with ours
# would corrupt the stack at the first call.
#
# Cases (ARCH is x86_64 or i686):
#   dll-build                 build + tables + VERSIONINFO of both DLLs (scripts/windows-build.sh)
#   i686-static               stdcall sizes of the header vs mingw's i686 import library
#                             (scripts/windows-i686-check.sh)
#   ARCH/win/<prog>           tests/windows/<prog>.c linked with mingw's import library
#   ARCH/win/<prog>-dyn       the same source bound at run time (LoadLibraryA + GetProcAddress,
#                             tests/windows/loader.h)
#   ARCH/win/version          the DLL's VERSIONINFO read by GetFileVersionInfoA (version.c)
#   ARCH/guard/*              an exe without our DLL does not start; Wine's builtin is refused
#   ARCH/c/<prog>[-dyn]       the portable tests of tests/c (both ways, ours.h force-included)
#   ARCH/examples-build       examples/ (echo_server, client) as Win32 console programs
#   ARCH/e2e/*                echo_server.exe under Wine <- Python websockets client(s) and
#                             headless Chromium (tests/interop/browser.js); client.exe under Wine
#                             -> Python websockets echo server on Linux
#   ARCH/cargo-test-lib       the crate's unit tests for ARCH-pc-windows-gnu, run by Wine
#   prefix/*                  scripts/install.sh --wine into fresh prefixes as a user has them
#                             (tests/windows/prefix.sh): a WoW64 prefix with both DLLs, a 64-bit
#                             and a 32-bit program with no DLL beside them, uninstall, and a
#                             32-bit prefix
#
# Usage: tests/windows/run.sh [--arch x86_64|i686|all] [--no-build] [--no-cargo] [--no-prefix]
#   --arch       which architecture's cases (default all)
#   --no-build   use the DLLs already built (their tables are still checked)
#   --no-cargo   skip the cargo unit tests under Wine
#   --no-prefix  skip the install-into-a-prefix cases
# The last line is "windows: N passed, M failed"; the exit status is 0 only when M is 0.
# Build products and logs: target/windows/wine-tests/. The Wine prefix lives outside the
# repository (tests/windows/wine-env.sh: ${TMPDIR:-/tmp}/websocket-wine-$UID/prefix, recreated
# when the Wine installation changed); its wineserver is stopped at the end.
# Needs: scripts/setup.sh windows (and peers for e2e).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/windows/wine-tests
LOGS=$OUT/logs
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror)
TIMEOUT=${WS_WIN_TIMEOUT:-300}
PYTHON=$ROOT/.deps/venv/bin/python
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

archs=(x86_64 i686)
build=1
cargo_tests=1
prefix_tests=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --arch)
      case ${2:-} in
        x86_64 | i686) archs=("$2") ;;
        all) archs=(x86_64 i686) ;;
        *) echo "usage: --arch x86_64|i686|all" >&2; exit 2 ;;
      esac
      shift ;;
    --no-build) build=0 ;;
    --no-cargo) cargo_tests=0 ;;
    --no-prefix) prefix_tests=0 ;;
    *) echo "usage: $0 [--arch x86_64|i686|all] [--no-build] [--no-cargo] [--no-prefix]" >&2; exit 2 ;;
  esac
  shift
done

source "$ROOT/tests/windows/wine-env.sh"
# Only one run at a time per Wine prefix and output directory (wineserver -k would kill the
# other run's programs).
mkdir -p "$(dirname "$WINEPREFIX")"
exec 9>"$WINEPREFIX.lock"
flock 9
rm -rf "$LOGS" "$OUT/x86_64" "$OUT/i686" "$OUT/bin" "$OUT/nodll" "$OUT/examples"
mkdir -p "$LOGS"

passed=0; failed=0; failures=()
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  bg_pids=()
  wine_stop
}
trap cleanup EXIT

source "$ROOT/tests/cases.sh"
SUITE_T0=$(now_ms)


# Runs a Windows program under Wine from its own directory (where our DLL is).
wine_exe() { # DIR EXE ARGS...
  local dir=$1 exe=$2; shift 2
  (cd "$dir" && timeout -k 5 "$TIMEOUT" wine "$exe" "$@")
}

# Exit status must not be 0.
expect_failure() {
  "$@"; local rc=$?
  echo "exit status $rc (expected a failure)"
  [[ $rc -ne 0 ]]
}

# expect_output EXPECTED COMMAND...: exit 0 and exactly the expected lines (printf %b escapes).
expect_output() {
  local expected=$1; shift
  local got rc
  got=$("$@" | tr -d '\r'); rc=${PIPESTATUS[0]}
  echo "$got"
  if [[ $rc -ne 0 ]]; then echo "exit status $rc"; return 1; fi
  if [[ $got != "$(printf '%b' "$expected")" ]]; then
    echo "expected:"; printf '%b\n' "$expected"; return 1
  fi
  echo "output as expected"
}

elapsed() { local s=$(( ($(now_ms) - SUITE_T0) / 1000 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

echo "=== windows: DLLs (x86_64, i686)"
dll_args=(--target all); [[ $build -eq 0 ]] && dll_args+=(--no-build)
if ! case_run dll-build scripts/windows-build.sh "${dll_args[@]}"; then
  echo "windows: $passed passed, $failed failed"
  exit 1
fi
declare -A DLLS
DLLS[x86_64]=$(tail -2 "$LOGS/dll-build.log" | head -1)
DLLS[i686]=$(tail -1 "$LOGS/dll-build.log")
grep -E '^windows-build: .* (built|imports|version|size)' "$LOGS/dll-build.log" | sed 's/^windows-build: /      /'

echo "=== windows: i686 (static)"
case_run i686-static scripts/windows-i686-check.sh

echo "=== windows: Wine prefix"
t0=$(now_ms)
wine_init
echo "      $WINEPREFIX ($(wine --version 2>/dev/null), ready in $(( $(now_ms) - t0 )) ms)"

# build_prog ARCH NAME MODE SOURCE [EXTRA CFLAGS...]: MODE implib (-lwebsocket: mingw's import
# library of the real DLL) or loader (-DWS_USE_LOADER).
build_prog() {
  local arch=$1 name=$2 mode=$3 src=$4; shift 4
  local cc=$arch-w64-mingw32-gcc exe=$OUT/$arch/bin/$name.exe
  if [[ $mode == implib ]]; then
    $cc "${CFLAGS[@]}" "$@" -I"$ROOT/include" -I"$ROOT/tests/windows" -o "$exe" "$src" -lwebsocket -lversion
  else
    $cc "${CFLAGS[@]}" -DWS_USE_LOADER "$@" -I"$ROOT/include" -I"$ROOT/tests/windows" -o "$exe" "$src" -lversion
  fi
}

# compile_and_run ARCH NAME EXE MODE SOURCE [EXTRA CFLAGS...] [-- ARGS...]: builds and runs.
compile_and_run() {
  local arch=$1 name=$2 prog=$3 mode=$4 src=$5; shift 5
  local cflags=() args=()
  while [[ $# -gt 0 && $1 != -- ]]; do cflags+=("$1"); shift; done
  [[ $# -gt 0 ]] && { shift; args=("$@"); }
  if build_prog "$arch" "$prog" "$mode" "$src" "${cflags[@]}" >"$LOGS/build_${arch}_${prog}.log" 2>&1; then
    case_run "$name" wine_exe "$OUT/$arch/bin" "$prog.exe" "${args[@]}"
  else
    failed=$((failed + 1)); failures+=("$name (build)")
    printf 'FAIL  %-40s build failed, log %s\n' "$name" "${LOGS#$ROOT/}/build_${arch}_${prog}.log"
    sed 's/^/      /' "$LOGS/build_${arch}_${prog}.log" | head -20
  fi
}

# The suite of one architecture.
arch_suite() {
  local arch=$1
  local cc=$arch-w64-mingw32-gcc bin=$OUT/$arch/bin nodll=$OUT/$arch/nodll ex=$OUT/$arch/examples
  mkdir -p "$bin" "$nodll"
  cp "${DLLS[$arch]}" "$bin/websocket.dll"

  echo "=== windows/$arch: tests/windows ($(elapsed))"
  local prog
  for prog in layout handshake exchange misuse threads global deflate; do
    compile_and_run "$arch" "$arch/win/$prog" "$prog" implib "$ROOT/tests/windows/$prog.c"
    compile_and_run "$arch" "$arch/win/$prog-dyn" "$prog-dyn" loader "$ROOT/tests/windows/$prog.c"
  done
  compile_and_run "$arch" "$arch/win/reload-dyn" reload-dyn loader "$ROOT/tests/windows/reload.c"
  compile_and_run "$arch" "$arch/win/version" version implib "$ROOT/tests/windows/version.c" -- "$VERSION"

  echo "=== windows/$arch: guards"
  # Without our DLL next to it, an exe linked with -lwebsocket must not start (Wine's builtin is
  # disabled by WINEDLLOVERRIDES=websocket=n); with the builtin allowed, ours.h must refuse it.
  cp "$bin/layout.exe" "$bin/layout-dyn.exe" "$nodll/"
  case_run "$arch/guard/missing-dll" expect_failure wine_exe "$nodll" layout.exe
  case_run "$arch/guard/builtin-refused" env WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d;websocket=b" \
    bash -c 'cd "$1" && timeout -k 5 60 wine layout-dyn.exe; rc=$?; echo "exit status $rc (expected 3)"; [[ $rc -eq 3 ]]' _ "$nodll"

  echo "=== windows/$arch: tests/c ($(elapsed))"
  local src
  for src in "$ROOT"/tests/c/*.c; do
    [[ -f $src ]] || continue
    prog=$(basename "$src" .c)
    # Portable C11 programs: ours.h is force-included so that they too refuse a foreign DLL.
    compile_and_run "$arch" "$arch/c/$prog" "c_$prog" implib "$src" -std=c11 -I"$ROOT/tests/c" -include "$ROOT/tests/windows/ours.h"
    compile_and_run "$arch" "$arch/c/$prog-dyn" "c_$prog-dyn" loader "$src" -std=c11 -I"$ROOT/tests/c" -include "$ROOT/tests/windows/ours.h"
  done

  echo "=== windows/$arch: examples ($(elapsed))"
  rm -rf "$ex"; mkdir -p "$ex"
  cp "$bin/websocket.dll" "$ex/"
  # Their Makefile's mingw recipe, with -Werror and ours.h's check linked in. x86_64 links the
  # DLL itself; i686 links mingw's import library (the stdcall names _Name@N of the real DLL).
  local libdir=$ex
  [[ $arch == i686 ]] && libdir=/usr/i686-w64-mingw32/lib
  build_examples() {
    $cc "${CFLAGS[@]}" -I"$ROOT/include" -I"$ROOT/tests/windows" -c -o "$ex/ours_check.o" -x c - <<<'#include "ours.h"' &&
      make -C "$ROOT/examples" CC="$cc" LIBDIR="$libdir" BUILD="$ex" \
        CFLAGS="-O2 -Wall -Wextra -Werror -std=c99" LDFLAGS="$ex/ours_check.o" &&
      [[ -f $ex/echo_server.exe && -f $ex/client.exe ]] && echo "built echo_server.exe and client.exe"
  }
  case_run "$arch/examples-build" build_examples || return 0
  if [[ ! -x $PYTHON ]] || ! "$PYTHON" -c 'import websockets' 2>/dev/null; then
    scripts/setup.sh peers >"$LOGS/setup-peers.log" 2>&1
  fi
  # echo_server.exe under Wine, Python websockets clients on Linux.
  (cd "$ex" && exec wine echo_server.exe --addr 127.0.0.1:0 >"$ex/echo_server.out" 2>"$ex/echo_server.err") &
  bg_pids+=($!)
  local url="" i
  for i in $(seq 150); do
    url=$(tr -d '\r' <"$ex/echo_server.out" 2>/dev/null | sed -n 's|^listening on http://\(.*\)/$|ws://\1/|p')
    [[ -n $url ]] && break
    sleep 0.2
  done
  if [[ -z $url ]]; then
    failed=$((failed + 1)); failures+=("$arch/e2e/echo-server (start)")
    echo "FAIL  $arch/e2e/echo-server: echo_server.exe did not start"; sed 's/^/      /' "$ex/echo_server.err" | tail -5
  else
    echo "      echo_server.exe ($arch): $url"
    case_run "$arch/e2e/echo-server" timeout 120 "$PYTHON" "$ROOT/tests/windows/e2e.py" client "$url"
    case_run "$arch/e2e/echo-server-4-clients" timeout 120 "$PYTHON" "$ROOT/tests/windows/e2e.py" client "$url" --clients 4
    # Headless Chromium on Linux loads the demo page from the Windows server and runs the
    # browser cases of the interop suite against it.
    case_run "$arch/e2e/echo-server-chromium" env NODE_PATH="$ROOT/.deps/node/node_modules" \
      timeout 600 node "$ROOT/tests/interop/browser.js" "wine-$arch" "${url/ws:/http:}" "$ex/demo-wine.png"
  fi
  # client.exe under Wine against a Python websockets echo server on Linux.
  "$PYTHON" "$ROOT/tests/windows/e2e.py" server >"$ex/pyserver.out" 2>"$ex/pyserver.err" &
  bg_pids+=($!)
  local purl=""
  for i in $(seq 100); do
    purl=$(sed -n 's|^listening on \(.*\)$|\1|p' "$ex/pyserver.out" 2>/dev/null)
    [[ -n $purl ]] && break
    sleep 0.1
  done
  if [[ -z $purl ]]; then
    failed=$((failed + 1)); failures+=("$arch/e2e/client (python server start)")
    echo "FAIL  $arch/e2e/client: the Python server did not start"; sed 's/^/      /' "$ex/pyserver.err" | tail -5
  else
    echo "      Python websockets echo server: $purl"
    case_run "$arch/e2e/client-text" expect_output 'text: hello\ntext: two words\nclose: 1000 ' \
      wine_exe "$ex" client.exe "$purl" hello "two words"
    case_run "$arch/e2e/client-binary" expect_output 'binary: 3 bytes\nbinary: 0 bytes\nclose: 1000 ' \
      wine_exe "$ex" client.exe --binary "$purl" abc ""
    case_run "$arch/e2e/client-stdin-utf8" expect_output 'text: line one\ntext: h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\nclose: 1000 ' \
      bash -c 'printf "line one\nh\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\n" | (cd "$1" && timeout -k 5 120 wine client.exe "$2")' _ "$ex" "$purl"
    case_run "$arch/e2e/client-close-code" expect_output 'text: x\nclose: 4000 custom reason' \
      wine_exe "$ex" client.exe --close "4000:custom reason" "$purl" x
  fi
  # Stop this architecture's servers before the next one starts.
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  bg_pids=()
}

for arch in "${archs[@]}"; do
  arch_suite "$arch"
done

if [[ $cargo_tests -eq 1 ]]; then
  for arch in "${archs[@]}"; do
    echo "=== windows/$arch: cargo unit tests under Wine ($(elapsed))"
    target=$arch-pc-windows-gnu
    runner=CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$target")_RUNNER
    # RUST_BACKTRACE=0: with backtraces on, the Rust 1.63 std's backtrace printer crashes under
    # Wine inside the should_panic test (a Wine/std symbolizer problem, not the library's).
    case_run "$arch/cargo-test-lib" env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      CARGO_UNSTABLE_SPARSE_REGISTRY=true "$runner=wine" RUST_BACKTRACE=0 \
      timeout -k 5 900 /usr/bin/cargo test --locked --lib --target "$target" --target-dir target/windows
  done
fi

if [[ $prefix_tests -eq 1 && ${#archs[@]} -eq 2 ]]; then
  echo "=== windows: installed into Wine prefixes (scripts/install.sh --wine) ($(elapsed))"
  wine_stop
  source "$ROOT/tests/windows/prefix.sh"
  prefix_suite
fi

cleanup
trap - EXIT
[[ $failed -gt 0 ]] && echo "=== windows: failed: ${failures[*]}"
echo "=== windows: done in $(elapsed)"
echo "windows: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
