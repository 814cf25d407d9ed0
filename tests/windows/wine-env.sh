# Sourced by tests/windows/run.sh and scripts/windows-*.sh: the Wine environment of the Windows
# tests. The prefix lives outside the repository (about 700 MB once created) and is reused across
# runs; override with WS_WINEPREFIX. Callers run `wine_stop` when done.
#
# The prefix is a 64-bit (WoW64) one: 64-bit programs run from system32, 32-bit ones from
# syswow64. A prefix only works with the Wine installation that created it: a win64 prefix made
# before wine32 was installed has no syswow64, and once wine32 is there /usr/bin/wine starts the
# 32-bit loader, which cannot start any program in it ("could not load kernel32.dll"). So the
# prefix records the Wine packages that created it, and wine_init recreates it when they changed.
: "${WS_WINEPREFIX:=${TMPDIR:-/tmp}/websocket-wine-$(id -u)/prefix}"
export WINEPREFIX=$WS_WINEPREFIX
export WINEDEBUG=-all
# No Mono/Gecko installers, no crash dialog, and never Wine's builtin websocket.dll (its exports
# are stubs that abort the process): without our DLL next to the exe, loading fails (error 126).
export WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d;websocket=n"
export WINEARCH=win64

# The Wine installation: its version and the packages (and architectures) that make it up.
wine_installation() {
  wine --version 2>/dev/null || echo "no wine"
  dpkg-query -W -f='${Package}:${Architecture}=${Version} ${Status}\n' 'wine' 'wine32' 'wine64' \
    'wine32:i386' 'libwine' 'libwine:i386' 2>/dev/null | grep ' installed$' | sort -u || true
}

# wine_prefix_ready PREFIX: the prefix exists and was made by the current Wine installation.
wine_prefix_ready() {
  [[ -f $1/system.reg && -f $1/.websocket-wine-installation ]] &&
    [[ $(cat "$1/.websocket-wine-installation") == "$(wine_installation)" ]]
}

# wine_make_prefix PREFIX ARCH: (re)creates a prefix of ARCH (win64 or win32) and records the
# installation in it. About 6-10 s.
wine_make_prefix() {
  local prefix=$1 arch=$2
  rm -rf "$prefix"
  mkdir -p "$(dirname "$prefix")"
  echo "wine: creating $arch prefix $prefix" >&2
  WINEPREFIX=$prefix WINEARCH=$arch wineboot -i >/dev/null 2>&1 || true
  WINEPREFIX=$prefix wineserver -w
  [[ -f $prefix/system.reg ]] || { echo "wine: could not create $prefix" >&2; return 1; }
  wine_installation >"$prefix/.websocket-wine-installation"
}

# Creates the prefix on first use or when the Wine installation changed, then keeps its
# wineserver running until wine_stop, so that each program does not pay for a wineserver start
# (about 1 s).
wine_init() {
  if ! wine_prefix_ready "$WINEPREFIX"; then
    [[ -d $WINEPREFIX ]] && echo "wine: $WINEPREFIX was made by another Wine installation: recreating it" >&2
    wine_make_prefix "$WINEPREFIX" win64
  fi
  wineserver -p 2>/dev/null || true
}

# Stops this prefix's wineserver (and every Wine process of this prefix).
wine_stop() {
  wineserver -k 2>/dev/null || true
}
