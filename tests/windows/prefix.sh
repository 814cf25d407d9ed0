# Sourced by tests/windows/run.sh (uses its case_run, build_prog, DLLS, OUT, VERSION): installs
# the DLLs into fresh Wine prefixes with scripts/install.sh --wine, as a user would, and checks
# what programs of that prefix get.
#
# WoW64 prefix (64-bit, with syswow64):
#   before     "websocket.dll" is Wine's builtin, in system32 (64-bit) and syswow64 (32-bit)
#   install    system32 holds the x86_64 DLL, syswow64 the i686 DLL (byte-equal to the build),
#              HKCU\Software\Wine\DllOverrides websocket = native; a second run changes nothing
#   programs   a 64-bit and a 32-bit program with no DLL beside them (linked through mingw's
#              import library, and by LoadLibraryA) load ours from the prefix's system
#              directory (ours.h with WS_EXPECTED_DLL) and run the client-server exchange of
#              exchange.c; version.exe reads the VERSIONINFO with GetFileVersionInfoA and finds
#              the FileDescription of its own architecture's build
#   uninstall  Wine's files are back byte for byte, the override is gone, the builtin loads
#              again; a second uninstall changes nothing
# 32-bit prefix (WINEARCH=win32, no syswow64): the i686 DLL goes into system32 and a 32-bit
# program uses it; uninstall brings the builtin back.

