#!/usr/bin/env bash
# The demo: installs what it needs (scripts/setup.sh demo: gcc, make), builds the library
# (release) and the C examples, then runs the echo server in the foreground. Open the printed
# URL in a browser: the page sends what you type over a WebSocket and shows the echo; its Close
# button closes with status 1000 and the reason you typed.
#
#   scripts/demo.sh [--deflate] [HOST:PORT]   (default 127.0.0.1:9001; Ctrl-C stops the server)
#
# The page shows whether its connection is compressed: with --deflate the server negotiates
# permessage-deflate, which browsers offer by default ("compression: permessage-deflate");
# without it, "compression: none".
#
# Other ways to talk to the server while it runs:
#   examples/build/client ws://127.0.0.1:9001/ hello world
#   python3 examples/python/ws_client.py ws://127.0.0.1:9001/ hello
set -euo pipefail
cd "$(dirname "$0")/.."
deflate=()
if [[ ${1:-} == --deflate ]]; then
  deflate=(--deflate)
  shift
fi
addr=${1:-127.0.0.1:9001}

# A C compiler and make (Debian packages, installed when missing); Rust comes from rustup.
scripts/setup.sh demo

cargo build --release
make -C examples

if [[ $addr == *:0 ]]; then
  echo "demo: open the URL printed below in a browser (Ctrl-C to stop)"
else
  echo "demo: open http://$addr/ in a browser (Ctrl-C to stop)"
fi
exec examples/build/echo_server --addr "$addr" --verbose "${deflate[@]}"
