#!/usr/bin/env python3
"""Linux-side peers of the Windows end-to-end cases of tests/windows/run.sh (Python `websockets`).

    e2e.py client URL [--clients N]
        Talks to the echo server under test (examples/echo_server.exe under Wine): text (ASCII
        and multi-byte UTF-8), binary of many sizes up to 1 MiB, a ping, then close 1000 "bye",
        which the server must answer with the same status and reason. With --clients N, N
        connections do this at once. Exit status 0 when every exchange matched.

    e2e.py server
        An echo server on 127.0.0.1 (free port) for examples/client.exe: echoes every message
        with its type; prints "listening on ws://127.0.0.1:PORT/" when ready; runs until killed.
"""

import argparse
import os
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import serve

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 100000, 1 << 20]
TEXTS = ["hello", "", "h\u00e9llo w\u00f6rld \u20ac \U0001d11e", "x" * 70000]


def exchange(url, index, errors):
    def fail(what):
        errors.append(f"client {index}: {what}")

    try:
        with connect(url, max_size=None, open_timeout=20, close_timeout=20) as ws:
            for t in TEXTS:
                ws.send(t)
                got = ws.recv(timeout=20)
                if got != t:
                    fail(f"text of {len(t)} chars came back as {type(got).__name__} of {len(got)}")
            for n in SIZES:
                data = os.urandom(n)
                ws.send(data)
                got = ws.recv(timeout=20)
                if got != data:
                    fail(f"binary of {n} bytes came back as {type(got).__name__} of {len(got)}")
            # fragmented message: sent as three frames, echoed whole
            ws.send(iter([b"frag", b"men", b"ted"]))
            if ws.recv(timeout=20) != b"fragmented":
                fail("fragmented binary message")
            pong = ws.ping(b"are you there")
            if not pong.wait(20):
                fail("no pong")
            ws.close(1000, "bye")
            # the close frame the server answered with
            if ws.close_code != 1000 or ws.close_reason != "bye":
                fail(f"close answered with {ws.close_code} {ws.close_reason!r}")
    except Exception as e:  # noqa: BLE001 - report anything
        fail(f"{type(e).__name__}: {e}")


def run_client(args):
    errors = []
    threads = [threading.Thread(target=exchange, args=(args.url, i, errors)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        print(e, file=sys.stderr)
    n = len(TEXTS) + len(SIZES) + 1
    print(f"e2e client: {args.clients} connection(s) x {n} messages + ping + close: "
          f"{'ok' if not errors else f'{len(errors)} error(s)'}")
    return 1 if errors else 0


def run_server(_args):
    def echo(ws):
        try:
            for message in ws:
                ws.send(message)
        except ConnectionClosed:
            pass  # a close with a status other than 1000/1001 ends the loop this way

    with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.socket.getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}/", flush=True)
        server.serve_forever()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("url")
    c.add_argument("--clients", type=int, default=1)
    sub.add_parser("server")
    args = p.parse_args()
    return run_client(args) if args.cmd == "client" else run_server(args)


if __name__ == "__main__":
    sys.exit(main())
