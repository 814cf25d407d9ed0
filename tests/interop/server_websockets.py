"""Our echo server (C or Python ctypes) against the Python `websockets` client.

    server_websockets.py LABEL ws://127.0.0.1:PORT/ [--quick]

Cases: text and binary messages of 0 B .. 16 MiB, multi-byte UTF-8, fragmented messages sent by
the peer, ping/pong (also during a large transfer), pipelined messages, close with every valid
status the peer allows (status and reason echoed), an empty close (1005), and 50 concurrent
clients x 20 messages. --quick skips the 16 MiB sizes and uses fewer clients.
"""

import asyncio
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Report  # noqa: E402

from websockets.asyncio.client import connect  # noqa: E402

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20]
CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999]
TIMEOUT = 120


def text_of(n, seed=0):
    """n bytes of ASCII text."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    rnd = random.Random(n * 31 + seed)
    chunk = "".join(rnd.choice(alphabet) for _ in range(min(n, 4096)))
    return (chunk * (n // max(1, len(chunk)) + 1))[:n]


def open_ws(url):
    return connect(url, max_size=None, ping_interval=None, close_timeout=10, open_timeout=10)


class Driver:
    def __init__(self, label, url, quick):
        self.r = Report("websockets->%s" % label)
        self.url = url
        self.quick = quick

    async def case(self, name, coro_fn, *args):
        try:
            await asyncio.wait_for(coro_fn(*args), TIMEOUT)
        except AssertionError as e:
            self.r.fail(name, e or "assertion failed")
        except Exception as e:  # noqa: BLE001
            self.r.fail(name, "%s: %s" % (type(e).__name__, e))
        else:
            self.r.ok(name)

    async def echo_sizes(self, binary, sizes):
        async with open_ws(self.url) as ws:
            for n in sizes:
                msg = os.urandom(n) if binary else text_of(n)
                await ws.send(msg)
                got = await ws.recv()
                assert type(got) is type(msg), "size %d: got %s back" % (n, type(got).__name__)
                assert got == msg, "size %d: echo differs (%d bytes back)" % (n, len(got))
            await ws.close()

    async def echo_one(self, msg):
        async with open_ws(self.url) as ws:
            await ws.send(msg)
            got = await ws.recv()
            assert got == msg, "echo differs: %d vs %d" % (len(got), len(msg))

    async def fragmented(self, pieces):
        async with open_ws(self.url) as ws:
            await ws.send(iter(pieces))
            got = await ws.recv()
            whole = "".join(pieces) if isinstance(pieces[0], str) else b"".join(pieces)
            assert got == whole, "reassembled echo differs: %d vs %d" % (len(got), len(whole))
            # the connection goes on normally after a fragmented message
            await ws.send("after")
            assert await ws.recv() == "after"

    async def ping(self, payloads):
        async with open_ws(self.url) as ws:
            for p in payloads:
                waiter = await ws.ping(p)
                latency = await asyncio.wait_for(waiter, 30)
                assert latency >= 0
            await ws.send("still open")
            assert await ws.recv() == "still open"

    async def ping_during_transfer(self):
        async with open_ws(self.url) as ws:
            big = os.urandom(4 << 20)
            send = asyncio.ensure_future(ws.send(big))
            waiters = [await ws.ping(b"p%d" % i) for i in range(5)]
            await send
            got = await ws.recv()
            assert got == big, "large echo differs"
            for w in waiters:
                await asyncio.wait_for(w, 30)

    async def pipelined(self):
        async with open_ws(self.url) as ws:
            msgs = [text_of(i * 37, seed=i) if i % 2 else os.urandom(i * 53) for i in range(200)]
            for m in msgs:
                await ws.send(m)
            for i, m in enumerate(msgs):
                got = await ws.recv()
                assert got == m, "message %d out of order or changed" % i

    async def close_code(self, code, reason):
        async with open_ws(self.url) as ws:
            await ws.send("before close %d" % code)
            assert await ws.recv() == "before close %d" % code
            await ws.close(code, reason)
            rcvd = ws.protocol.close_rcvd
            assert rcvd is not None, "no close frame came back"
            assert rcvd.code == code, "close code %d came back as %d" % (code, rcvd.code)
            assert rcvd.reason == reason, "reason %r came back as %r" % (reason, rcvd.reason)
            assert not ws.protocol.close_rcvd_then_sent, "the server closed first"
            await ws.wait_closed()

    async def close_empty(self):
        async with open_ws(self.url) as ws:
            await ws.close(code=None)  # a close frame without payload
            rcvd = ws.protocol.close_rcvd
            assert rcvd is not None, "no close frame came back"
            assert rcvd.code == 1005, "empty close came back as %d" % rcvd.code

    async def concurrent(self, clients, messages):
        async def one(i):
            rnd = random.Random(i)
            async with open_ws(self.url) as ws:
                for j in range(messages):
                    n = rnd.choice([0, 1, 125, 126, 1000, 20000, 70000])
                    msg = os.urandom(n) if rnd.random() < 0.5 else text_of(n, seed=i * 1000 + j)
                    await ws.send(msg)
                    got = await ws.recv()
                    assert got == msg, "client %d message %d differs" % (i, j)
                await ws.close(1000, "client %d done" % i)
                assert ws.protocol.close_rcvd.code == 1000
                assert ws.protocol.close_rcvd.reason == "client %d done" % i
            return True

        results = await asyncio.gather(*(one(i) for i in range(clients)), return_exceptions=True)
        bad = [r for r in results if r is not True]
        assert not bad, "%d of %d clients failed, first: %r" % (len(bad), clients, bad[0])

    async def run(self):
        sizes = [s for s in SIZES if not (self.quick and s > (1 << 20))]
        await self.case("text sizes %s" % sizes, self.echo_sizes, False, sizes)
        await self.case("binary sizes %s" % sizes, self.echo_sizes, True, sizes)
        await self.case("multi-byte UTF-8 text (300 KB)", self.echo_one, "aé€😀" * 30000)
        await self.case("fragmented text", self.fragmented, ["hé", "llo", "", " wor", "ld 😀"])
        await self.case("fragmented binary, 100 pieces", self.fragmented, [os.urandom(i * 10) for i in range(100)])
        await self.case("fragmented binary, 4 x 1 MiB", self.fragmented, [os.urandom(1 << 20) for _ in range(4)])
        await self.case("ping/pong (empty, 3 B, 125 B)", self.ping, [b"", b"abc", b"x" * 125])
        await self.case("ping during a 4 MiB transfer", self.ping_during_transfer)
        await self.case("200 pipelined messages", self.pipelined)
        for code in CLOSE_CODES:
            await self.case("close %d echoed" % code, self.close_code, code, "reason %d ✓" % code)
        await self.case("close with empty reason", self.close_code, 1000, "")
        await self.case("close with 123-byte reason", self.close_code, 4000, "r" * 123)
        await self.case("close without status (1005)", self.close_empty)
        clients, messages = (10, 10) if self.quick else (50, 20)
        await self.case("%d concurrent clients x %d messages" % (clients, messages), self.concurrent, clients, messages)


def main():
    label, url = sys.argv[1], sys.argv[2]
    d = Driver(label, url, "--quick" in sys.argv[3:])
    asyncio.run(d.run())
    d.r.exit()


if __name__ == "__main__":
    main()
