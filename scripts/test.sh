#!/usr/bin/env bash
# The whole test suite: sets up what it needs (scripts/setup.sh), then runs every suite.
# Each suite prints its own closing line; this script ends with a plain "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh all || { echo "test: setup failed" >&2; exit 1; }

passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name: $*"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
  echo "=== $name: $((SECONDS - start)) s"
}

suite rust cargo test --all-targets
suite doctest cargo test --doc
suite miri scripts/miri.sh
suite valgrind tests/c/valgrind.sh
suite interop env INTEROP_SKIP_SETUP=1 tests/interop/run.sh
suite conformance tests/conformance/run.sh
suite hostile tests/hostile/run.sh --no-build
suite windows tests/windows/run.sh
suite ship tests/ship/run.sh
suite sanitize scripts/sanitize.sh
suite fuzz-smoke scripts/fuzz.sh smoke 10

echo "=== suites: ${failures[*]:-all green}"
echo "suites: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
