#!/usr/bin/env bash
# Static proof for 32-bit Windows (i686, stdcall), where the callee pops its arguments and a
# wrong prototype corrupts the caller's stack. Nothing is run here (tests/windows/run.sh runs the
# i686 programs under Wine against the i686 DLL); this compares what the header makes a compiler
# emit with ground truth:
#
#  1. Ground truth: mingw-w64's import library /usr/i686-w64-mingw32/lib/libwebsocket.a,
#     generated from the real DLL's exports. Each member defines _Name@N (N = bytes of
#     arguments the real function pops) and imports the undecorated Name from websocket.dll.
#  2. Our header: a C file that calls all 13 functions declared by include/websocket.h is
#     compiled for i686 (no link); the undefined symbols of the object carry the @N the header
#     implies. Both sets must be identical, and N must match the spec's table (§1.1).
#  3. The i686 layouts the header gives (tests/windows/layout.c static assertions: 12/16/12
#     bytes), and the test programs of tests/windows link against the import library.
#
# Usage: scripts/windows-i686-check.sh      Needs: gcc-mingw-w64-i686 (scripts/setup.sh windows).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
IMPLIB=/usr/i686-w64-mingw32/lib/libwebsocket.a
CC=i686-w64-mingw32-gcc
NM=i686-w64-mingw32-nm
OBJDUMP=i686-w64-mingw32-objdump
for t in $CC $NM $OBJDUMP; do
  command -v $t >/dev/null || { echo "i686-check: $t missing (scripts/setup.sh windows)" >&2; exit 1; }
