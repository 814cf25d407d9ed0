#!/usr/bin/env bash
# Memory-error and undefined-behaviour checks of the library, beyond the ordinary test suite.
#
#   scripts/sanitize.sh [asan-c] [asan-rust] [asan-python] [valgrind]     (default: all four)
#
# asan-c       The C test programs of tests/c/*.c built with clang -fsanitize=address,undefined
#              and linked against the Rust *staticlib* built with -Zsanitizer=address
#              (target/asan/x86_64-unknown-linux-gnu/debug/libwebsocket.a), with leak detection.
# asan-rust    The Rust integration tests (tests/*.rs, including tests/stress.rs) under
#              -Zsanitizer=address (LeakSanitizer included). tests/header.rs (runs a nested
#              cargo that would inherit the ASan RUSTFLAGS) is left out, and tests/c_suite.rs and
#              tests/python_suite.rs are left out there: they load the cdylib into gcc- or
#              python-built processes, which an ASan library cannot be loaded into; asan-c and
#              asan-python cover them.
# asan-python  tests/python/test_ctypes.py against the ASan cdylib, with the ASan runtime
#              preloaded into python3 (leak detection off: the interpreter itself does not free
#              everything at exit).
# valgrind     memcheck (--leak-check=full, definite/indirect leaks are errors) of the C test
#              programs against target/debug/libwebsocket.so, and of the Rust engine, stress and
#              regression test executables (--test-threads=1).
#
# Nightly features come from RUSTC_BOOTSTRAP=1 on the stable toolchain. Needs clang 14 with
# libclang-rt-14-dev and valgrind (scripts/setup.sh base). Ends with "sanitize: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TRIPLE=x86_64-unknown-linux-gnu
ASAN_DIR=$ROOT/target/asan
ASAN_LIB=$ASAN_DIR/$TRIPLE/debug
OUT=$ROOT/target/sanitize
TC=()
command -v rustup >/dev/null 2>&1 && TC=(+stable)
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export WS_TEST_QUICK=${WS_TEST_QUICK:-1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}
mkdir -p "$OUT"

steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(asan-c asan-rust asan-python valgrind)

passed=0
failed=0
failures=()
result() { # name status
  if [[ $2 -eq 0 ]]; then
    echo "ok   $1"
    passed=$((passed + 1))
  else
    echo "FAIL $1"
    failed=$((failed + 1))
    failures+=("$1")
  fi
}

# heartbeat LABEL COMMAND...: runs COMMAND; while it runs, prints a line every 30 s to the
# script's own stderr (fd 3, whatever COMMAND's output is redirected to), so that a long step
# (the stress test under valgrind takes minutes) shows it is alive.
exec 3>&2
heartbeat() {
  local label=$1; shift
  local start=$SECONDS
  (while sleep 30; do echo "sanitize: $label: still running ($((SECONDS - start)) s)" >&3; done) 3>&3 &
  local hb=$!
  "$@"
  local rc=$?
  kill "$hb" 2>/dev/null
  wait "$hb" 2>/dev/null
  return $rc
}

asan_cargo() {
  RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes" RUSTDOCFLAGS="-Zsanitizer=address" \
    RUSTC_BOOTSTRAP=1 cargo "${TC[@]}" "$@" --target $TRIPLE --target-dir "$ASAN_DIR"
}

build_asan_lib() {
  [[ -n ${asan_lib_built:-} ]] && return 0
  echo "=== sanitize: cargo build -Zsanitizer=address"
  heartbeat "ASan build" asan_cargo build --lib || return 1
  asan_lib_built=1
}

