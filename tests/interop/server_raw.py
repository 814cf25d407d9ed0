"""Our echo server against a hand-written client on raw sockets (standard library only):
the HTTP side, frame shapes the high-level peers never send, and protocol violations.

    server_raw.py LABEL http://127.0.0.1:PORT/
"""

import base64
import hashlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Report, run_case  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 20


class Raw:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.upgraded = False
        self.closed = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self.upgraded and not self.closed and exc_type is None:
            # a polite end: close handshake, then the server closes the TCP connection
            self.send_raw(frame(8, close_payload(1000, b"bye")))
            assert self.read_message() == (8, close_payload(1000, b"bye"))
        self.close()

    def http(self, request):
        self.sock.sendall(request)
        return self.read_head()

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response head")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return lines[0], headers

    def read_body(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return body

    def upgrade(self, extra=b"", first_frames=b""):
        key = base64.b64encode(os.urandom(16))
        req = (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n"
        )
        status, headers = self.http(req + first_frames)
        assert status.startswith("HTTP/1.1 101 "), status
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        assert headers.get("sec-websocket-accept") == want, headers
        assert "sec-websocket-extensions" not in headers, headers
        self.upgraded = True
        return headers

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk

    def read_frame(self):
        """(fin, opcode, payload) of the next frame (must be unmasked)."""
        self.need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frame is masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self.need(4)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self.need(10)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self.need(off + n)
        payload = self.buf[off : off + n]
        self.buf = self.buf[off + n :]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def read_message(self):
        """(opcode, payload) of the next data message or control frame."""
        fin, op, data = self.read_frame()
        while not fin and op in (1, 2):
            fin2, op2, more = self.read_frame()
            assert op2 == 0, "expected a continuation frame, got opcode %d" % op2
            data += more
            fin = fin2
        return op, data

    def send_raw(self, data):
        self.sock.sendall(data)

    def expect_dropped(self):
        """The server must drop the connection without a close frame (it aborts, as .NET)."""
        self.closed = True
        deadline = time.monotonic() + TIMEOUT
        data = self.buf
        try:
            while time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        else:
            assert time.monotonic() < deadline, "connection still open"
        assert data == b"", "server sent %r before dropping the connection" % data[:40]


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Cases:
    def __init__(self, port):
        self.port = port

    def page(self):
        with Raw(self.port) as c:
            status, headers = c.http(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status == "HTTP/1.1 200 OK", status
            body = c.read_body(int(headers["content-length"]))
            assert body.lower().startswith(b"<!doctype html") or b"WebSocket" in body, body[:80]

    def not_found(self):
        with Raw(self.port) as c:
            status, _ = c.http(b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert status == "HTTP/1.1 404 Not Found", status

    def bad_version(self):
        with Raw(self.port) as c:
            status, headers = c.http(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"
            )
            assert status.startswith("HTTP/1.1 426"), status
            assert headers.get("sec-websocket-version") == "13", headers

    def missing_key(self):
        with Raw(self.port) as c:
            status, _ = c.http(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            assert status.startswith("HTTP/1.1 400"), status

    def rfc_sample_key(self):
        with Raw(self.port) as c:
            status, headers = c.http(
                b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            assert status.startswith("HTTP/1.1 101"), status
            c.upgraded = True
            assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", headers
            assert headers["upgrade"].lower() == "websocket" and "upgrade" in headers["connection"].lower()
            assert "sec-websocket-protocol" not in headers, "no subprotocol was selected"

    def frame_with_request(self):
        with Raw(self.port) as c:
            c.upgrade(first_frames=frame(1, b"in the same segment"))
            assert c.read_message() == (1, b"in the same segment")
            c.send_raw(frame(8, close_payload(1000)))
            assert c.read_message() == (8, close_payload(1000))
            c.closed = True

    def utf8_split_across_frames(self):
        with Raw(self.port) as c:
            c.upgrade()
            text = "h€llo 😀".encode()
            c.send_raw(frame(1, text[:2], fin=False) + frame(0, text[2:8], fin=False) + frame(0, text[8:]))
            assert c.read_message() == (1, text)

    def ping_inside_fragmented(self):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(frame(2, b"abc", fin=False) + frame(9, b"ping!") + frame(0, b"def"))
            assert c.read_message() == (10, b"ping!"), "pong first"
            assert c.read_message() == (2, b"abcdef")

    def unsolicited_pong(self):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(frame(10, b"keep-alive") + frame(1, b"after pong"))
            assert c.read_message() == (1, b"after pong")

    def many_pings(self):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(b"".join(frame(9, b"%d" % i) for i in range(20)) + frame(1, b"end"))
            pongs = []
            while True:
                op, data = c.read_message()
                if op == 1:
                    assert data == b"end"
                    break
                assert op == 10, op
                pongs.append(data)
            # RFC 6455 allows answering only the latest of several pings
            assert pongs and pongs[-1] == b"19", pongs

    def byte_by_byte(self):
        with Raw(self.port) as c:
            c.upgrade()
            for b in frame(1, b"slowly, one byte per write"):
                c.send_raw(bytes([b]))
            assert c.read_message() == (1, b"slowly, one byte per write")

    def violation(self, data):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(data)
            c.expect_dropped()
        # the server keeps serving
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(frame(1, b"alive"))
            assert c.read_message() == (1, b"alive")

    def close_no_status_then_tcp(self):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(frame(8))
            assert c.read_message() == (8, b""), "empty close echoed as empty"
            c.closed = True
            assert c.sock.recv(1) == b"", "server closes the TCP connection after the handshake"

    def eof_without_close(self):
        with Raw(self.port) as c:
            c.upgrade()
            c.send_raw(frame(1, b"x"))
            assert c.read_message() == (1, b"x")
            c.sock.shutdown(socket.SHUT_WR)
            c.expect_dropped()


def main():
    label, url = sys.argv[1], sys.argv[2]
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    r = Report("raw->%s" % label)
    k = Cases(port)
    run_case(r, "GET / serves the page", k.page)
    run_case(r, "GET /nope is 404", k.not_found)
    run_case(r, "version 8 gets 426 + Sec-WebSocket-Version: 13", k.bad_version)
    run_case(r, "upgrade without key gets 400", k.missing_key)
    run_case(r, "RFC 6455 sample key, offered subprotocols ignored", k.rfc_sample_key)
    run_case(r, "first frame in the request's segment", k.frame_with_request)
    run_case(r, "UTF-8 code points split across fragments", k.utf8_split_across_frames)
    run_case(r, "ping between fragments answered first", k.ping_inside_fragmented)
    run_case(r, "unsolicited pong ignored", k.unsolicited_pong)
    run_case(r, "20 pings in a row", k.many_pings)
    run_case(r, "frame written byte by byte", k.byte_by_byte)
    run_case(r, "empty close echoed, then TCP closed by the server", k.close_no_status_then_tcp)
    run_case(r, "TCP end without close: connection dropped", k.eof_without_close)
    violations = {
        "invalid UTF-8 text": frame(1, b"\xc3\x28"),
        "unmasked client frame": frame(1, b"hello", mask=False),
        "RSV1 without extension": frame(1, b"hello", rsv=4),
        "reserved opcode 3": frame(3, b"x"),
        "fragmented ping": frame(9, b"x", fin=False),
        "ping over 125 bytes": frame(9, b"x" * 126),
        "continuation without a message": frame(0, b"x"),
        "new message inside a fragmented one": frame(1, b"a", fin=False) + frame(1, b"b"),
        "close with 1-byte payload": frame(8, b"\x03"),
        "close with status 1005 on the wire": frame(8, close_payload(1005)),
        "close with status 999": frame(8, close_payload(999)),
        "close reason not UTF-8": frame(8, close_payload(1000, b"\xff")),
        "text ending inside a code point": frame(1, "é".encode()[:1]),
    }
    for name, data in violations.items():
        run_case(r, "violation dropped: %s" % name, k.violation, data)
    r.exit()


if __name__ == "__main__":
    main()
