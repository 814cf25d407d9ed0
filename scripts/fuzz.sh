#!/usr/bin/env bash
# Fuzzing the library with cargo-fuzz (libFuzzer + AddressSanitizer/LeakSanitizer), on the stable
# toolchain with RUSTC_BOOTSTRAP=1 (libFuzzer needs -Zsanitizer). Targets live in fuzz/, each with
# a small checked-in seed corpus in fuzz/corpus/<target>/. New inputs go to fuzz/target/work/
# (not checked in); crashes to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh build                  build every target
#   scripts/fuzz.sh smoke [SECONDS]        replay every corpus, then run each target SECONDS (20)
#   scripts/fuzz.sh run TARGET SECONDS [libFuzzer flags...]
#   scripts/fuzz.sh cmin TARGET            merge fuzz/target/work/TARGET into fuzz/corpus/TARGET
#                                          (only inputs that add coverage)
#   scripts/fuzz.sh replay TARGET FILE...  run the target once on the given inputs
#
# Fuzzers run under `nice -n 19`. The binaries are built with debug assertions (overflow checks).
set -euo pipefail
ORIG=$PWD
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
TARGETS=(frame_parser utf8 handshake pair api_sequence threads)
TC=()
command -v rustup >/dev/null 2>&1 && TC=(+stable)

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}

fz() { nice -n 19 cargo "${TC[@]}" fuzz "$@"; }

build() { ensure_cargo_fuzz; fz build -O -a; }

run() {
  local target=$1 secs=$2
  shift 2
  mkdir -p "target/work/$target" "corpus/$target"
  fz run -O -a "$target" "target/work/$target" "corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 "$@"
}

case "${1:-}" in
  build) build ;;
  smoke)
    secs=${2:-20}
    build
    for t in "${TARGETS[@]}"; do
      echo "=== fuzz: $t: replay fuzz/corpus/$t"
      fz run -O -a "$t" "corpus/$t" -- -runs=0 -timeout=20
    done
    for t in "${TARGETS[@]}"; do
      echo "=== fuzz: $t: ${secs}s"
      run "$t" "$secs"
    done
    echo "fuzz smoke: ${#TARGETS[@]} passed, 0 failed"
    ;;
  run)
    [[ $# -ge 3 ]] || { echo "usage: $0 run TARGET SECONDS [flags...]" >&2; exit 2; }
    shift
    run "$@"
    ;;
  cmin)
    [[ $# -eq 2 ]] || { echo "usage: $0 cmin TARGET" >&2; exit 2; }
    mkdir -p "corpus/$2" "target/work/$2"
    fz run -O -a "$2" "corpus/$2" "target/work/$2" -- -merge=1 -timeout=20
    ;;
  replay)
    [[ $# -ge 3 ]] || { echo "usage: $0 replay TARGET FILE..." >&2; exit 2; }
    t=$2
    shift 2
    files=()
    for f in "$@"; do
      case $f in /*) files+=("$f") ;; *) files+=("$ORIG/$f") ;; esac
    done
    fz run -O -a "$t" "${files[@]}" -- -runs=1
    ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
