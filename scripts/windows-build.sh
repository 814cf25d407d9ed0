#!/usr/bin/env bash
# Builds the real Windows DLLs, websocket.dll for x86_64 (64-bit) and for i686 (32-bit, stdcall),
# with Debian's Rust 1.63 (the only Rust on this machine that has a Windows standard library) from
# the committed Cargo.lock, then checks each one's export and import tables with mingw's objdump:
#   - exports: exactly the 13 undecorated names of Microsoft's websocket.dll, module name
#     websocket.dll, no ordinal-only or forwarded entries;
#   - imports: only DLLs that every Windows installation has (no libgcc_s_*, libwinpthread-1,
#     libstdc++ or other mingw runtime DLLs that would not exist on a Windows machine);
#   - the machine type (PE32+ x86-64 / PE32 i386) and the VERSIONINFO resource (file and product
#     version = the crate version, OriginalFilename websocket.dll; tests/windows/versioninfo.py).
#
# The build is reproducible: no link time stamp (ld --no-insert-timestamp) and no home or checkout
# directory in the panic-location strings (--remap-path-prefix), so the same sources, lockfile
# and Debian packages give the same bytes; --reproducible builds a second time in a scratch
# target directory and compares the two DLLs.
#
# Usage: scripts/windows-build.sh [--target x86_64|i686|all] [--no-build] [--reproducible]
#   --target        which DLL (default all: both, x86_64 first)
#   --no-build      only check an existing DLL
#   --reproducible  also rebuild from scratch elsewhere and require identical bytes (~30 s more
#                   per target)
# Environment: WINDOWS_TARGET_DIR (default target/windows; kept apart from target/ so that
# rustup's cargo and Debian's cargo do not invalidate each other's build-script fingerprints).
# Prints each DLL's path on a line of its own at the end (one line per target, in order).
# Needs: scripts/setup.sh windows.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${WINDOWS_TARGET_DIR:-target/windows}
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

archs=(x86_64 i686)
build=1
reproducible=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --target)
      case ${2:-} in
        x86_64 | i686) archs=("$2") ;;
        all) archs=(x86_64 i686) ;;
        *) echo "windows-build: --target x86_64|i686|all" >&2; exit 2 ;;
      esac
      shift ;;
    --no-build) build=0 ;;
    --reproducible) reproducible=1 ;;
    *) echo "usage: $0 [--target x86_64|i686|all] [--no-build] [--reproducible]" >&2; exit 2 ;;
  esac
  shift
done

# Debian's toolchain: rustc 1.63 / cargo 1.65. RUSTC_BOOTSTRAP lets cargo 1.65 use the sparse
# registry protocol (its git index is unreachable here); --locked keeps the committed lockfile.
cargo_windows() { # TARGET TARGET_DIR
  local var
  var=CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$1")_RUSTFLAGS
  env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_SPARSE_REGISTRY=true \
    "$var=-C link-arg=-Wl,--no-insert-timestamp --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$ROOT=/websocket" \
    /usr/bin/cargo build --locked --release --lib --target "$1" --target-dir "$2"
}

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
# DLLs present on every supported Windows (8 / Server 2012 and later, like websocket.dll itself):
# the base system, the CNG random number generator, the registry, Winsock and user profiles (what
# Rust's std links), the system C runtime (msvcrt, ucrtbase) and the API-set contracts.
allowed='^(kernel32|ntdll|advapi32|bcrypt|bcryptprimitives|ws2_32|userenv|msvcrt|ucrtbase|api-ms-win-[a-z0-9-]+)\.dll$'

