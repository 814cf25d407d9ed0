#!/usr/bin/env bash
# Interop tests against real peers: our examples (C echo server and client, Python ctypes server
# and client) against Python `websockets`, Node `ws` and headless Chromium, on 127.0.0.1 with
# free ports. Builds the library (release and debug) and the examples first.
#
#   tests/interop/run.sh            # everything; logs and the demo screenshot in target/interop/
#   INTEROP_SKIP_SETUP=1 tests/interop/run.sh   # do not run scripts/setup.sh first
#
# Every case prints "PASS ..." or "FAIL ..."; the last line is "interop: N passed, M failed".
# Exit status 0 only when nothing failed. A peer that cannot be set up is a failure, not a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/interop
LOG=$OUT/logs
PY=$ROOT/.deps/venv/bin/python
HERE=$ROOT/tests/interop
export NODE_PATH=$ROOT/.deps/node/node_modules
rm -rf "$LOG" "$OUT/demo.png"
mkdir -p "$LOG"

passed=0
failed=0
declare -A server_pid=()

cleanup() {
  local pid
  for pid in "${server_pid[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${server_pid[@]}"; do
    # bounded: a server that ignores SIGTERM is killed after 15 s
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# check NAME CMD... : one case, from the command's exit status (output to setup.log).
check() {
  local name=$1; shift
  echo "=== $name: $*" >>"$LOG/setup.log"
  if timeout --kill-after=10 900 "$@" >>"$LOG/setup.log" 2>&1; then
    pass "$name"
  else
    fail "$name (see target/interop/logs/setup.log)"
  fi
}

# driver NAME TIMEOUT CMD... : runs a driver that prints PASS/FAIL lines and counts them. A driver
# that fails without printing a FAIL line (crash, missing peer, timeout) is one more failure.
driver() {
  local name=$1 limit=$2; shift 2
  local out=$LOG/$name.out
  timeout --kill-after=10 "$limit" "$@" 2>"$LOG/$name.err" | tee "$out"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [[ $rc -ne 0 && $f -eq 0 ]]; then
    fail "$name: driver exited with status $rc (see target/interop/logs/$name.err)"
  fi
}

# start_server NAME CMD... : starts a server with --addr 127.0.0.1:0 and waits (at most 20 s)
# for its "listening on http://127.0.0.1:PORT/" line; sets URL (http://...) and WS (ws://...).
start_server() {
  local name=$1; shift
  "$@" --addr 127.0.0.1:0 >"$LOG/$name.stdout" 2>"$LOG/$name.log" &
  local pid=$!
  server_pid[$name]=$pid
  local line=""
  for _ in $(seq 200); do
    line=$(head -n 1 "$LOG/$name.stdout" 2>/dev/null)
    [[ $line =~ ^listening\ on\ http://127\.0\.0\.1:[0-9]+/$ ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ ! $line =~ ^listening\ on\ http://127\.0\.0\.1:[0-9]+/$ ]]; then
    fail "$name: did not start (first line: '$line'; see target/interop/logs/$name.log)"
    return 1
  fi
  URL=${line#listening on }
  WS=ws://${URL#http://}
  pass "$name: started, $URL"
}

# stop_server NAME : SIGTERM, then the exit status must be 0 (within 20 s).
stop_server() {
  local name=$1 pid=${server_pid[$1]} rc
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    fail "$name: still running 20 s after SIGTERM"
  else
    wait "$pid"; rc=$?
    if [[ $rc -eq 0 ]]; then pass "$name: exits 0 on SIGTERM"; else fail "$name: exit status $rc after SIGTERM"; fi
  fi
  unset "server_pid[$name]"
}

echo "=== setup"
if [[ -z ${INTEROP_SKIP_SETUP:-} ]]; then
  check "setup: scripts/setup.sh peers browser" scripts/setup.sh peers browser
fi
check "setup: cargo build --release" cargo build --release
check "setup: cargo build (debug)" cargo build
check "setup: make -C examples" make -C examples
check "setup: make -C examples (debug library)" make -C examples LIBDIR=../target/debug BUILD=build/debug
check "setup: peer: python websockets" "$PY" -c 'import websockets'
check "setup: peer: node ws" node -e "require('ws')"
check "setup: peer: node playwright-core" node -e "require('playwright-core')"
check "setup: peer: chromium" test -x /usr/bin/chromium

echo "=== C echo server (release library) against websockets, ws, Chromium, raw sockets"
if start_server c-echo-server examples/build/echo_server; then
  driver websockets-c 600 "$PY" "$HERE/server_websockets.py" c "$WS"
  driver ws-c 600 node "$HERE/server_ws.js" c "$WS"
  driver chromium-c 600 node "$HERE/browser.js" c "$URL" "$OUT/demo.png"
  driver raw-c 300 "$PY" "$HERE/server_raw.py" c "$WS"
  stop_server c-echo-server
fi
driver lifecycle-c 300 "$PY" "$HERE/server_lifecycle.py" c "$LOG/lifecycle-c.log" -- examples/build/echo_server

echo "=== permessage-deflate: C echo server --deflate against websockets, ws, Chromium, raw sockets"
if start_server c-echo-server-deflate examples/build/echo_server --deflate; then
  driver deflate-websockets-c 600 "$PY" "$HERE/deflate_websockets.py" server "$WS"
  driver deflate-ws-c 600 node "$HERE/deflate_ws.js" "$WS"
  driver deflate-chromium-c 600 node "$HERE/browser.js" c-deflate "$URL" "$OUT/demo-deflate.png" --deflate
  stop_server c-echo-server-deflate
fi
driver deflate-c-client 300 "$PY" "$HERE/deflate_websockets.py" client examples/build/client

echo "=== C echo server (debug library) against websockets, raw sockets"
if start_server c-echo-server-debug examples/build/debug/echo_server; then
  driver websockets-c-debug 600 "$PY" "$HERE/server_websockets.py" c-debug "$WS" --quick
  driver raw-c-debug 300 "$PY" "$HERE/server_raw.py" c-debug "$WS"
  stop_server c-echo-server-debug
fi

echo "=== Python ctypes echo server against websockets, ws, raw sockets"
if start_server py-echo-server "$PY" examples/python/ws_server.py; then
  driver websockets-py 600 "$PY" "$HERE/server_websockets.py" py "$WS"
  driver ws-py 600 node "$HERE/server_ws.js" py "$WS" --quick
  driver raw-py 300 "$PY" "$HERE/server_raw.py" py "$WS"
  stop_server py-echo-server
fi
driver lifecycle-py 300 "$PY" "$HERE/server_lifecycle.py" py "$LOG/lifecycle-py.log" -- "$PY" examples/python/ws_server.py

echo "=== C and Python clients against websockets and ws servers"
driver clients 600 "$PY" "$HERE/clients.py" "$LOG/clients-peers.log"

echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
