# Sourced by tests/windows/run.sh and scripts/windows-*.sh: the Wine environment of the Windows
# tests. The prefix lives outside the repository (about 700 MB once created) and is reused across
# runs; override with WS_WINEPREFIX. Callers run `wine_stop` when done.
: "${WS_WINEPREFIX:=${TMPDIR:-/tmp}/websocket-wine-$(id -u)/prefix}"
export WINEPREFIX=$WS_WINEPREFIX
export WINEDEBUG=-all
# No Mono/Gecko installers, no crash dialog, and never Wine's builtin websocket.dll (its exports
# are stubs that abort the process): without our DLL next to the exe, loading fails (error 126).
export WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d;websocket=n"
export WINEARCH=win64

# Creates the prefix on first use (about 6 s), then keeps its wineserver running until
# wine_stop, so that each program does not pay for a wineserver start (about 1 s).
wine_init() {
  mkdir -p "$(dirname "$WINEPREFIX")"
  if [[ ! -f $WINEPREFIX/system.reg ]]; then
    echo "wine: creating prefix $WINEPREFIX" >&2
    wineboot -i >/dev/null 2>&1 || true
    wineserver -w
  fi
  wineserver -p 2>/dev/null || true
}

# Stops this prefix's wineserver (and every Wine process of this prefix).
wine_stop() {
  wineserver -k 2>/dev/null || true
}
