#!/bin/sh
# WebSocket conformance suite (Autobahn|Testsuite-style cases, both roles).
#
#   tests/conformance/run.sh [--no-build] [runner options]
#
# Builds the library and the examples (cargo build --release && make -C examples), then runs
# every case against examples/build/echo_server (server role) and examples/build/client --echo
# (client role), writes target/conformance/results.md and compares each outcome with
# tests/conformance/expected.json. Exit status 0 iff there is no difference.
# Runner options: --role server|client|both, --cases PREFIX..., -v, --list, --write-expected
# (see python3 tests/conformance/runner.py --help).
set -eu
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--no-build" ]; then
    shift
else
    cargo build --release --quiet
    make -C examples --no-print-directory >/dev/null
fi
exec python3 tests/conformance/runner.py "$@"
