"""A raw-socket WebSocket peer for conformance testing (Python 3 standard library only).

The peer writes EXACT bytes: it builds every frame itself (any opcode, RSV bits, FIN, masking,
forced length encodings) and can chop the byte stream into arbitrary TCP writes (one byte per
write for the "octet-wise" cases). A background thread reads everything the testee sends and
parses it strictly, recording:

  * events: ("message", "text"|"binary", payload), ("ping", payload), ("pong", payload) in the
    order they arrived (a fragmented message is one event, appended when its last frame arrives);
  * the testee's close frame (code, reason, raw payload), if any;
  * how the TCP connection ended: "fin" (orderly end of stream) or "reset";
  * every framing violation committed by the testee (wrong masking for its role, RSV bits,
    reserved opcodes, bad continuation, control frame too long or fragmented, bad close
    payload, data after its close frame, ...).

Both ends of the opening handshake are implemented here: `client_connect` (we are the client,
the testee is a server) and `server_accept` (we are the server, the testee is a client).
"""

import base64
import hashlib
import os
import random
import socket
import threading
import time
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)
KNOWN_OPS = (OP_CONT, OP_TEXT, OP_BINARY) + CONTROL_OPS


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def apply_mask(data, key):
    """XOR-masks (or unmasks) data with a 4-byte key; fast for large payloads."""
    n = len(data)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def close_code_valid_on_wire(code):
    """RFC 6455 §7.4: codes an endpoint may put in a close frame."""
    if code < 1000 or code >= 5000:
        return False
    if code < 3000:
        return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)
    return True


def build_frame(opcode, payload=b"", fin=True, rsv=0, masked=False, mask_key=None,
                length_bytes=None):
    """One frame, exactly as asked.

    rsv: 3-bit value (RSV1 = 4, RSV2 = 2, RSV3 = 1).
    masked: set the MASK bit and mask the payload (mask_key random unless given).
    length_bytes: force the length encoding (0: 7-bit, 2: 16-bit, 8: 64-bit); default minimal.
    """
    payload = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    n = len(payload)
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    if length_bytes is None:
        length_bytes = 0 if n <= 125 else (2 if n <= 0xFFFF else 8)
    mbit = 0x80 if masked else 0
    if length_bytes == 0:
        head = bytes([b0, mbit | n])
    elif length_bytes == 2:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if masked:
        if mask_key is None:
            mask_key = random.getrandbits(32).to_bytes(4, "big")
        return head + mask_key + apply_mask(payload, mask_key)
    return head + payload


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return int(code).to_bytes(2, "big") + reason


class HandshakeError(Exception):
    pass


TAIL = b"\x00\x00\xff\xff"


class Pmd:
    """Our side of a negotiated permessage-deflate (RFC 7692): we compress with a window of
    2^send_bits (zlib's raw mode has no 8: 9 never emits a distance over 250) and inflate with
    exactly 2^recv_bits, so a testee that exceeds the window it agreed to fails to inflate.
    send_reset / recv_reset: no context takeover on our side / on the testee's side."""

    def __init__(self, send_bits=15, send_reset=False, recv_bits=15, recv_reset=False):
        self.send_bits, self.send_reset = send_bits, send_reset
        self.recv_bits, self.recv_reset = recv_bits, recv_reset
        self._c = self._compressor()
        self._d = zlib.decompressobj(-recv_bits)

    def _compressor(self):
        return zlib.compressobj(6, zlib.DEFLATED, -max(9, self.send_bits))

    def compress(self, data):
        out = self._c.compress(data) + self._c.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(TAIL):
            out = out[:-4]
        if self.send_reset:
            self._c = self._compressor()
        return out or b"\x00"

    def decompress(self, data):
        out = self._d.decompress(data + TAIL)
        if self._d.unconsumed_tail:
            raise zlib.error("output left")
        if self.recv_reset or self._d.eof:
            self._d = zlib.decompressobj(-self.recv_bits)
        return out


