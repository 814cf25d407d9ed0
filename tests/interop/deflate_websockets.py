"""permessage-deflate against Python `websockets` (compression on by default) and on the raw wire.

    python deflate_websockets.py server ws://127.0.0.1:PORT/   # our echo server --deflate
    python deflate_websockets.py client PATH/TO/client          # our C client --deflate

server: a websockets client negotiates permessage-deflate with the echo server (the response
header is asserted), echoes text/binary/JSON-like messages of 0 B .. 4 MiB, fragmented messages,
then a raw socket sends a compressed frame (RSV1) and checks the echo has RSV1 and inflates.
client: a websockets server (compression on) answers our client with --deflate; the client
reports the negotiation, every message comes back, and the server saw RSV1 frames.
Prints PASS/FAIL lines; exit status 1 on any failure.
"""
import asyncio
import base64
import hashlib
import os
import socket
import struct
import subprocess
import sys
import zlib

import websockets
import websockets.extensions.permessage_deflate
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

failed = 0


def report(ok, name, detail=""):
    global failed
    print(("PASS " if ok else "FAIL ") + name + ((": " + detail) if detail and not ok else ""), flush=True)
    if not ok:
        failed += 1


def json_like(n, seed=0):
    parts = []
    i, size = seed, 0
    while size < n:
        part = '{"id":%d,"name":"user%d","tags":["a","b","ü"],"score":%d.5},' % (i, i % 97, i % 1000)
        parts.append(part)
        size += len(part.encode())
        i += 1
    return "".join(parts).encode()[:n].decode("utf-8", "ignore")


async def server_case(ws_url):
    async with connect(ws_url, max_size=None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        report(ext is not None and ext.startswith("permessage-deflate"), "websockets->c: negotiated", repr(ext))
        for n in [0, 1, 125, 4096, 65536, 1 << 20, 4 << 20]:
            for binary in (False, True):
                msg = json_like(n, n)
                if binary:
                    msg = msg.encode()
                await ws.send(msg)
                back = await ws.recv()
                report(back == msg, "websockets->c: echo %s %d" % ("binary" if binary else "text", n))
        parts = [json_like(3000, i) for i in range(5)]
        await ws.send(iter(parts))
        report(await ws.recv() == "".join(parts), "websockets->c: fragmented message echoed")
        await ws.close()
        report(ws.close_code == 1000, "websockets->c: close 1000", str(ws.close_code))


def raw_case(ws_url):
    host, port = ws_url[len("ws://"):].rstrip("/").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n" % key).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    report(b"sec-websocket-extensions: permessage-deflate" in head.lower(), "raw->c: 101 answers permessage-deflate")
    text = json_like(20000).encode()
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH)
    payload = payload[:-4]
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(bytes([0xC1, 0xFE]) + struct.pack(">H", len(payload)) + mask + masked)
    data = rest
    while len(data) < 4:
        data += s.recv(65536)
    b0, b1 = data[0], data[1]
    length = b1 & 0x7F
    at = 2
    if length == 126:
        length = struct.unpack(">H", data[2:4])[0]
        at = 4
    elif length == 127:
        while len(data) < 10:
            data += s.recv(65536)
        length = struct.unpack(">Q", data[2:10])[0]
        at = 10
    while len(data) < at + length:
        data += s.recv(65536)
    frame = data[at:at + length]
    report(b0 == 0xC1, "raw->c: echo is a compressed text frame (RSV1)", hex(b0))
    report(length < len(text) // 3, "raw->c: echo compressed %d -> %d bytes" % (len(text), length))
    out = zlib.decompressobj(-15).decompress(frame + b"\x00\x00\xff\xff")
    report(out == text, "raw->c: echo inflates to the message")
    s.close()


async def client_case(client_path):
    rsv1 = []
    received = []

    async def handler(ws):
        async for msg in ws:
            received.append(msg)
            await ws.send(msg)

    def process_request(connection, request):
        return None

    async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        # Observe frames on the server side before permessage-deflate decodes them (RSV1).
        pmd = websockets.extensions.permessage_deflate.PerMessageDeflate
        orig = pmd.decode

        def decode(self, frame, *args, **kwargs):
            rsv1.append(frame.rsv1)
            return orig(self, frame, *args, **kwargs)

        pmd.decode = decode
        try:
            messages = [json_like(n, n) for n in (1, 100, 5000, 70000)]
            proc = await asyncio.create_subprocess_exec(
                client_path, "--deflate", "ws://127.0.0.1:%d/" % port, *messages,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            pmd.decode = orig
    report(proc.returncode == 0, "c->websockets: client exit 0", err.decode()[-300:])
    report(b"permessage-deflate negotiated" in err, "c->websockets: negotiated", err.decode()[-300:])
    report(received == messages, "c->websockets: server received every message")
    lines = out.decode().splitlines()
    report(["text: " + m for m in messages] == lines[:len(messages)], "c->websockets: every echo printed")
    report(len(rsv1) >= len(messages) and all(rsv1[:len(messages)]), "c->websockets: frames with RSV1 seen", repr(rsv1))


def main():
    mode, arg = sys.argv[1], sys.argv[2]
    if mode == "server":
        asyncio.run(server_case(arg))
        raw_case(arg)
    else:
        asyncio.run(client_case(arg))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
