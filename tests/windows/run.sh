#!/usr/bin/env bash
# The Windows test suite, run under Wine on Linux: builds the real x86_64 websocket.dll
# (scripts/windows-build.sh: Debian's Rust 1.63, --locked, export/import table checks), builds C
# programs with mingw-w64 against include/websocket.h and runs each one under Wine with the
# fresh DLL copied next to the exe. Every program first proves that the websocket.dll it runs
# against is ours (tests/windows/ours.h), never Wine's builtin stub.
#
# Cases:
#   dll-build            build + export/import tables (scripts/windows-build.sh)
#   i686-static          stdcall sizes of the header vs mingw's i686 import library, i686
#                        layouts, i686 link (scripts/windows-i686-check.sh)
#   win/<prog>           tests/windows/<prog>.c linked with mingw's import library (-lwebsocket)
#   win/<prog>-dyn       the same source bound at run time (LoadLibraryA + GetProcAddress,
#                        tests/windows/loader.h)
#   guard/*              an exe without our DLL does not start; Wine's builtin DLL is refused
#   c/<prog>[-dyn]       the portable tests of tests/c (both ways, with ours.h force-included)
#   examples-build       examples/ (echo_server, client) as Win32 console programs (their Makefile)
#   e2e/*                echo_server.exe under Wine <- Python websockets client(s) and headless
#                        Chromium (the interop suite's browser cases, tests/interop/browser.js);
#                        client.exe under Wine -> Python websockets echo server on Linux
#   cargo-test-lib       the crate's unit tests for x86_64-pc-windows-gnu, run by Wine
#
# Usage: tests/windows/run.sh [--no-build] [--no-cargo]
#   --no-build   use the DLL already built (its tables are still checked)
#   --no-cargo   skip the cargo unit tests under Wine
# The last line is "windows: N passed, M failed"; the exit status is 0 only when M is 0.
# Build products and logs: target/windows/wine-tests/. The Wine prefix lives outside the
# repository (tests/windows/wine-env.sh: ${TMPDIR:-/tmp}/websocket-wine-$UID/prefix); its
# wineserver is stopped at the end. Needs: scripts/setup.sh windows (and peers for e2e).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/windows/wine-tests
BIN=$OUT/bin
LOGS=$OUT/logs
CC=x86_64-w64-mingw32-gcc
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror)
TIMEOUT=${WS_WIN_TIMEOUT:-300}
PYTHON=$ROOT/.deps/venv/bin/python

build=1
cargo_tests=1
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    --no-cargo) cargo_tests=0 ;;
    *) echo "usage: $0 [--no-build] [--no-cargo]" >&2; exit 2 ;;
  esac
done

source "$ROOT/tests/windows/wine-env.sh"
# Only one run at a time per Wine prefix and output directory (wineserver -k would kill the
# other run's programs).
mkdir -p "$(dirname "$WINEPREFIX")"
exec 9>"$WINEPREFIX.lock"
flock 9
rm -rf "$BIN" "$LOGS"
mkdir -p "$BIN" "$LOGS" "$OUT/nodll"

