"""Peer server for the client tests: Python `websockets` on 127.0.0.1, a free port.

Prints "listening on ws://127.0.0.1:PORT/" once ready. Paths:
  /           echo every message (same type); a close is answered by websockets itself
              (it echoes the close payload).
  /drive      the server drives a client in --echo mode: sends a set of messages (text, binary,
              large, fragmented) and a ping, checks every echo, then closes with 4000 "done"
              (4001 "mismatch: ..." when an echo differs).
  /close-now  closes at once with 4002 "bye".
  /ping-each  echo every message and send a ping after each (the client writes pongs from its
              receiving thread while its main thread sends).
"""

import asyncio
import os
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def drive_messages():
    return [
        "hello",
        "",
        "wörld ✓ 😀",
        os.urandom(1),
        os.urandom(70000),
        "x" * (1 << 20),
        bytes(range(256)) * 1024,
        ["frag", "mented ", "téxt"],
        [b"\x00\x01", b"", b"\x02" * 5000],
    ]


async def handler(ws):
    path = ws.request.path
    try:
        if path == "/close-now":
            await ws.close(4002, "bye")
            return
        if path == "/drive":
            for m in drive_messages():
                if isinstance(m, list):
                    await ws.send(iter(m))
                    expected = "".join(m) if isinstance(m[0], str) else b"".join(m)
                else:
                    await ws.send(m)
                    expected = m
                got = await asyncio.wait_for(ws.recv(), 30)
                if got != expected:
                    await ws.close(4001, "mismatch: %d vs %d" % (len(got), len(expected)))
                    return
                pong = await ws.ping(b"drive")
                await asyncio.wait_for(pong, 30)
            await ws.close(4000, "done")
            return
        ping_each = path == "/ping-each"
        async for message in ws:
            await ws.send(message)
            if ping_each:
                await ws.ping(b"%d" % len(message))
    except ConnectionClosed:
        pass


async def main():
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print("listening on ws://127.0.0.1:%d/" % port, flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
