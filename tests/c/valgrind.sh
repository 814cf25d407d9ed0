#!/usr/bin/env bash
# Runs the C test programs of tests/c/ under valgrind's memcheck against target/debug's
# libwebsocket.so: any invalid read/write, use of uninitialised memory, or definite/indirect
# leak fails the run, as does any failed check of the program itself.
#
# Usage: tests/c/valgrind.sh [program...]   e.g. tests/c/valgrind.sh misuse  (runs `cargo build` first)
# Environment: WEBSOCKET_LIB_DIR (default target/debug), WS_TEST_QUICK (default 1: smaller
# payloads in pair.c; set 0 for the full 16 MiB matrix).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LIB_DIR=${WEBSOCKET_LIB_DIR:-$ROOT/target/debug}
OUT=$ROOT/target/c-valgrind
export WS_TEST_QUICK=${WS_TEST_QUICK:-1}

# `cargo test` alone leaves target/debug/libwebsocket.so stale: build it unless a directory was given.
if [[ -z ${WEBSOCKET_LIB_DIR:-} ]] && command -v cargo >/dev/null; then
  cargo build --quiet || { echo "valgrind.sh: cargo build failed" >&2; exit 2; }
fi
if [[ ! -f $LIB_DIR/libwebsocket.so ]]; then
  echo "valgrind.sh: $LIB_DIR/libwebsocket.so not found (run cargo build)" >&2
  exit 2
fi
for tool in gcc valgrind; do
  command -v "$tool" >/dev/null || { echo "valgrind.sh: $tool is missing (scripts/setup.sh base)" >&2; exit 2; }
done

programs=("$@")
if [[ ${#programs[@]} -eq 0 ]]; then
  for src in tests/c/*.c; do programs+=("$(basename "$src" .c)"); done
fi

mkdir -p "$OUT"
passed=0
failed=0
failures=()
for p in "${programs[@]}"; do
  exe=$OUT/$p
  log=$OUT/$p.log
  if ! gcc -std=c11 -Wall -Wextra -Werror -g -O0 -I include "tests/c/$p.c" -o "$exe" \
      -L "$LIB_DIR" -lwebsocket "-Wl,-rpath,$LIB_DIR"; then
    echo "FAIL $p (compile)"
    failed=$((failed + 1)); failures+=("$p"); continue
  fi
  start=$SECONDS
  valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --track-fds=no "$exe" >"$log" 2>&1
  rc=$?
  secs=$((SECONDS - start))
  if [[ $rc -eq 0 ]]; then
    echo "ok   $p (${secs}s)"
    passed=$((passed + 1))
  else
    if [[ $rc -eq 99 ]]; then why="valgrind found errors or leaks"; else why="exit status $rc"; fi
    echo "FAIL $p ($why, ${secs}s); log: $log"
    grep -E "^==[0-9]+==|FAIL|CHECK" "$log" | head -40
    failed=$((failed + 1)); failures+=("$p")
  fi
done
echo "valgrind: ${failures[*]:-all clean}"
echo "valgrind: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
