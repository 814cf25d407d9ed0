"""Start-up, limits and shutdown of an echo server, with the Python `websockets` client.
Starts its own server processes from the command given.

    server_lifecycle.py LABEL LOGFILE -- SERVER-COMMAND...

Cases: the "listening on http://127.0.0.1:PORT/" line; --max-message (a message of exactly the
limit is echoed, one byte more gets close 1009, a 64 MiB one too, before it has all arrived); SIGTERM and SIGINT send close 1001 to open
clients and the process exits with status 0; a busy address is an error.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Report, Server, run_case  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Cases:
    def __init__(self, cmd, log):
        self.cmd = cmd
        self.log = log

    def server(self, *extra):
        return Server(self.cmd + ["--addr", "127.0.0.1:0"] + list(extra), log_path=self.log)

    def listening_line(self):
        with self.server() as s:
            assert s.line == "listening on http://127.0.0.1:%d/" % s.port, s.line

    def max_message(self):
        async def go(url):
            async with connect(url, max_size=None) as ws:
                await ws.send(b"x" * 1000)
                assert await ws.recv() == b"x" * 1000
                await ws.send(iter([b"y" * 600, b"y" * 400]))  # fragmented, exactly the limit
                assert await ws.recv() == b"y" * 1000
                await ws.send("z" * 1001)
                try:
                    got = await ws.recv()
                    raise AssertionError("a message over the limit was echoed (%d bytes)" % len(got))
                except ConnectionClosed:
                    pass
                rcvd = ws.protocol.close_rcvd
                assert rcvd is not None and rcvd.code == 1009, "expected close 1009, got %r" % rcvd
                assert ws.protocol.close_rcvd_then_sent, "the server should have started the close"

        async def huge(url):
            # refused while it is still arriving: the close comes before the message ends
            async with connect(url, max_size=None, close_timeout=30) as ws:
                try:
                    await ws.send(b"h" * (64 << 20))
                    await asyncio.wait_for(ws.recv(), 30)
                except ConnectionClosed:
                    pass
                rcvd = ws.protocol.close_rcvd
                assert rcvd is not None and rcvd.code == 1009, "expected close 1009, got %r" % rcvd

        with self.server("--max-message", "1000") as s:
            run(go(s.url))
            run(huge(s.url))
            run(go(s.url))  # and it goes on serving

    def shutdown(self, sig):
        async def go(s):
            clients = [await connect(s.url) for _ in range(3)]
            for ws in clients:
                await ws.send("hi")
                assert await ws.recv() == "hi"
            s.signal(sig)
            for ws in clients:
                await asyncio.wait_for(ws.wait_closed(), 30)
                rcvd = ws.protocol.close_rcvd
                assert rcvd is not None and rcvd.code == 1001, "expected close 1001, got %r" % rcvd

        with self.server() as s:
            run(go(s))
            code = s.wait(30)
            assert code == 0, "exit status %d after %s" % (code, signal.Signals(sig).name)

    def shutdown_idle(self):
        with self.server() as s:
            s.signal(signal.SIGTERM)
            assert s.wait(30) == 0

    def address_in_use(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            p = subprocess.run(
                self.cmd + ["--addr", "127.0.0.1:%d" % port],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                timeout=30,
            )
            assert p.returncode != 0, "started on a busy port"
            assert b"listening" not in p.stdout
        finally:
            blocker.close()


def main():
    label, log = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    r = Report("lifecycle->%s" % label)
    k = Cases(cmd, log)
    run_case(r, "prints the listening URL", k.listening_line)
    run_case(r, "--max-message 1000: 1000 echoed, 1001 and 64 MiB get close 1009", k.max_message)
    run_case(r, "SIGTERM: close 1001 to clients, exit 0", k.shutdown, signal.SIGTERM)
    run_case(r, "SIGINT: close 1001 to clients, exit 0", k.shutdown, signal.SIGINT)
    run_case(r, "SIGTERM while idle: exit 0", k.shutdown_idle)
    run_case(r, "busy address: error exit", k.address_in_use)
    r.exit()


if __name__ == "__main__":
    main()
