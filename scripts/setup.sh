#!/usr/bin/env bash
# Installs everything the build, the demo and the test suite need on a fresh Debian machine.
# Idempotent: each step checks first.
# Usage: scripts/setup.sh [demo|base|windows|release|peers|browser|miri|bench|all]...
#   demo     what scripts/demo.sh needs: a C compiler and make (Rust itself comes from rustup)
#   windows  Debian's Rust 1.63 with the Windows standard library for x86_64 and i686 (the i686
#            one is the i386 package: multiarch i386 is enabled first), mingw-w64 for both
#            architectures (gcc, windres, dlltool), Wine with its 64- and 32-bit halves
#   release  what scripts/release.sh and tests/ship need: zip/unzip, llvm-dlltool (MSVC import
#            libraries), pkg-config
#   miri     the nightly toolchain's Miri, rust-src and the i686 Linux target, gcc-multilib
#            (scripts/miri.sh)
# Peers go under .deps/ in the repository (ignored by git); system packages through apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEPS=$ROOT/.deps
groups=("${@:-all}")

want() { for g in "${groups[@]}"; do [[ $g == all || $g == "$1" ]] && return 0; done; return 1; }

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if [[ $apt_updated -eq 0 ]]; then $sudo apt-get update -q >/dev/null; apt_updated=1; fi
  echo "setup: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

if want demo; then
  apt_install gcc libc6-dev make
  command -v cargo >/dev/null || { echo "setup: cargo (rustup) is required" >&2; exit 1; }
fi

if want base; then
  apt_install gcc g++ make valgrind clang libclang-rt-14-dev python3 python3-venv binutils pkg-config
  command -v cargo >/dev/null || { echo "setup: cargo (rustup) is required" >&2; exit 1; }
fi

if want windows; then
  # 32-bit packages (the i686 Windows std, wine32) come from the i386 architecture.
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    echo "setup: dpkg --add-architecture i386"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo dpkg --add-architecture i386
    apt_updated=0
  fi
  # Debian's rustc 1.63 + the Windows std (the only Rust here that targets Windows), mingw, Wine.
  apt_install rustc cargo libstd-rust-dev-windows:amd64 libstd-rust-dev-windows:i386 \
    gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 gcc-mingw-w64-i686 binutils-mingw-w64-x86-64 \
    binutils-mingw-w64-i686 \
    wine wine64 wine32:i386 python3
fi

if want release; then
  apt_install zip unzip llvm pkg-config
fi

if want peers; then
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  apt_install python3-venv
  if [[ ! -x $DEPS/venv/bin/python ]] || ! "$DEPS/venv/bin/python" -c 'import websockets' 2>/dev/null; then
    echo "setup: python venv with websockets"
    python3 -m venv "$DEPS/venv"
    "$DEPS/venv/bin/pip" install -q --disable-pip-version-check 'websockets>=12,<16'
  fi
  if [[ ! -d $DEPS/node/node_modules/ws ]]; then
    echo "setup: npm ws"
    mkdir -p "$DEPS/node"
    (cd "$DEPS/node" && [[ -f package.json ]] || echo '{"private":true}' > package.json)
    (cd "$DEPS/node" && npm install --silent --no-audit --no-fund ws@8 >/dev/null)
  fi
fi

if want browser; then
  apt_install chromium fonts-dejavu-core
  if [[ ! -d $DEPS/node/node_modules/playwright-core ]]; then
    echo "setup: npm playwright-core"
    mkdir -p "$DEPS/node"
    (cd "$DEPS/node" && [[ -f package.json ]] || echo '{"private":true}' > package.json)
    (cd "$DEPS/node" && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)
  fi
fi

if want miri; then
  # Miri runs on the nightly toolchain (scripts/miri.sh), with the i686 target for the 32-bit
  # handle-table tests. Building the crate for i686 Linux compiles the bundled zlib (libz-sys)
  # with gcc -m32, which needs the 32-bit C headers and libraries (gcc-multilib).
  apt_install gcc-multilib
  command -v rustup >/dev/null || { echo "setup: rustup is required for Miri" >&2; exit 1; }
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  installed=$(rustup component list --installed --toolchain nightly)
  grep -q '^miri' <<<"$installed" && grep -q '^rust-src' <<<"$installed" ||
    rustup component add miri rust-src --toolchain nightly
  rustup target list --installed --toolchain nightly | grep -q '^i686-unknown-linux-gnu$' ||
    rustup target add i686-unknown-linux-gnu --toolchain nightly
fi

if want bench; then
  apt_install libwslay-dev pkg-config
fi
echo "setup: done (${groups[*]})"