# prefix_run PREFIX EXPECTED-DLL DIR EXE ARGS...: runs a program of the prefix with the
# registry's load order for websocket.dll (no WINEDLLOVERRIDES entry for it); ours.h requires
# the DLL to be loaded from EXPECTED-DLL ("-": no requirement).
prefix_run() {
  local prefix=$1 expected=$2 dir=$3 exe=$4; shift 4
  [[ $expected == - ]] && expected=""
  (cd "$dir" && unset WINEARCH && WINEPREFIX=$prefix WS_EXPECTED_DLL=$expected \
    WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d" timeout -k 5 "$TIMEOUT" wine "$exe" "$@")
}

# prefix_override PREFIX: the websocket DllOverrides value, or nothing.
prefix_override() {
  { WINEPREFIX=$1 env -u WINEARCH wine reg query 'HKCU\Software\Wine\DllOverrides' /v websocket 2>/dev/null || true; } |
    tr -d '\r' | sed -n 's/^[[:space:]]*websocket[[:space:]]\{1,\}REG_SZ[[:space:]]\{1,\}\(.*\)$/\1/p'
}

# check_installed PREFIX ARCH:DIR...: our DLLs in place, override native.
check_installed() {
  local prefix=$1; shift
  local ok=0 pair arch dir
  for pair in "$@"; do
    arch=${pair%%:*} dir=$prefix/drive_c/windows/${pair#*:}
    if cmp -s "${DLLS[$arch]}" "$dir/websocket.dll"; then
      echo "$dir/websocket.dll is the $arch build"
    else
      echo "$dir/websocket.dll is not the $arch build"; ok=1
    fi
  done
  local o
  o=$(prefix_override "$prefix")
  echo "DllOverrides websocket = ${o:-(none)}"
  [[ $o == native ]] || ok=1
  return $ok
}

# check_restored PREFIX SUMS-FILE: Wine's files as before install, no override, no state left.
check_restored() {
  local prefix=$1 sums=$2 ok=0
  if (cd "$prefix/drive_c/windows" && sha256sum -c --quiet "$sums"); then
    echo "Wine's websocket.dll files are back byte for byte"
  else
    ok=1
  fi
  local o
  o=$(prefix_override "$prefix")
  echo "DllOverrides websocket = ${o:-(none)}"
  [[ -z $o ]] || ok=1
  [[ ! -e $prefix/websocket-install ]] || { echo "websocket-install/ left behind"; ok=1; }
  return $ok
}

# install_check PREFIX ARCH:DIR...: scripts/install.sh --wine, then check_installed.
install_check() {
  scripts/install.sh --wine "$1" --no-build && check_installed "$@"
}

# install_again_check PREFIX SUMS ARCH:DIR...: a second install changes nothing.
install_again_check() {
  local prefix=$1 sums=$2; shift 2
  local before after
  before=$(cd "$prefix" && find websocket-install -type f -exec sha256sum {} + | sort)
  install_check "$prefix" "$@" || return 1
  after=$(cd "$prefix" && find websocket-install -type f -exec sha256sum {} + | sort)
  [[ $before == "$after" ]] || { echo "the saved Wine files changed on the second run"; return 1; }
  echo "saved Wine files unchanged: $(cd "$prefix/websocket-install" && ls | tr '\n' ' ')"
}

# uninstall_check PREFIX SUMS: scripts/install.sh --wine --uninstall, then check_restored.
uninstall_check() {
  scripts/install.sh --wine "$1" --uninstall && check_restored "$1" "$2"
}

prefix_suite() {
  local base p64 p32 dir arch
  base=$(dirname "$WINEPREFIX")
  p64=$base/install-wow64
  p32=$base/install-win32
  dir=$OUT/prefix
  rm -rf "$dir"
  # Programs with no websocket.dll beside them.
  for arch in x86_64 i686; do
    mkdir -p "$dir/$arch" "$OUT/$arch/bin"
    if ! { build_prog "$arch" prefix-exchange implib "$ROOT/tests/windows/exchange.c" &&
      build_prog "$arch" prefix-exchange-dyn loader "$ROOT/tests/windows/exchange.c" &&
      build_prog "$arch" prefix-version implib "$ROOT/tests/windows/version.c" &&
      build_prog "$arch" prefix-builtin loader "$ROOT/tests/windows/builtin.c"; } >"$LOGS/build_prefix_$arch.log" 2>&1; then
      failed=$((failed + 1)); failures+=("prefix/build-$arch")
      echo "FAIL  prefix/build-$arch: log ${LOGS#$ROOT/}/build_prefix_$arch.log"
      return 0
    fi
    mv "$OUT/$arch/bin"/prefix-*.exe "$dir/$arch/"
  done

  # --- WoW64 prefix ---------------------------------------------------------------------------
  case_run prefix/wow64/create wine_make_prefix "$p64" win64 || return 0
  WINEPREFIX=$p64 wineserver -p 2>/dev/null
  # A 32-bit process of a WoW64 prefix sees syswow64 as C:\windows\system32 (file system
  # redirection, as on Windows), so both architectures report that path; that the module is
  # ours (ours.h) and 32-bit (it loaded into a 32-bit process) proves it is the syswow64 file.
  local sys32='C:\windows\system32\websocket.dll'
  case_run prefix/wow64/x86_64-builtin-before prefix_run "$p64" - "$dir/x86_64" prefix-builtin.exe "$sys32"
  case_run prefix/wow64/i686-builtin-before prefix_run "$p64" - "$dir/i686" prefix-builtin.exe "$sys32"
  (cd "$p64/drive_c/windows" && sha256sum system32/websocket.dll syswow64/websocket.dll) >"$dir/wine-wow64.sha256"

  case_run prefix/wow64/install install_check "$p64" x86_64:system32 i686:syswow64
  case_run prefix/wow64/install-again install_again_check "$p64" "$dir/wine-wow64.sha256" x86_64:system32 i686:syswow64
  case_run prefix/wow64/x86_64-exchange prefix_run "$p64" "$sys32" "$dir/x86_64" prefix-exchange.exe
  case_run prefix/wow64/x86_64-exchange-dyn prefix_run "$p64" "$sys32" "$dir/x86_64" prefix-exchange-dyn.exe
  case_run prefix/wow64/x86_64-version prefix_run "$p64" "$sys32" "$dir/x86_64" prefix-version.exe "$VERSION"
  case_run prefix/wow64/i686-exchange prefix_run "$p64" "$sys32" "$dir/i686" prefix-exchange.exe
  case_run prefix/wow64/i686-exchange-dyn prefix_run "$p64" "$sys32" "$dir/i686" prefix-exchange-dyn.exe
  case_run prefix/wow64/i686-version prefix_run "$p64" "$sys32" "$dir/i686" prefix-version.exe "$VERSION"

  case_run prefix/wow64/uninstall uninstall_check "$p64" "$dir/wine-wow64.sha256"
  case_run prefix/wow64/x86_64-builtin-after prefix_run "$p64" - "$dir/x86_64" prefix-builtin.exe "$sys32"
  case_run prefix/wow64/i686-builtin-after prefix_run "$p64" - "$dir/i686" prefix-builtin.exe "$sys32"
  case_run prefix/wow64/uninstall-again uninstall_check "$p64" "$dir/wine-wow64.sha256"
  WINEPREFIX=$p64 wineserver -k 2>/dev/null

  # --- 32-bit prefix --------------------------------------------------------------------------
  if case_run prefix/win32/create wine_make_prefix "$p32" win32; then
    WINEPREFIX=$p32 wineserver -p 2>/dev/null
    (cd "$p32/drive_c/windows" && sha256sum system32/websocket.dll) >"$dir/wine-win32.sha256"
    case_run prefix/win32/install install_check "$p32" i686:system32
    case_run prefix/win32/i686-exchange prefix_run "$p32" "$sys32" "$dir/i686" prefix-exchange.exe
    case_run prefix/win32/i686-version prefix_run "$p32" "$sys32" "$dir/i686" prefix-version.exe "$VERSION"
    case_run prefix/win32/uninstall uninstall_check "$p32" "$dir/wine-win32.sha256"
    case_run prefix/win32/i686-builtin-after prefix_run "$p32" - "$dir/i686" prefix-builtin.exe "$sys32"
    WINEPREFIX=$p32 wineserver -k 2>/dev/null
  fi
  # The prefixes are about 1.2 GB together: do not keep them.
  rm -rf "$p64" "$p32"
}
