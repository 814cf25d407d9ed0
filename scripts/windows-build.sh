#!/usr/bin/env bash
# Builds the real Windows DLL, x86_64 websocket.dll, with Debian's Rust 1.63 (the only Rust on
# this machine that has a Windows standard library) from the committed Cargo.lock, then checks
# its export and import tables with mingw's objdump:
#   - exports: exactly the 13 undecorated names of Microsoft's websocket.dll, module name
#     websocket.dll, no ordinal-only or forwarded entries;
#   - imports: only DLLs that every Windows installation has (no libgcc_s_*, libwinpthread-1,
#     libstdc++ or other mingw runtime DLLs that would not exist on a Windows machine).
#
# The build is reproducible: no link time stamp (ld --no-insert-timestamp) and no home or checkout
# directory in the panic-location strings (--remap-path-prefix), so the same sources, lockfile
# and Debian packages give the same bytes; --reproducible builds a second time in a scratch
# target directory and compares the two DLLs.
#
# Usage: scripts/windows-build.sh [--no-build] [--reproducible]
#   --no-build      only check an existing DLL
#   --reproducible  also rebuild from scratch elsewhere and require identical bytes (~15 s more)
# Environment: WINDOWS_TARGET_DIR (default target/windows; kept apart from target/ so that
# rustup's cargo and Debian's cargo do not invalidate each other's build-script fingerprints).
# Prints the DLL's path on the last line. Needs: scripts/setup.sh windows.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=x86_64-pc-windows-gnu
TARGET_DIR=${WINDOWS_TARGET_DIR:-target/windows}
DLL=$TARGET_DIR/$TARGET/release/websocket.dll
OBJDUMP=x86_64-w64-mingw32-objdump

build=1
reproducible=0
for a in "$@"; do
  case $a in
    --no-build) build=0 ;;
    --reproducible) reproducible=1 ;;
    *) echo "usage: $0 [--no-build] [--reproducible]" >&2; exit 2 ;;
  esac
done

# Debian's toolchain: rustc 1.63 / cargo 1.65. RUSTC_BOOTSTRAP lets cargo 1.65 use the sparse
# registry protocol (its git index is unreachable here); --locked keeps the committed lockfile.
cargo_windows() { # TARGET_DIR
  RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_SPARSE_REGISTRY=true \
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="-C link-arg=-Wl,--no-insert-timestamp --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$ROOT=/websocket" \
    /usr/bin/cargo build --locked --release --lib --target $TARGET --target-dir "$1"
}

for tool in /usr/bin/rustc /usr/bin/cargo x86_64-w64-mingw32-gcc $OBJDUMP; do
  command -v "$tool" >/dev/null || { echo "windows-build: $tool missing (scripts/setup.sh windows)" >&2; exit 1; }
done
[[ -d /usr/lib/rustlib/$TARGET ]] || { echo "windows-build: libstd-rust-dev-windows missing (scripts/setup.sh windows)" >&2; exit 1; }

if [[ $build -eq 1 ]]; then
  start=$(date +%s%N)
  cargo_windows "$TARGET_DIR"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf 'windows-build: built in %d.%03d s with %s\n' $((ms / 1000)) $((ms % 1000)) "$(/usr/bin/rustc --version)"
fi
[[ -f $DLL ]] || { echo "windows-build: $DLL not found" >&2; exit 1; }

dump=$($OBJDUMP -p "$DLL")
fail=0

# --- the file is a 64-bit Windows DLL ------------------------------------------------------
if ! grep -q '^Characteristics' <<<"$dump" || ! grep -q 'DLL' <<<"$(sed -n '/^Characteristics/,/^$/p' <<<"$dump")"; then
  echo "windows-build: $DLL is not a DLL" >&2; fail=1
fi
grep -q 'file format pei-x86-64' <<<"$dump" || { echo "windows-build: not an x86-64 PE image" >&2; fail=1; }

# --- exports ---------------------------------------------------------------------------------
expected_exports="WebSocketAbortHandle
WebSocketBeginClientHandshake
WebSocketBeginServerHandshake
WebSocketCompleteAction
WebSocketCreateClientHandle
WebSocketCreateServerHandle
WebSocketDeleteHandle
WebSocketEndClientHandshake
WebSocketEndServerHandshake
WebSocketGetAction
WebSocketGetGlobalProperty
WebSocketReceive
WebSocketSend"
exports=$(sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' <<<"$dump" | sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p')
if [[ $exports != "$expected_exports" ]]; then
  echo "windows-build: export names differ from the 13 of websocket.dll:" >&2
  diff <(echo "$expected_exports") <(echo "$exports") >&2 || true
  fail=1
fi
n_addr=$(sed -n 's/^[[:space:]]*Export Address Table[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' <<<"$dump" | head -1)
n_names=$(sed -n 's/^[[:space:]]*\[Name Pointer\/Ordinal\] Table[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' <<<"$dump" | head -1)
if [[ $((16#${n_addr:-0})) -ne 13 || $((16#${n_names:-0})) -ne 13 ]]; then
  echo "windows-build: export table has ${n_addr:-?} entries / ${n_names:-?} names (hex), expected 13 / 13" >&2
  fail=1
fi
modname=$(sed -n 's/^Name[[:space:]]*[0-9a-fA-F]*[[:space:]]\(.*\)$/\1/p' <<<"$dump" | head -1)
[[ $modname == websocket.dll ]] || { echo "windows-build: export directory names the module '$modname'" >&2; fail=1; }
if grep -qi 'Forwarder RVA' <<<"$dump"; then echo "windows-build: forwarded exports" >&2; fail=1; fi

# --- imports ---------------------------------------------------------------------------------
# DLLs present on every supported Windows (8 / Server 2012 and later, like websocket.dll itself):
# the base system, the CNG random number generator, the registry, Winsock and user profiles (what
# Rust's std links), the system C runtime (msvcrt, ucrtbase) and the API-set contracts.
allowed='^(kernel32|ntdll|advapi32|bcrypt|bcryptprimitives|ws2_32|userenv|msvcrt|ucrtbase|api-ms-win-[a-z0-9-]+)\.dll$'
imports=$(sed -n 's/^[[:space:]]*DLL Name: //p' <<<"$dump")
[[ -n $imports ]] || { echo "windows-build: no import table found" >&2; fail=1; }
for dll in $imports; do
  lower=$(tr 'A-Z' 'a-z' <<<"$dll")
  if ! [[ $lower =~ $allowed ]]; then
    echo "windows-build: imports $dll, which a Windows machine does not have" >&2
    fail=1
  fi
done

echo "windows-build: exports ($(wc -l <<<"$exports")): $(tr '\n' ' ' <<<"$exports")"
echo "windows-build: imports: $(tr '\n' ' ' <<<"$imports")"
echo "windows-build: size $(stat -c %s "$DLL") bytes, sha256 $(sha256sum "$DLL" | cut -c1-64)"

if [[ $reproducible -eq 1 ]]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/websocket-repro.XXXXXX")
  cargo_windows "$scratch" >/dev/null 2>&1 || { echo "windows-build: second build failed" >&2; fail=1; }
  if cmp -s "$DLL" "$scratch/$TARGET/release/websocket.dll"; then
    echo "windows-build: reproducible: a second build from scratch gave identical bytes"
  else
    echo "windows-build: NOT reproducible: $DLL and $scratch/$TARGET/release/websocket.dll differ" >&2
    fail=1
  fi
  rm -rf "$scratch"
fi
if [[ $fail -ne 0 ]]; then
  echo "windows-build: FAILED checks for $DLL" >&2
  exit 1
fi
echo "$ROOT/$DLL"