fail=0
paths=()
for arch in "${archs[@]}"; do
  TARGET=$arch-pc-windows-gnu
  DLL=$TARGET_DIR/$TARGET/release/websocket.dll
  OBJDUMP=$arch-w64-mingw32-objdump
  if [[ $arch == x86_64 ]]; then format=pei-x86-64; else format=pei-i386; fi
  for tool in /usr/bin/rustc /usr/bin/cargo $arch-w64-mingw32-gcc $arch-w64-mingw32-windres $OBJDUMP python3; do
    command -v "$tool" >/dev/null || { echo "windows-build: $tool missing (scripts/setup.sh windows)" >&2; exit 1; }
  done
  [[ -d /usr/lib/rustlib/$TARGET ]] || {
    echo "windows-build: the $TARGET standard library is missing (libstd-rust-dev-windows$([[ $arch == i686 ]] && echo :i386); scripts/setup.sh windows)" >&2
    exit 1
  }

  if [[ $build -eq 1 ]]; then
    start=$(date +%s%N)
    cargo_windows "$TARGET" "$TARGET_DIR"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf 'windows-build: %s built in %d.%03d s with %s\n' "$TARGET" $((ms / 1000)) $((ms % 1000)) "$(/usr/bin/rustc --version)"
  fi
  [[ -f $DLL ]] || { echo "windows-build: $DLL not found" >&2; exit 1; }

  dump=$($OBJDUMP -p "$DLL")
  f=0

  # --- the file is a Windows DLL of the right machine --------------------------------------
  if ! grep -q '^Characteristics' <<<"$dump" || ! grep -q 'DLL' <<<"$(sed -n '/^Characteristics/,/^$/p' <<<"$dump")"; then
    echo "windows-build: $DLL is not a DLL" >&2; f=1
  fi
  grep -q "file format $format\$" <<<"$dump" || { echo "windows-build: $DLL is not a $format image" >&2; f=1; }

  # --- exports -------------------------------------------------------------------------------
  exports=$(sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' <<<"$dump" | sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\][[:space:]]*//p')
  if [[ $exports != "$expected_exports" ]]; then
    echo "windows-build: $TARGET export names differ from the 13 of websocket.dll:" >&2
    diff <(echo "$expected_exports") <(echo "$exports") >&2 || true
    f=1
  fi
  n_addr=$(sed -n 's/^[[:space:]]*Export Address Table[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' <<<"$dump" | head -1)
  n_names=$(sed -n 's/^[[:space:]]*\[Name Pointer\/Ordinal\] Table[[:space:]]*\([0-9a-fA-F]*\)$/\1/p' <<<"$dump" | head -1)
  if [[ $((16#${n_addr:-0})) -ne 13 || $((16#${n_names:-0})) -ne 13 ]]; then
    echo "windows-build: export table has ${n_addr:-?} entries / ${n_names:-?} names (hex), expected 13 / 13" >&2
    f=1
  fi
  modname=$(sed -n 's/^Name[[:space:]]*[0-9a-fA-F]*[[:space:]]\(.*\)$/\1/p' <<<"$dump" | head -1)
  [[ $modname == websocket.dll ]] || { echo "windows-build: export directory names the module '$modname'" >&2; f=1; }
  if grep -qi 'Forwarder RVA' <<<"$dump"; then echo "windows-build: forwarded exports" >&2; f=1; fi

  # --- imports -------------------------------------------------------------------------------
  imports=$(sed -n 's/^[[:space:]]*DLL Name: //p' <<<"$dump")
  [[ -n $imports ]] || { echo "windows-build: no import table found" >&2; f=1; }
  for dll in $imports; do
    lower=$(tr 'A-Z' 'a-z' <<<"$dll")
    if ! [[ $lower =~ $allowed ]]; then
      echo "windows-build: $TARGET imports $dll, which a Windows machine does not have" >&2
      f=1
    fi
  done

  # --- version resource ----------------------------------------------------------------------
  if ! vinfo=$(python3 tests/windows/versioninfo.py "$DLL" --expect-version "$VERSION" \
      --expect OriginalFilename=websocket.dll --expect ProductName=websocket 2>&1); then
    echo "windows-build: $TARGET VERSIONINFO resource wrong:" >&2
    sed 's/^/  /' <<<"$vinfo" >&2
    f=1
  fi

  echo "windows-build: $TARGET exports ($(wc -l <<<"$exports")): $(tr '\n' ' ' <<<"$exports")"
  echo "windows-build: $TARGET imports: $(tr '\n' ' ' <<<"$imports")"
  echo "windows-build: $TARGET version: $(grep -E '^string: (FileVersion|OriginalFilename|FileDescription)' <<<"$vinfo" | sed 's/^string: //' | paste -sd ';' | sed 's/;/; /g')"
  echo "windows-build: $TARGET size $(stat -c %s "$DLL") bytes, sha256 $(sha256sum "$DLL" | cut -c1-64)"

  if [[ $reproducible -eq 1 ]]; then
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/websocket-repro.XXXXXX")
    cargo_windows "$TARGET" "$scratch" >/dev/null 2>&1 || { echo "windows-build: second $TARGET build failed" >&2; f=1; }
    if cmp -s "$DLL" "$scratch/$TARGET/release/websocket.dll"; then
      echo "windows-build: $TARGET reproducible: a second build from scratch gave identical bytes"
    else
      echo "windows-build: $TARGET NOT reproducible: $DLL and $scratch/$TARGET/release/websocket.dll differ" >&2
      f=1
    fi
    rm -rf "$scratch"
  fi
  if [[ $f -ne 0 ]]; then
    echo "windows-build: FAILED checks for $DLL" >&2
    fail=1
  fi
  paths+=("$ROOT/$DLL")
done
[[ $fail -eq 0 ]] || exit 1
printf '%s\n' "${paths[@]}"