class Peer:
    """One WebSocket connection driven at the byte level.

    is_client: True when we play the client (we mask, the testee must not), False when we play
    the server (we do not mask, the testee must).
    """

    def __init__(self, sock, is_client, leftover=b"", pmd=None):
        self.sock = sock
        self.is_client = is_client
        self.pmd = pmd                  # Pmd when permessage-deflate was negotiated
        self._msg_compressed = False
        self.cond = threading.Condition()
        self.events = []
        self.violations = []
        self.close_received = None     # (code or None, reason bytes, raw payload)
        self.close_sent = False         # we sent a close frame through send_close()
        self.closed_by_me = None        # who started the close: True (us) / False (testee)
        self.ended = None               # None while open; "fin" / "reset" / "error" after
        self.dropped_by_me = False      # we closed the socket before the testee ended
        self.send_failed = None         # first exception raised by a write
        self.bytes_in = 0
        self.frames_in = 0
        self._buf = bytearray(leftover)
        self._msg_op = None             # opcode of the message being reassembled
        self._msg_parts = []
        self._closed = False
        self._lock = threading.Lock()   # one writer at a time
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # ---- receiving -------------------------------------------------------------------------

    def _violation(self, text):
        if len(self.violations) < 20:
            self.violations.append(text)

    def _read_loop(self):
        with self.cond:
            self._parse()  # bytes that came with the handshake
        while True:
            try:
                data = self.sock.recv(262144)
            except ConnectionResetError:
                end = "reset"
                break
            except OSError:
                end = "error"
                break
            if not data:
                end = "fin"
                break
            with self.cond:
                self.bytes_in += len(data)
                self._buf += data
                self._parse()
                self.cond.notify_all()
        with self.cond:
            if self._buf and self.close_received is None:
                self._violation("connection ended inside a frame (%d bytes left)" % len(self._buf))
            self.ended = self.ended or end
            self.cond.notify_all()

    def _parse(self):
        buf = self._buf
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            hlen = 2
            if n == 126:
                hlen = 4
                if len(buf) - pos < hlen:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
            elif n == 127:
                hlen = 10
                if len(buf) - pos < hlen:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                if n >> 63:
                    self._violation("64-bit length with the top bit set")
                    self._buf = bytearray()
                    return
            masked = bool(b1 & 0x80)
            if masked:
                hlen += 4
            if len(buf) - pos < hlen + n:
                break
            payload = bytes(buf[pos + hlen:pos + hlen + n])
            if masked:
                payload = apply_mask(payload, bytes(buf[pos + hlen - 4:pos + hlen]))
            self._frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload)
            pos += hlen + n
        if pos:
            del buf[:pos]

    def _frame(self, fin, rsv, opcode, masked, payload):
        self.frames_in += 1
        if self.close_received is not None:
            self._violation("frame (opcode %d) after the testee's close frame" % opcode)
            return
        if self.is_client and masked:
            self._violation("server sent a masked frame")
        if not self.is_client and not masked:
            self._violation("client sent an unmasked frame")
        compressed = (rsv == 4 and self.pmd is not None and opcode in (OP_TEXT, OP_BINARY))
        if rsv and not compressed:
            self._violation("frame with RSV bits %d" % rsv)
        if opcode not in KNOWN_OPS:
            self._violation("frame with reserved opcode %d" % opcode)
            return
        if opcode in CONTROL_OPS:
            if not fin:
                self._violation("fragmented control frame (opcode %d)" % opcode)
            if len(payload) > 125:
                self._violation("control frame with %d bytes of payload" % len(payload))
            if opcode == OP_PING:
                self.events.append(("ping", payload))
            elif opcode == OP_PONG:
                self.events.append(("pong", payload))
            else:
                self._close_frame(payload)
            return
        if opcode == OP_CONT:
            if self._msg_op is None:
                self._violation("continuation frame with no message in progress")
                return
        else:
            if self._msg_op is not None:
                self._violation("new data frame inside a fragmented message")
            self._msg_op = opcode
            self._msg_parts = []
            self._msg_compressed = compressed
        self._msg_parts.append(payload)
        if fin:
            data = b"".join(self._msg_parts)
            if self._msg_compressed:
                try:
                    data = self.pmd.decompress(data)
                except zlib.error as e:
                    self._violation("compressed message does not inflate with a window of "
                                    "2^%d: %s" % (self.pmd.recv_bits, e))
                    self._msg_op = None
                    return
            kind = "text" if self._msg_op == OP_TEXT else "binary"
            if kind == "text":
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    self._violation("text message that is not valid UTF-8")
            self.events.append(("message", kind, data))
            self._msg_op = None
            self._msg_parts = []

    def _close_frame(self, payload):
        code, reason = None, b""
        if len(payload) == 1:
            self._violation("close frame with a 1-byte payload")
        elif len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            reason = payload[2:]
            try:
                reason.decode("utf-8")
            except UnicodeDecodeError:
                self._violation("close reason that is not valid UTF-8")
        self.close_received = (code, reason, payload)
        if self.closed_by_me is None:
            self.closed_by_me = False

    # ---- waiting ---------------------------------------------------------------------------

    def wait(self, predicate, timeout):
        """Waits until predicate(self) is true or the connection ended. Returns predicate."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if predicate(self):
                    return True
                if self.ended is not None:
                    return bool(predicate(self))
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)

    def wait_events(self, count, timeout):
        return self.wait(lambda p: len(p.events) >= count, timeout)

    def wait_end(self, timeout):
        return self.wait(lambda p: p.ended is not None, timeout)

    def snapshot(self):
        with self.cond:
            return list(self.events)

    # ---- sending ---------------------------------------------------------------------------

    def send_raw(self, data, chop=None):
        """Writes bytes, optionally in writes of `chop` bytes. False once writing failed."""
        if self.send_failed is not None or self._closed:
            return False
        data = bytes(data)
        try:
            with self._lock:
                if not chop:
                    self.sock.sendall(data)
                else:
                    for i in range(0, len(data), chop):
                        self.sock.sendall(data[i:i + chop])
            return True
        except OSError as e:  # EPIPE / ECONNRESET once the testee has dropped us
            self.send_failed = e
            return False

    def frame(self, opcode, payload=b"", fin=True, rsv=0, length_bytes=None):
        return build_frame(opcode, payload, fin=fin, rsv=rsv, masked=self.is_client,
                           length_bytes=length_bytes)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, chop=None, length_bytes=None):
        return self.send_raw(self.frame(opcode, payload, fin, rsv, length_bytes), chop)

    def message_frames(self, payload, binary=False, frag_size=None):
        """The frames of one message; frag_size splits it into frames of that many bytes."""
        op = OP_BINARY if binary else OP_TEXT
        payload = bytes(payload)
        rsv = 0
        if self.pmd is not None:  # compress the message, then split the compressed bytes
            payload, rsv = self.pmd.compress(payload), 4
        if not frag_size or len(payload) <= frag_size:
            return [self.frame(op, payload, rsv=rsv)]
        frames = []
        for i in range(0, len(payload), frag_size):
            last = i + frag_size >= len(payload)
            frames.append(self.frame(op if i == 0 else OP_CONT, payload[i:i + frag_size], fin=last,
                                     rsv=rsv if i == 0 else 0))
        return frames

    def send_message(self, payload, binary=False, frag_size=None, chop=None, sync=False):
        """sync: one write per frame (frame-wise chops); otherwise one write for all frames."""
        frames = self.message_frames(payload, binary, frag_size)
        if sync:
            return all(self.send_raw(f, chop) for f in frames)
        return self.send_raw(b"".join(frames), chop)

    def send_close(self, code=None, reason=b"", payload=None, chop=None):
        """Sends a close frame as the closing handshake (payload overrides code/reason)."""
        if payload is None:
            payload = close_payload(code, reason)
        with self.cond:
            self.close_sent = True
            if self.closed_by_me is None:
                self.closed_by_me = True
        return self.send_raw(self.frame(OP_CLOSE, payload), chop)

    # ---- ending ----------------------------------------------------------------------------

    def drop(self):
        """Closes our socket (if the testee has not ended the connection, we dropped it)."""
        with self.cond:
            if self.ended is None:
                self.dropped_by_me = True
                if self.closed_by_me is None:
                    self.closed_by_me = True
        self.shutdown()

    def shutdown(self):
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.join(5)
        try:
            self.sock.close()
        except OSError:
            pass


# ---- opening handshakes ----------------------------------------------------------------------

def _read_head(sock, timeout, limit=65536):
    """Reads until the blank line ending an HTTP head; returns (head, leftover bytes)."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HandshakeError("timed out waiting for the HTTP head")
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            raise HandshakeError("timed out waiting for the HTTP head")
        except OSError as e:
            raise HandshakeError("connection failed during the handshake: %s" % e)
        if not chunk:
            raise HandshakeError("connection closed during the handshake")
        data += chunk
        if len(data) > limit:
            raise HandshakeError("HTTP head too long")
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def _parse_headers(lines):
    headers = {}
    for line in lines:
        if ":" not in line:
            raise HandshakeError("malformed header line %r" % line)
        name, value = line.split(":", 1)
        key = name.strip().lower()
        value = value.strip()
        headers[key] = headers[key] + ", " + value if key in headers else value
    return headers


