#!/usr/bin/env bash
# Hostile-peer tests against the example echo server, over loopback (see tests/hostile/hostile.py
# for the cases and for how the memory bounds were chosen).
#
#   tests/hostile/run.sh                 # build (cargo build --release, make -C examples), run all
#   tests/hostile/run.sh --no-build      # use the binaries already in examples/build/
#   tests/hostile/run.sh [--no-build] CASE...   # only these cases (names as in hostile.py CASES)
#
# Environment: HOSTILE_SERVER=path (another echo_server build), HOSTILE_MALLOC_DEFAULTS=1 (do not
# tune glibc malloc in the server). Logs: target/hostile/. Every case prints "PASS ..." or
# "FAIL ..."; the last line is "hostile: N passed, M failed"; exit status 0 only if none failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=target/hostile
mkdir -p "$OUT"
export HOSTILE_PIDFILE=$OUT/server.pid
export PYTHONDONTWRITEBYTECODE=1
rm -f "$HOSTILE_PIDFILE"

passed=0
failed=0

# Whatever happens to the driver, the echo server it started does not outlive this script.
cleanup() {
  local pid
  pid=$(cat "$HOSTILE_PIDFILE" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if grep -qa echo_server "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$HOSTILE_PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ${1:-} == --no-build ]]; then
  shift
else
  if ! { cargo build --release --quiet && make -C examples --no-print-directory >/dev/null; } \
      >"$OUT/build.log" 2>&1; then
    echo "FAIL build (see $OUT/build.log)"
    echo "hostile: 0 passed, 1 failed"
    exit 1
  fi
fi

timeout --kill-after=10 240 python3 tests/hostile/hostile.py "$@" 2>"$OUT/hostile.err" \
  | tee "$OUT/hostile.out"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^PASS ' "$OUT/hostile.out")
failed=$(grep -c '^FAIL ' "$OUT/hostile.out")
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
  echo "FAIL hostile.py exited with status $rc (see $OUT/hostile.err)"
  failed=1
fi
echo "hostile: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