done
[[ -f $IMPLIB ]] || { echo "i686-check: $IMPLIB missing" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/websocket-i686.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail=0

# Hex bytes to text, up to the first NUL.
hex2str() {
  local h=$1 out="" i b
  for ((i = 0; i < ${#h}; i += 2)); do
    b=${h:i:2}
    [[ $b == 00 ]] && break
    out+=$(printf "\\x$b")
  done
  printf '%s' "$out"
}

# --- 1. the import library -------------------------------------------------------------------
# Decorated stdcall names defined by the import library: "_WebSocketSend@16" -> "WebSocketSend 16".
$NM "$IMPLIB" | sed -n 's/^[0-9a-f]* T _\(WebSocket[A-Za-z]*\)@\([0-9]*\)$/\1 \2/p' | sort >"$work/implib.txt"
# Names the import library asks the DLL for (hint/name entries, .idata$6, read from the hex
# because the dump splits long names over lines), and the DLL name (.idata$7 of the tail).
$OBJDUMP -s -j '.idata$6' "$IMPLIB" | awk '
  /^Contents of section/ { if (hex != "") print hex; hex = ""; next }
  /^ [0-9a-f][0-9a-f][0-9a-f][0-9a-f] / { for (i = 2; i <= 5; i++) if ($i ~ /^[0-9a-f]+$/) hex = hex $i }
  END { if (hex != "") print hex }' | while read -r hex; do
    name=$(hex2str "${hex:4}") # after the 2-byte hint
    [[ -n $name ]] && echo "$name"
  done | sort >"$work/names.txt"
dllname=$($OBJDUMP -s -j '.idata$7' "$IMPLIB" | awk '/^ 0000 / { for (i = 2; i <= 5; i++) if ($i ~ /^[0-9a-f]+$/) h = h $i; print h; h = "" }' |
  while read -r hex; do hex2str "$hex"; echo; done | grep -i '\.dll$' | sort -u)

# --- 2. our header ---------------------------------------------------------------------------
cat >"$work/refs.c" <<'EOF'
#include "websocket.h"
/* References every function (by address, so the parameter lists do not matter here): the
 * compiler emits each one's stdcall decoration from the header's prototype. */
typedef void (*any_fn)(void);
any_fn const refs[] = {
  (any_fn)WebSocketAbortHandle,        (any_fn)WebSocketBeginClientHandshake,
  (any_fn)WebSocketBeginServerHandshake, (any_fn)WebSocketCompleteAction,
  (any_fn)WebSocketCreateClientHandle, (any_fn)WebSocketCreateServerHandle,
  (any_fn)WebSocketDeleteHandle,       (any_fn)WebSocketEndClientHandshake,
  (any_fn)WebSocketEndServerHandshake, (any_fn)WebSocketGetAction,
  (any_fn)WebSocketGetGlobalProperty,  (any_fn)WebSocketReceive,
  (any_fn)WebSocketSend,
};
EOF
$CC -std=c11 -Wall -Wextra -Werror -Wno-cast-function-type -I"$ROOT/include" -c -o "$work/refs.o" "$work/refs.c"
$NM "$work/refs.o" | sed -n 's/^ *U _\(WebSocket[A-Za-z]*\)@\([0-9]*\)$/\1 \2/p' | sort >"$work/header.txt"
# Symbols without a decoration would mean the header lost WINAPI (cdecl: the caller pops).
if $NM "$work/refs.o" | grep -E '^ *U _WebSocket[A-Za-z]*$' >&2; then
  echo "i686-check: the header declares functions without __stdcall" >&2; fail=1
fi

# The spec's table (§1.1, x86 stack bytes).
sort >"$work/spec.txt" <<'EOF'
WebSocketAbortHandle 4
WebSocketBeginClientHandshake 36
WebSocketBeginServerHandshake 32
WebSocketCompleteAction 12
WebSocketCreateClientHandle 12
WebSocketCreateServerHandle 12
WebSocketDeleteHandle 4
WebSocketEndClientHandshake 24
WebSocketEndServerHandshake 4
WebSocketGetAction 32
WebSocketGetGlobalProperty 12
WebSocketReceive 12
WebSocketSend 16
EOF

printf '%-32s %8s %8s %6s\n' function implib header spec
join -a1 -a2 -e - -o 0,1.2,2.2 "$work/implib.txt" "$work/header.txt" | join -a1 -a2 -e - -o 0,1.2,1.3,2.2 - "$work/spec.txt" |
  while read -r name lib hdr spec; do
    mark=""
    [[ $lib == "$hdr" && $hdr == "$spec" ]] || mark="  <-- MISMATCH"
    printf '%-32s %8s %8s %6s%s\n' "$name" "@$lib" "@$hdr" "$spec" "$mark"
  done
if ! cmp -s "$work/implib.txt" "$work/header.txt"; then
  echo "i686-check: the header's stdcall argument sizes differ from the real DLL's import library" >&2; fail=1
fi
if ! cmp -s "$work/implib.txt" "$work/spec.txt"; then
  echo "i686-check: the import library differs from the spec's table" >&2; fail=1
fi
[[ $(wc -l <"$work/implib.txt") -eq 13 ]] || { echo "i686-check: import library has $(wc -l <"$work/implib.txt") functions" >&2; fail=1; }
if ! cmp -s <(cut -d' ' -f1 "$work/implib.txt") "$work/names.txt"; then
  echo "i686-check: the import library does not import the 13 undecorated names:" >&2
  diff <(cut -d' ' -f1 "$work/implib.txt") "$work/names.txt" >&2 || true
  fail=1
fi
[[ $dllname == websocket.dll ]] || { echo "i686-check: import library names DLL '$dllname'" >&2; fail=1; }
echo "i686-check: import library: 13 x _Name@N -> $dllname!Name (undecorated): $(cmp -s <(cut -d' ' -f1 "$work/implib.txt") "$work/names.txt" && echo yes || echo NO)"

# --- 3. layouts and linking ------------------------------------------------------------------
if $CC -std=gnu11 -Wall -Wextra -Werror -I"$ROOT/include" -I"$ROOT/tests/windows" -c \
    -o "$work/layout.o" "$ROOT/tests/windows/layout.c" 2>"$work/layout.log"; then
  echo "i686-check: i686 layouts of the header match spec §2 (12/16/12 bytes; tests/windows/layout.c)"
else
  echo "i686-check: tests/windows/layout.c does not compile for i686:" >&2
  grep -E 'error' "$work/layout.log" | head -5 >&2
  fail=1
fi
linked=0
for src in "$ROOT"/tests/windows/{layout,handshake,exchange,misuse,threads,global}.c; do
  [[ -f $src ]] || continue
  for mode in implib loader; do
    defs=(); libs=(-lwebsocket)
    [[ $mode == loader ]] && { defs=(-DWS_USE_LOADER); libs=(); }
    if $CC -std=gnu11 -O0 -Wall -Wextra -Werror "${defs[@]}" -I"$ROOT/include" -I"$ROOT/tests/windows" \
        -o "$work/t.exe" "$src" "${libs[@]}" >"$work/cc.log" 2>&1; then
      linked=$((linked + 1))
    else
      echo "i686-check: $(basename "$src") ($mode) does not build for i686:" >&2
      grep -E 'error' "$work/cc.log" | head -3 >&2
      fail=1
    fi
  done
done
echo "i686-check: $linked i686 test executables built (linked against mingw's i686 import library or bound at run time; tests/windows/run.sh runs them)"

if [[ $fail -ne 0 ]]; then
  echo "i686-check: FAILED" >&2
  exit 1
fi
echo "i686-check: ok (stdcall argument sizes of all 13 functions agree: header = real DLL = spec)"