def _tokens(value):
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


def client_connect(host, port, path="/", timeout=10.0, offer=None, negotiate=None):
    """Connects to a WebSocket server and performs the client handshake. Returns a Peer.
    offer: a Sec-WebSocket-Extensions value to send; negotiate(response value or None) returns
    the Peer's Pmd (or None) and raises HandshakeError for a response the offer does not allow."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n%s\r\n"
                   % (path, host, port, key,
                      "Sec-WebSocket-Extensions: %s\r\n" % offer if offer else ""))
        sock.sendall(request.encode("ascii"))
        head, rest = _read_head(sock, timeout)
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or parts[1] != "101":
            raise HandshakeError("server did not switch protocols: %r" % lines[0])
        headers = _parse_headers(lines[1:])
        if "websocket" not in _tokens(headers.get("upgrade")):
            raise HandshakeError("response without Upgrade: websocket")
        if "upgrade" not in _tokens(headers.get("connection")):
            raise HandshakeError("response without Connection: Upgrade")
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise HandshakeError("wrong Sec-WebSocket-Accept %r"
                                 % headers.get("sec-websocket-accept"))
        pmd = None
        if offer is not None:
            pmd = negotiate(headers.get("sec-websocket-extensions"))
        elif headers.get("sec-websocket-extensions"):
            raise HandshakeError("server selected an extension we did not offer")
        if headers.get("sec-websocket-protocol"):
            raise HandshakeError("server selected a subprotocol we did not offer")
    except BaseException:
        sock.close()
        raise
    return Peer(sock, is_client=True, leftover=rest, pmd=pmd)


def server_accept(listener, timeout=10.0, answer=None):
    """Accepts one connection and performs the server handshake. Returns (Peer, path).
    answer(request's Sec-WebSocket-Extensions value or None) returns (response value, Pmd) or
    (None, None) to decline."""
    listener.settimeout(timeout)
    try:
        sock, _ = listener.accept()
    except socket.timeout:
        raise HandshakeError("the client did not connect")
    try:
        head, rest = _read_head(sock, timeout)
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1.1"):
            raise HandshakeError("bad request line %r" % lines[0])
        headers = _parse_headers(lines[1:])
        problems = []
        if "host" not in headers:
            problems.append("no Host header")
        if "websocket" not in _tokens(headers.get("upgrade")):
            problems.append("no Upgrade: websocket")
        if "upgrade" not in _tokens(headers.get("connection")):
            problems.append("no Connection: Upgrade")
        if headers.get("sec-websocket-version") != "13":
            problems.append("Sec-WebSocket-Version is not 13")
        key = headers.get("sec-websocket-key", "")
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                problems.append("Sec-WebSocket-Key is not 16 bytes")
        except ValueError:
            problems.append("Sec-WebSocket-Key is not base64")
        if problems:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            raise HandshakeError("bad upgrade request: " + "; ".join(problems))
        ext, pmd = (None, None)
        if answer is not None:
            ext, pmd = answer(headers.get("sec-websocket-extensions"))
        response = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n"
                    % (accept_key(key), "Sec-WebSocket-Extensions: %s\r\n" % ext if ext else ""))
        sock.sendall(response.encode("ascii"))
    except BaseException:
        sock.close()
        raise
    return Peer(sock, is_client=False, leftover=rest, pmd=pmd), parts[1]
