"""ctypes bindings for websocket.h (libwebsocket.so / websocket.dll) and a small driver class.

Standard library only. The library is loaded from $WEBSOCKET_LIB, else from the repository's
target/release or target/debug directory (libwebsocket.so; websocket.dll on Windows).

`Connection` drives one handle over a connected blocking socket the way .NET does (spec §12):
receiving is WebSocketReceive(h, NULL, ...) plus WebSocketGetAction on the RECEIVE queue with a
one-slot array until NO_ACTION; sending is WebSocketSend plus WebSocketGetAction on the SEND
queue with a two-slot array until NO_ACTION. One thread may receive while another sends; sends
are serialised by a lock (one send operation at a time, as in .NET).
"""

import ctypes
import os
import select
import sys
import threading
import time
from ctypes import POINTER, Structure, Union, byref, c_char, c_int32, c_uint16, c_uint32, c_void_p

# ---- constants (websocket.h) ----------------------------------------------------------------

S_OK = 0
E_INVALIDARG = -2147024809
E_UNEXPECTED = -2147418113
E_INVALID_PROTOCOL_OPERATION = -2089418751
E_INVALID_PROTOCOL_FORMAT = -2089418750
E_PROTOCOL_VERSION_NOT_SUPPORTED = -2089418747

NO_ACTION = 0
SEND_TO_NETWORK = 1
INDICATE_SEND_COMPLETE = 2
RECEIVE_FROM_NETWORK = 3
INDICATE_RECEIVE_COMPLETE = 4

SEND_QUEUE = 1
RECEIVE_QUEUE = 2
ALL_QUEUE = 3

UTF8_MESSAGE = 0x80000000
UTF8_FRAGMENT = 0x80000001
BINARY_MESSAGE = 0x80000002
BINARY_FRAGMENT = 0x80000003
CLOSE = 0x80000004
PING_PONG = 0x80000005
UNSOLICITED_PONG = 0x80000006

RECEIVE_BUFFER_SIZE_PROPERTY = 0
SEND_BUFFER_SIZE_PROPERTY = 1

EMPTY_CLOSE_STATUS = 1005
ABORTED_CLOSE_STATUS = 1006
MAX_CLOSE_REASON_LENGTH = 123


class WEB_SOCKET_PROPERTY(Structure):
    _fields_ = [("Type", c_int32), ("pvValue", c_void_p), ("ulValueSize", c_uint32)]


class WEB_SOCKET_HTTP_HEADER(Structure):
    _fields_ = [
        ("pcName", POINTER(c_char)),
        ("ulNameLength", c_uint32),
        ("pcValue", POINTER(c_char)),
        ("ulValueLength", c_uint32),
    ]


class _Data(Structure):
    _fields_ = [("pbBuffer", c_void_p), ("ulBufferLength", c_uint32)]


class _CloseStatus(Structure):
    _fields_ = [("pbReason", c_void_p), ("ulReasonLength", c_uint32), ("usStatus", c_uint16)]


class WEB_SOCKET_BUFFER(Union):
    _fields_ = [("Data", _Data), ("CloseStatus", _CloseStatus)]


def _find_library():
    env = os.environ.get("WEBSOCKET_LIB")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    name = "websocket.dll" if sys.platform == "win32" else "libwebsocket.so"
    for profile in ("release", "debug"):
        path = os.path.join(root, "target", profile, name)
        if os.path.exists(path):
            return path
    return name  # let the loader search