c_programs() {
  local src
  for src in tests/c/*.c; do
    [[ -f $src ]] && basename "$src" .c
  done
}

step_asan_c() {
  build_asan_lib || { result "asan-c (build)" 1; return; }
  local p
  local progs
  mapfile -t progs < <(c_programs)
  if [[ ${#progs[@]} -eq 0 ]]; then
    echo "sanitize: no C programs in tests/c/"
    return
  fi
  for p in "${progs[@]}"; do
    local exe=$OUT/asan-$p
    if ! clang -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined -Wall -Wextra -Wno-unused-function -I include \
        "tests/c/$p.c" "$ASAN_LIB/libwebsocket.a" -o "$exe" -lpthread -ldl -lm; then
      result "asan-c $p (compile)" 1
      continue
    fi
    "$exe" >"$OUT/asan-$p.log" 2>&1
    local rc=$?
    if [[ $rc -ne 0 ]]; then
      grep -E "ERROR|SUMMARY|runtime error|FAIL|CHECK" "$OUT/asan-$p.log" | head -30
      echo "  log: $OUT/asan-$p.log"
    fi
    result "asan-c $p" $rc
  done
}

step_asan_rust() {
  local t args=()
  for t in tests/*.rs; do
    t=$(basename "$t" .rs)
    case $t in c_suite | python_suite | header) continue ;; esac
    args+=(--test "$t")
  done
  echo "=== sanitize: cargo test -Zsanitizer=address ${args[*]}"
  heartbeat "asan-rust" asan_cargo test --no-fail-fast --lib "${args[@]}" 2>&1 | tee "$OUT/asan-rust.log" | grep -E "^test result|^running|FAILED|panicked|ERROR: |SUMMARY"
  result "asan-rust" "${PIPESTATUS[0]}"
}

step_asan_python() {
  if [[ ! -f tests/python/test_ctypes.py ]]; then
    echo "sanitize: tests/python/test_ctypes.py not present"
    return
  fi
  build_asan_lib || { result "asan-python (build)" 1; return; }
  local rt
  rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so)
  if [[ ! -f $rt ]]; then
    echo "sanitize: $rt not found (libclang-rt-14-dev)"
    result "asan-python" 1
    return
  fi
  echo "=== sanitize: python3 tests/python/test_ctypes.py with $rt preloaded"
  LD_PRELOAD=$rt ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 WEBSOCKET_LIB=$ASAN_LIB/libwebsocket.so \
    python3 -m unittest tests/python/test_ctypes.py >"$OUT/asan-python.log" 2>&1
  local rc=$?
  tail -3 "$OUT/asan-python.log"
  [[ $rc -ne 0 ]] && grep -E "ERROR|SUMMARY|FAIL|Error" "$OUT/asan-python.log" | head -30
  result "asan-python" $rc
}

step_valgrind() {
  command -v valgrind >/dev/null || { echo "sanitize: valgrind missing (scripts/setup.sh base)"; result valgrind 1; return; }
  echo "=== sanitize: cargo build; valgrind of the C programs"
  cargo build --lib >/dev/null 2>&1 || { result "valgrind (build)" 1; return; }
  local p
  local progs
  mapfile -t progs < <(c_programs)
  for p in "${progs[@]}"; do
    local exe=$OUT/vg-$p
    if ! gcc -std=c11 -g -O0 -I include "tests/c/$p.c" -o "$exe" -L target/debug -lwebsocket \
        "-Wl,-rpath,$ROOT/target/debug"; then
      result "valgrind-c $p (compile)" 1
      continue
    fi
    heartbeat "valgrind-c $p" valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect "$exe" >"$OUT/vg-$p.log" 2>&1
    local rc=$?
    [[ $rc -ne 0 ]] && { grep -E "^==[0-9]+==|FAIL|CHECK" "$OUT/vg-$p.log" | head -30; echo "  log: $OUT/vg-$p.log"; }
    result "valgrind-c $p" $rc
  done

  echo "=== sanitize: valgrind of the Rust engine/stress/regression test executables"
  local t exes=()
  local names=()
  for t in tests/engine_*.rs tests/stress.rs tests/fuzz_regressions.rs; do
    [[ -f $t ]] && names+=(--test "$(basename "$t" .rs)")
  done
  mapfile -t exes < <(heartbeat "cargo test --no-run" cargo test --no-run --message-format=json "${names[@]}" 2>/dev/null |
    python3 -c 'import sys, json
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"] + " " + m["executable"])')
  local entry
  for entry in "${exes[@]}"; do
    local name=${entry%% *} exe=${entry#* }
    # The stress test is scaled down under valgrind (it serialises the threads anyway).
    echo "=== sanitize: valgrind $name"
    WS_STRESS_ITERATIONS=${WS_STRESS_ITERATIONS:-3000} \
      heartbeat "valgrind-rust $name" valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect "$exe" --test-threads=1 >"$OUT/vg-$name.log" 2>&1
    local rc=$?
    grep -E "^test result" "$OUT/vg-$name.log"
    [[ $rc -ne 0 ]] && { grep -E "^==[0-9]+==|panicked|FAILED" "$OUT/vg-$name.log" | head -30; echo "  log: $OUT/vg-$name.log"; }
    result "valgrind-rust $name" $rc
  done
}

for s in "${steps[@]}"; do
  case $s in
    asan-c) step_asan_c ;;
    asan-rust) step_asan_rust ;;
    asan-python) step_asan_python ;;
    valgrind) step_valgrind ;;
    *) echo "sanitize: unknown step $s" >&2; exit 2 ;;
  esac
done
echo "sanitize: ${failures[*]:-all clean}"
echo "sanitize: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