passed=0; failed=0; failures=()
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
  wine_stop
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# case NAME COMMAND...: runs the command with its output in $LOGS/NAME.log.
case_run() {
  local name=$1; shift
  local log=$LOGS/${name//\//_}.log t0 rc
  t0=$(now_ms)
  "$@" >"$log" 2>&1
  rc=$?
  local ms=$(( $(now_ms) - t0 ))
  local summary
  summary=$(tr -d '\r' <"$log" | grep -v '^$' | tail -1 | cut -c1-110)
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    printf 'ok    %-34s %6d ms  %s\n' "$name" "$ms" "$summary"
  else
    failed=$((failed + 1)); failures+=("$name")
    printf 'FAIL  %-34s %6d ms  exit %d, log %s\n' "$name" "$ms" "$rc" "${log#$ROOT/}"
    tr -d '\r' <"$log" | tail -15 | sed 's/^/      /'
  fi
  return $rc
}

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

echo "=== windows: DLL"
dll_args=(); [[ $build -eq 0 ]] && dll_args=(--no-build)
if ! case_run dll-build scripts/windows-build.sh "${dll_args[@]}"; then
  echo "windows: $passed passed, $failed failed"
  exit 1
fi
DLL=$(tail -1 "$LOGS/dll-build.log")
cp "$DLL" "$BIN/websocket.dll"
grep -E '^windows-build: (built|imports|exports)' "$LOGS/dll-build.log" | sed 's/^/      /'

echo "=== windows: i686 (static)"
case_run i686-static scripts/windows-i686-check.sh

echo "=== windows: Wine prefix"
t0=$(now_ms)
wine_init
echo "      $WINEPREFIX ($(wine --version 2>/dev/null), ready in $(( $(now_ms) - t0 )) ms)"

# build NAME MODE SOURCE [EXTRA CFLAGS...]: MODE implib (-lwebsocket) or loader (-DWS_USE_LOADER).
build_prog() {
  local name=$1 mode=$2 src=$3; shift 3
  local exe=$BIN/$name.exe
  if [[ $mode == implib ]]; then
    $CC "${CFLAGS[@]}" "$@" -I"$ROOT/include" -I"$ROOT/tests/windows" -o "$exe" "$src" -lwebsocket
  else
    $CC "${CFLAGS[@]}" -DWS_USE_LOADER "$@" -I"$ROOT/include" -I"$ROOT/tests/windows" -o "$exe" "$src"
  fi
}

# compile_and_run NAME EXE MODE SOURCE [EXTRA CFLAGS...]: builds $BIN/EXE.exe and runs it.
compile_and_run() {
  local name=$1 prog=$2 mode=$3 src=$4; shift 4
  if build_prog "$prog" "$mode" "$src" "$@" >"$LOGS/build_${prog}.log" 2>&1; then
    case_run "$name" wine_exe "$BIN" "$prog.exe"
  else
    failed=$((failed + 1)); failures+=("$name (build)")
    printf 'FAIL  %-34s build failed, log %s\n' "$name" "${LOGS#$ROOT/}/build_${prog}.log"
    sed 's/^/      /' "$LOGS/build_${prog}.log" | head -20
  fi
}

echo "=== windows: tests/windows"
for prog in layout handshake exchange misuse threads global; do
  compile_and_run "win/$prog" "$prog" implib "$ROOT/tests/windows/$prog.c"
  compile_and_run "win/$prog-dyn" "$prog-dyn" loader "$ROOT/tests/windows/$prog.c"
done
compile_and_run "win/reload-dyn" reload-dyn loader "$ROOT/tests/windows/reload.c"

echo "=== windows: guards"
# Without our DLL next to it, an exe linked with -lwebsocket must not start (Wine's builtin is
# disabled by WINEDLLOVERRIDES=websocket=n); with the builtin allowed, ours.h must refuse it.
cp "$BIN/layout.exe" "$BIN/layout-dyn.exe" "$OUT/nodll/"
case_run guard/missing-dll expect_failure wine_exe "$OUT/nodll" layout.exe
case_run guard/builtin-refused env WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d;websocket=b" \
  bash -c 'cd "$1" && timeout -k 5 60 wine layout-dyn.exe; rc=$?; echo "exit status $rc (expected 3)"; [[ $rc -eq 3 ]]' _ "$OUT/nodll"

echo "=== windows: tests/c"
csrcs=()
[[ -f $ROOT/tests/c/common.h ]] && for f in "$ROOT"/tests/c/*.c; do [[ -f $f ]] && csrcs+=("$f"); done
if [[ ${#csrcs[@]} -eq 0 ]]; then
  echo "      (no tests/c programs yet)"
fi
for src in "${csrcs[@]}"; do
  prog=$(basename "$src" .c)
  # Portable C11 programs: ours.h is force-included so that they too refuse a foreign DLL.
  compile_and_run "c/$prog" "c_$prog" implib "$src" -std=c11 -I"$ROOT/tests/c" -include "$ROOT/tests/windows/ours.h"
  compile_and_run "c/$prog-dyn" "c_$prog-dyn" loader "$src" -std=c11 -I"$ROOT/tests/c" -include "$ROOT/tests/windows/ours.h"
done

echo "=== windows: examples"
if [[ -f $ROOT/examples/echo_server.c && -f $ROOT/examples/client.c && -f $ROOT/examples/net.h && -f $ROOT/examples/Makefile ]]; then
  EX=$OUT/examples
  rm -rf "$EX"; mkdir -p "$EX"
  cp "$BIN/websocket.dll" "$EX/"
  # Their Makefile's mingw recipe, with -Werror and ours.h's check linked in.
  build_examples() {
    $CC "${CFLAGS[@]}" -I"$ROOT/include" -I"$ROOT/tests/windows" -c -o "$EX/ours_check.o" -x c - <<<'#include "ours.h"' &&
      make -C "$ROOT/examples" CC=$CC LIBDIR="$EX" BUILD="$EX" \
        CFLAGS="-O2 -Wall -Wextra -Werror -std=c99" LDFLAGS="$EX/ours_check.o" &&
      [[ -f $EX/echo_server.exe && -f $EX/client.exe ]] && echo "built echo_server.exe and client.exe"
  }
  if case_run examples-build build_examples; then
    if [[ ! -x $PYTHON ]] || ! "$PYTHON" -c 'import websockets' 2>/dev/null; then
      scripts/setup.sh peers >"$LOGS/setup-peers.log" 2>&1
    fi
    # echo_server.exe under Wine, Python websockets clients on Linux.
    (cd "$EX" && exec wine echo_server.exe --addr 127.0.0.1:0 >"$EX/echo_server.out" 2>"$EX/echo_server.err") &
    bg_pids+=($!)
    url=""
    for _ in $(seq 150); do
      url=$(tr -d '\r' <"$EX/echo_server.out" 2>/dev/null | sed -n 's|^listening on http://\(.*\)/$|ws://\1/|p')
      [[ -n $url ]] && break
      sleep 0.2
    done
    if [[ -z $url ]]; then
      failed=$((failed + 1)); failures+=("e2e/echo-server (start)")
      echo "FAIL  e2e/echo-server: echo_server.exe did not start"; sed 's/^/      /' "$EX/echo_server.err" | tail -5
    else
      echo "      echo_server.exe: $url"
      case_run e2e/echo-server timeout 120 "$PYTHON" "$ROOT/tests/windows/e2e.py" client "$url"
      case_run e2e/echo-server-4-clients timeout 120 "$PYTHON" "$ROOT/tests/windows/e2e.py" client "$url" --clients 4
      # Headless Chromium on Linux loads the demo page from the Windows server and runs the
      # browser cases of the interop suite against it.
      case_run e2e/echo-server-chromium env NODE_PATH="$ROOT/.deps/node/node_modules" \
        timeout 600 node "$ROOT/tests/interop/browser.js" wine "${url/ws:/http:}" "$EX/demo-wine.png"
    fi
    # client.exe under Wine against a Python websockets echo server on Linux.
    "$PYTHON" "$ROOT/tests/windows/e2e.py" server >"$EX/pyserver.out" 2>"$EX/pyserver.err" &
    bg_pids+=($!)
    purl=""
    for _ in $(seq 100); do
      purl=$(sed -n 's|^listening on \(.*\)$|\1|p' "$EX/pyserver.out" 2>/dev/null)
      [[ -n $purl ]] && break
      sleep 0.1
    done
    if [[ -z $purl ]]; then
      failed=$((failed + 1)); failures+=("e2e/client (python server start)")
      echo "FAIL  e2e/client: the Python server did not start"; sed 's/^/      /' "$EX/pyserver.err" | tail -5
    else
      echo "      Python websockets echo server: $purl"
      # expect_output EXPECTED_FILE COMMAND...: exit 0 and exactly the expected lines.
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
      case_run e2e/client-text expect_output 'text: hello\ntext: two words\nclose: 1000 ' \
        wine_exe "$EX" client.exe "$purl" hello "two words"
      case_run e2e/client-binary expect_output 'binary: 3 bytes\nbinary: 0 bytes\nclose: 1000 ' \
        wine_exe "$EX" client.exe --binary "$purl" abc ""
      case_run e2e/client-stdin-utf8 expect_output 'text: line one\ntext: h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\nclose: 1000 ' \
        bash -c 'printf "line one\nh\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e\n" | (cd "$1" && timeout -k 5 120 wine client.exe "$2")' _ "$EX" "$purl"
      case_run e2e/client-close-code expect_output 'text: x\nclose: 4000 custom reason' \
        wine_exe "$EX" client.exe --close "4000:custom reason" "$purl" x
    fi
  fi
else
  echo "      (examples/echo_server.c, client.c, net.h or Makefile missing: skipped)"
fi

if [[ $cargo_tests -eq 1 ]]; then
  echo "=== windows: cargo unit tests under Wine"
  # RUST_BACKTRACE=0: with backtraces on, the Rust 1.63 std's backtrace printer crashes under
  # Wine inside the should_panic test (a Wine/std symbolizer problem, not the library's).
  case_run cargo-test-lib env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
    CARGO_UNSTABLE_SPARSE_REGISTRY=true CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine RUST_BACKTRACE=0 \
    timeout -k 5 900 /usr/bin/cargo test --locked --lib --target x86_64-pc-windows-gnu --target-dir target/windows
fi

cleanup
trap - EXIT
[[ $failed -gt 0 ]] && echo "=== windows: failed: ${failures[*]}"
echo "windows: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