def load(path=None):
    """Loads the library and declares the 13 exports."""
    path = path or _find_library()
    lib = ctypes.WinDLL(path) if sys.platform == "win32" else ctypes.CDLL(path)  # WINAPI
    H = c_void_p
    PH = POINTER(WEB_SOCKET_HTTP_HEADER)
    decl = {
        "WebSocketCreateClientHandle": (c_int32, [POINTER(WEB_SOCKET_PROPERTY), c_uint32, POINTER(H)]),
        "WebSocketCreateServerHandle": (c_int32, [POINTER(WEB_SOCKET_PROPERTY), c_uint32, POINTER(H)]),
        "WebSocketBeginClientHandshake": (
            c_int32,
            [H, c_void_p, c_uint32, c_void_p, c_uint32, PH, c_uint32, POINTER(PH), POINTER(c_uint32)],
        ),
        "WebSocketEndClientHandshake": (
            c_int32,
            [H, PH, c_uint32, POINTER(c_uint32), POINTER(c_uint32), POINTER(c_uint32)],
        ),
        "WebSocketBeginServerHandshake": (
            c_int32,
            [H, ctypes.c_char_p, c_void_p, c_uint32, PH, c_uint32, POINTER(PH), POINTER(c_uint32)],
        ),
        "WebSocketEndServerHandshake": (c_int32, [H]),
        "WebSocketSend": (c_int32, [H, c_uint32, POINTER(WEB_SOCKET_BUFFER), c_void_p]),
        "WebSocketReceive": (c_int32, [H, POINTER(WEB_SOCKET_BUFFER), c_void_p]),
        "WebSocketGetAction": (
            c_int32,
            [
                H,
                c_int32,
                POINTER(WEB_SOCKET_BUFFER),
                POINTER(c_uint32),
                POINTER(c_int32),
                POINTER(c_uint32),
                POINTER(c_void_p),
                POINTER(c_void_p),
            ],
        ),
        "WebSocketCompleteAction": (None, [H, c_void_p, c_uint32]),
        "WebSocketAbortHandle": (None, [H]),
        "WebSocketDeleteHandle": (None, [H]),
        "WebSocketGetGlobalProperty": (c_int32, [c_int32, c_void_p, POINTER(c_uint32)]),
    }
    for name, (restype, argtypes) in decl.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


class WebSocketError(Exception):
    def __init__(self, what, hr):
        super().__init__("%s failed: 0x%08x" % (what, hr & 0xFFFFFFFF))
        self.hr = hr


def check(what, hr):
    if hr < 0:
        raise WebSocketError(what, hr)


def headers_array(pairs):
    """A WEB_SOCKET_HTTP_HEADER array for [(name bytes, value bytes)]; keep it alive while used."""
    arr = (WEB_SOCKET_HTTP_HEADER * max(1, len(pairs)))()
    keep = []
    for i, (name, value) in enumerate(pairs):
        n = ctypes.create_string_buffer(name, len(name) + 1)
        v = ctypes.create_string_buffer(value, len(value) + 1)
        keep += [n, v]
        arr[i].pcName = ctypes.cast(n, POINTER(c_char))
        arr[i].ulNameLength = len(name)
        arr[i].pcValue = ctypes.cast(v, POINTER(c_char))
        arr[i].ulValueLength = len(value)
    return arr, len(pairs), keep


def read_headers(ptr, count):
    """[(name, value)] from a header array returned by the library."""
    out = []
    for i in range(count):
        h = ptr[i]
        out.append(
            (
                ctypes.string_at(h.pcName, h.ulNameLength),
                ctypes.string_at(h.pcValue, h.ulValueLength),
            )
        )
    return out


def properties(pairs):
    """A WEB_SOCKET_PROPERTY array for [(type, ULONG value)]; keep the result alive."""
    values = [c_uint32(v) for _, v in pairs]
    arr = (WEB_SOCKET_PROPERTY * max(1, len(pairs)))()
    for i, (t, _) in enumerate(pairs):
        arr[i].Type = t
        arr[i].pvValue = ctypes.cast(byref(values[i]), c_void_p)
        arr[i].ulValueSize = 4
    return arr, len(pairs), values


def wait_readable(sock, timeout):
    """True when sock is readable within timeout seconds. poll() where there is one: select()
    on POSIX cannot watch descriptors >= 1024."""
    if hasattr(select, "poll"):
        p = select.poll()
        p.register(sock, select.POLLIN)
        return bool(p.poll(int(timeout * 1000)))
    return bool(select.select([sock], [], [], timeout)[0])


def split_head(sock, limit=16384, timeout=None):
    """Reads an HTTP head. Returns (head bytes without the blank line, bytes after it)."""
    data = b""
    deadline = None if timeout is None else time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        if len(data) > limit:
            raise ValueError("HTTP head too long")
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not wait_readable(sock, left):
                raise TimeoutError("HTTP head too slow")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed during the handshake")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def parse_header_lines(lines):
    out = []
    for line in lines:
        if not line:
            continue
        if line[:1] in (b" ", b"\t") or b":" not in line:
            raise ValueError("malformed header line")
        name, value = line.split(b":", 1)
        out.append((name, value.strip(b" \t")))
    return out


class Received:
    """One result of Connection.receive(): kind is 'data', 'pong' or 'close'."""

    def __init__(self, kind, buffer_type=0, data=b"", status=0, reason=None):
        self.kind = kind
        self.buffer_type = buffer_type
        self.data = data
        self.status = status
        self.reason = reason  # None: the close frame had no status

    @property
    def final(self):
        return self.buffer_type in (UTF8_MESSAGE, BINARY_MESSAGE)

    @property
    def binary(self):
        return self.buffer_type in (BINARY_MESSAGE, BINARY_FRAGMENT)


class Connection:
    """Drives one open handle over a blocking socket. `leftover`: bytes read past the HTTP head."""

    POLL = 0.2
    CLOSE_WAIT = 5.0

    def __init__(self, lib, handle, sock, leftover=b"", stop=None):
        self.lib = lib
        self.h = handle
        self.sock = sock
        self.leftover = bytearray(leftover)
        self.stop = stop  # optional threading.Event: start the close handshake when set
        self.on_stop = None  # callable(conn) run once, from the receiving thread, when stop is set
        self.send_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.close_sent = False
        self.close_deadline = None
        self.eof = False
        self.failed = False

    # -- network --------------------------------------------------------------------------

    def _read_into(self, ptr, length):
        if self.leftover:
            n = min(length, len(self.leftover))
            ctypes.memmove(ptr, bytes(self.leftover[:n]), n)
            del self.leftover[:n]
            return n
        view = memoryview((c_char * length).from_address(ptr)).cast("B")
        while not self.eof:
            if self.stop is not None and self.stop.is_set() and self.on_stop is not None:
                fn, self.on_stop = self.on_stop, None
                fn(self)
            with self.state_lock:
                late = self.close_sent and time.monotonic() > self.close_deadline
            if late:
                break
            try:
                if not wait_readable(self.sock, self.POLL):
                    continue
                n = self.sock.recv_into(view, length)
            except (OSError, ValueError):
                break
            if n > 0:
                return n
            break
        self.eof = True
        return 0

    def _write(self, buffers, count):
        total = 0
        try:
            for i in range(count):
                n = buffers[i].Data.ulBufferLength
                if n:
                    self.sock.sendall(memoryview((c_char * n).from_address(buffers[i].Data.pbBuffer)))
                total += n
        except OSError:
            self.eof = True
            return 0
        return total

    # -- sending --------------------------------------------------------------------------

    def _send_op(self, buffer_type, buffer):
        lib, h = self.lib, self.h
        check("WebSocketSend", lib.WebSocketSend(h, buffer_type, buffer, None))
        completed, ok, idle = False, True, 0
        buffers = (WEB_SOCKET_BUFFER * 2)()
        count, action, btype = c_uint32(), c_int32(), c_uint32()
        app_ctx, action_ctx = c_void_p(), c_void_p()
        while True:
            count.value = 2
            hr = lib.WebSocketGetAction(
                h, SEND_QUEUE, buffers, byref(count), byref(action), byref(btype), byref(app_ctx), byref(action_ctx)
            )
            check("WebSocketGetAction(SEND)", hr)
            a = action.value
            if a == NO_ACTION:
                if completed:
                    if not ok:
                        raise ConnectionError("socket write failed")
                    return
                # Another thread is writing a pong: the outgoing channel is busy. Retry.
                idle += 1
                if self.failed or idle > 30000:
                    raise ConnectionError("send did not complete")
                time.sleep(0.001)
            elif a == SEND_TO_NETWORK:
                n = self._write(buffers, count.value)
                if n == 0 and count.value > 0:
                    ok = False
                lib.WebSocketCompleteAction(h, action_ctx, n)
            elif a == INDICATE_SEND_COMPLETE:
                completed = True
                lib.WebSocketCompleteAction(h, action_ctx, 0)
            else:
                lib.WebSocketCompleteAction(h, action_ctx, 0)

    def send(self, data, binary=False, final=True):
        """Sends one message (or a fragment with final=False). Skipped after our close."""
        data = bytes(data)
        payload = ctypes.create_string_buffer(data, max(1, len(data)))  # alive until complete
        b = WEB_SOCKET_BUFFER()
        b.Data.pbBuffer = ctypes.addressof(payload)
        b.Data.ulBufferLength = len(data)
        if binary:
            t = BINARY_MESSAGE if final else BINARY_FRAGMENT
        else:
            t = UTF8_MESSAGE if final else UTF8_FRAGMENT
        with self.send_lock:
            if self.close_sent:
                return False
            self._send_op(t, byref(b))
        return True

    def send_close(self, status, reason=b""):
        """Sends our close frame (status 1005: without payload) unless one was sent."""
        with self.send_lock:
            with self.state_lock:
                if self.close_sent:
                    return False
                self.close_sent = True
                self.close_deadline = time.monotonic() + self.CLOSE_WAIT
            if status == EMPTY_CLOSE_STATUS:
                self._send_op(CLOSE, None)
                return True
            reason = bytes(reason)
            keep = ctypes.create_string_buffer(reason, max(1, len(reason)))
            b = WEB_SOCKET_BUFFER()
            b.CloseStatus.usStatus = status
            b.CloseStatus.pbReason = ctypes.addressof(keep)
            b.CloseStatus.ulReasonLength = len(reason)
            self._send_op(CLOSE, byref(b))
        return True

    # -- receiving ------------------------------------------------------------------------

    def receive(self):
        """Runs one receive operation; returns a Received (data piece, pong or close)."""
        lib, h = self.lib, self.h
        check("WebSocketReceive", lib.WebSocketReceive(h, None, None))
        result = None
        buffer = (WEB_SOCKET_BUFFER * 1)()
        count, action, btype = c_uint32(), c_int32(), c_uint32()
        app_ctx, action_ctx = c_void_p(), c_void_p()
        while True:
            count.value = 1
            hr = lib.WebSocketGetAction(
                h, RECEIVE_QUEUE, buffer, byref(count), byref(action), byref(btype), byref(app_ctx), byref(action_ctx)
            )
            check("WebSocketGetAction(RECEIVE)", hr)
            a = action.value
            if a == NO_ACTION:
                if result is None:  # spec §9.2 rule 6
                    raise WebSocketError("receive ended without a result", E_UNEXPECTED)
                return result
            if a == RECEIVE_FROM_NETWORK:
                n = self._read_into(buffer[0].Data.pbBuffer, buffer[0].Data.ulBufferLength)
                lib.WebSocketCompleteAction(h, action_ctx, n)  # 0 cancels: completes as 1006
            elif a == SEND_TO_NETWORK:  # the library's pong
                lib.WebSocketCompleteAction(h, action_ctx, self._write(buffer, count.value))
            elif a == INDICATE_RECEIVE_COMPLETE:
                t = btype.value
                if t == CLOSE:
                    cs = buffer[0].CloseStatus
                    reason = None if not cs.pbReason else ctypes.string_at(cs.pbReason, cs.ulReasonLength)
                    result = Received("close", t, status=cs.usStatus, reason=reason)
                elif t == PING_PONG:
                    result = Received("pong", t)
                else:
                    d = buffer[0].Data
                    data = ctypes.string_at(d.pbBuffer, d.ulBufferLength) if d.ulBufferLength else b""
                    result = Received("data", t, data=data)
                lib.WebSocketCompleteAction(h, action_ctx, 0)
            else:
                lib.WebSocketCompleteAction(h, action_ctx, 0)

    # -- teardown -------------------------------------------------------------------------

    def abort_and_drain(self):
        """WebSocketAbortHandle, then drain both queues with one-slot arrays (as .NET)."""
        lib, h = self.lib, self.h
        self.failed = True
        lib.WebSocketAbortHandle(h)
        buffer = (WEB_SOCKET_BUFFER * 1)()
        count, action, btype, action_ctx = c_uint32(), c_int32(), c_uint32(), c_void_p()
        for queue in (SEND_QUEUE, RECEIVE_QUEUE):
            for _ in range(1000):
                count.value = 1
                hr = lib.WebSocketGetAction(h, queue, buffer, byref(count), byref(action), byref(btype), None, byref(action_ctx))
                if hr < 0 or action.value == NO_ACTION:
                    break
                lib.WebSocketCompleteAction(h, action_ctx, 0)
