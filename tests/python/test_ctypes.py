"""The built libwebsocket.so driven from Python through ctypes, as a user of the library would.

Standard library only. The library is WEBSOCKET_LIB, or target/debug/libwebsocket.so of this
repository. Every export is declared with the SDK's exact types (HRESULT = int32, ULONG = uint32,
handles and contexts = void*, the three void functions with restype None), the structures are
mirrored and their layout asserted (spec §1-§3), and then: the handshake (Microsoft's sample,
the RFC 6455 key vector, .NET's fake request and version probe, negotiation), a client/server
pair exchanging text and binary messages, fragments, pings, pongs and closes, and the misuse
matrix (NULL pointers, bad handles, double delete, wrong state, bad properties,
GetGlobalProperty), and permessage-deflate enabled through its property (an extension of this
library beyond the SDK).

Run: python3 -m unittest -v tests/python/test_ctypes.py
"""

import base64
import ctypes
import hashlib
import os
import pathlib
import threading
import unittest
from ctypes import POINTER, byref, c_char_p, c_int32, c_uint16, c_uint32, c_void_p, sizeof

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB_PATH = os.environ.get("WEBSOCKET_LIB") or str(ROOT / "target" / "debug" / "libwebsocket.so")
lib = ctypes.CDLL(LIB_PATH)

# ---- SDK types (spec §1.3) --------------------------------------------------------------------

HRESULT = c_int32
ULONG = c_uint32
USHORT = c_uint16
PVOID = c_void_p
WEB_SOCKET_HANDLE = c_void_p
WEB_SOCKET_PROPERTY_TYPE = c_int32
WEB_SOCKET_ACTION_QUEUE = c_int32
WEB_SOCKET_BUFFER_TYPE = c_uint32  # 0x80000000.. (negative as int32)
WEB_SOCKET_ACTION = c_int32


class WEB_SOCKET_PROPERTY(ctypes.Structure):
    _fields_ = [("Type", WEB_SOCKET_PROPERTY_TYPE), ("pvValue", PVOID), ("ulValueSize", ULONG)]


class WEB_SOCKET_HTTP_HEADER(ctypes.Structure):
    _fields_ = [
        ("pcName", c_void_p),  # PCHAR, kept as an address: not NUL-terminated on input
        ("ulNameLength", ULONG),
        ("pcValue", c_void_p),
        ("ulValueLength", ULONG),
    ]


class WEB_SOCKET_BUFFER_DATA(ctypes.Structure):
    _fields_ = [("pbBuffer", c_void_p), ("ulBufferLength", ULONG)]


class WEB_SOCKET_BUFFER_CLOSE_STATUS(ctypes.Structure):
    _fields_ = [("pbReason", c_void_p), ("ulReasonLength", ULONG), ("usStatus", USHORT)]


class WEB_SOCKET_BUFFER(ctypes.Union):
    _fields_ = [("Data", WEB_SOCKET_BUFFER_DATA), ("CloseStatus", WEB_SOCKET_BUFFER_CLOSE_STATUS)]


# Constants (spec §3, §4).
NO_ACTION, SEND_TO_NETWORK, INDICATE_SEND_COMPLETE, RECEIVE_FROM_NETWORK, INDICATE_RECEIVE_COMPLETE = range(5)
SEND_QUEUE, RECEIVE_QUEUE, ALL_QUEUE = 1, 2, 3
UTF8_MESSAGE = 0x80000000
UTF8_FRAGMENT = 0x80000001
BINARY_MESSAGE = 0x80000002
BINARY_FRAGMENT = 0x80000003
CLOSE = 0x80000004
PING_PONG = 0x80000005
UNSOLICITED_PONG = 0x80000006
RECEIVE_BUFFER_SIZE, SEND_BUFFER_SIZE, DISABLE_MASKING, ALLOCATED_BUFFER = 0, 1, 2, 3
DISABLE_UTF8_VERIFICATION, KEEPALIVE_INTERVAL, SUPPORTED_VERSIONS = 4, 5, 6
MAX_CLOSE_REASON_LENGTH = 123


def hresult(value):
    """The HRESULT for a 32-bit pattern (negative int32)."""
    return ctypes.c_int32(value).value


S_OK = 0
E_INVALID_PROTOCOL_OPERATION = hresult(0x83760001)
E_INVALID_PROTOCOL_FORMAT = hresult(0x83760002)
E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED = hresult(0x83760003)
E_SUBPROTOCOL_NOT_SUPPORTED = hresult(0x83760004)
E_PROTOCOL_VERSION_NOT_SUPPORTED = hresult(0x83760005)
E_INVALIDARG = hresult(0x80070057)
E_INSUFFICIENT_BUFFER = hresult(0x8007007A)

# ---- prototypes (spec §1.1) -------------------------------------------------------------------

P_PROPERTY = POINTER(WEB_SOCKET_PROPERTY)
P_HEADER = POINTER(WEB_SOCKET_HTTP_HEADER)
P_BUFFER = POINTER(WEB_SOCKET_BUFFER)
P_ULONG = POINTER(ULONG)
P_PCSTR = POINTER(c_char_p)


def declare(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


CreateClientHandle = declare("WebSocketCreateClientHandle", HRESULT, P_PROPERTY, ULONG, POINTER(WEB_SOCKET_HANDLE))
CreateServerHandle = declare("WebSocketCreateServerHandle", HRESULT, P_PROPERTY, ULONG, POINTER(WEB_SOCKET_HANDLE))
BeginClientHandshake = declare(
    "WebSocketBeginClientHandshake", HRESULT,
    WEB_SOCKET_HANDLE, P_PCSTR, ULONG, P_PCSTR, ULONG, P_HEADER, ULONG, POINTER(P_HEADER), P_ULONG)
EndClientHandshake = declare(
    "WebSocketEndClientHandshake", HRESULT, WEB_SOCKET_HANDLE, P_HEADER, ULONG, P_ULONG, P_ULONG, P_ULONG)
BeginServerHandshake = declare(
    "WebSocketBeginServerHandshake", HRESULT,
    WEB_SOCKET_HANDLE, c_char_p, P_PCSTR, ULONG, P_HEADER, ULONG, POINTER(P_HEADER), P_ULONG)
EndServerHandshake = declare("WebSocketEndServerHandshake", HRESULT, WEB_SOCKET_HANDLE)
Send = declare("WebSocketSend", HRESULT, WEB_SOCKET_HANDLE, WEB_SOCKET_BUFFER_TYPE, P_BUFFER, PVOID)
Receive = declare("WebSocketReceive", HRESULT, WEB_SOCKET_HANDLE, P_BUFFER, PVOID)
GetAction = declare(
    "WebSocketGetAction", HRESULT,
    WEB_SOCKET_HANDLE, WEB_SOCKET_ACTION_QUEUE, P_BUFFER, P_ULONG, POINTER(WEB_SOCKET_ACTION),
    POINTER(WEB_SOCKET_BUFFER_TYPE), POINTER(PVOID), POINTER(PVOID))
CompleteAction = declare("WebSocketCompleteAction", None, WEB_SOCKET_HANDLE, PVOID, ULONG)
AbortHandle = declare("WebSocketAbortHandle", None, WEB_SOCKET_HANDLE)
DeleteHandle = declare("WebSocketDeleteHandle", None, WEB_SOCKET_HANDLE)
GetGlobalProperty = declare("WebSocketGetGlobalProperty", HRESULT, WEB_SOCKET_PROPERTY_TYPE, PVOID, P_ULONG)

SENTINEL = 0x5EED5EED

# ---- helpers ---------------------------------------------------------------------------------


def accept_for(key):
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)


class Headers:
    """A WEB_SOCKET_HTTP_HEADER array built from (name, value) byte pairs; keeps the bytes alive."""

    def __init__(self, pairs):
        self.keep = []
        self.array = (WEB_SOCKET_HTTP_HEADER * max(1, len(pairs)))()
        self.count = len(pairs)
        for i, (name, value) in enumerate(pairs):
            self.array[i] = WEB_SOCKET_HTTP_HEADER(self._ptr(name), len(name or b""), self._ptr(value),
                                                   len(value or b""))

    def _ptr(self, b):
        if b is None:
            return None
        buf = ctypes.create_string_buffer(b, len(b) + 1)
        self.keep.append(buf)
        return ctypes.addressof(buf)


def read_headers(ptr, count):
    """[(name, value)] from a library-owned array; checks NUL termination and ASCII."""
    out = []
    for i in range(count):
        h = ptr[i]
        name = ctypes.string_at(h.pcName, h.ulNameLength + 1)
        value = ctypes.string_at(h.pcValue, h.ulValueLength + 1)
        assert name[-1:] == b"\0" and value[-1:] == b"\0", "header strings are NUL-terminated"
        assert all(c < 0x80 for c in name + value), "header strings are ASCII"
        out.append((name[:-1], value[:-1]))
    return out


def new_client(props=None):
    h = WEB_SOCKET_HANDLE()
    arr, n = props_array(props)
    assert CreateClientHandle(arr, n, byref(h)) == S_OK
    return h


def new_server(props=None):
    h = WEB_SOCKET_HANDLE()
    arr, n = props_array(props)
    assert CreateServerHandle(arr, n, byref(h)) == S_OK
    return h


def props_array(props):
    if not props:
        return None, 0
    arr = (WEB_SOCKET_PROPERTY * len(props))()
    for i, p in enumerate(props):
        arr[i] = p
    return arr, len(props)


def ulong_property(kind, value, size=4):
    cell = ULONG(value)
    prop = WEB_SOCKET_PROPERTY(kind, ctypes.addressof(cell), size)
    prop._keep = cell  # the value must outlive the call
    return prop


class Action:
    """One WebSocketGetAction call, outputs poisoned first."""

    def __init__(self, handle, queue, capacity):
        self.buffers = (WEB_SOCKET_BUFFER * 2)()
        ctypes.memset(self.buffers, 0xCD, sizeof(self.buffers))
        self.count = ULONG(capacity)
        self.action = WEB_SOCKET_ACTION(99)
        self.type = WEB_SOCKET_BUFFER_TYPE(0xDDDDDDDD)
        self.app_ctx = PVOID(SENTINEL)
        self.action_ctx = PVOID(SENTINEL)
        self.hr = GetAction(handle, queue, self.buffers, byref(self.count), byref(self.action),
                            byref(self.type), byref(self.app_ctx), byref(self.action_ctx))

    @property
    def kind(self):
        return self.action.value

    def data(self, i=0):
        b = self.buffers[i].Data
        return ctypes.string_at(b.pbBuffer, b.ulBufferLength) if b.ulBufferLength else b""

    def untouched(self, i):
        return ctypes.string_at(ctypes.addressof(self.buffers[i]), sizeof(WEB_SOCKET_BUFFER)) == b"\xcd" * sizeof(
            WEB_SOCKET_BUFFER)


class Fifo:
    def __init__(self):
        self.buf = bytearray()
        self.pos = 0

    def push(self, b):
        self.buf += b

    def pop_into(self, address, n):
        chunk = bytes(self.buf[self.pos:self.pos + n])
        ctypes.memmove(address, chunk, len(chunk))
        self.pos += len(chunk)
        if self.pos == len(self.buf):
            self.buf, self.pos = bytearray(), 0
        return len(chunk)

    def available(self):
        return len(self.buf) - self.pos

    def peek(self):
        return bytes(self.buf[self.pos:])


def handshake(client, server, host=True):
    hdrs, n = P_HEADER(), ULONG()
    assert BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)) == S_OK
    request = read_headers(hdrs, n.value)
    if host:
        request.append((b"Host", b"localhost"))
    req = Headers(request)
    resp, rn = P_HEADER(), ULONG()
    assert BeginServerHandshake(server, None, None, 0, req.array, req.count, byref(resp), byref(rn)) == S_OK
    assert EndClientHandshake(client, resp, rn.value, None, None, None) == S_OK
    assert EndServerHandshake(server) == S_OK
    return request, read_headers(resp, rn.value)


class Peer:
    """One handle of an in-memory pair: sends into `out`, receives from `into`."""

    def __init__(self, test, handle, into, out):
        self.t, self.h, self.into, self.out = test, handle, into, out

    def send(self, kind, payload=None, ctx=0x1234, null=False, status=None):
        if kind == CLOSE and not null:
            keep = ctypes.create_string_buffer(payload or b"", max(1, len(payload or b"")))
            buf = WEB_SOCKET_BUFFER()
            buf.CloseStatus.pbReason = ctypes.addressof(keep) if payload is not None else None
            buf.CloseStatus.ulReasonLength = len(payload or b"")
            buf.CloseStatus.usStatus = status
        elif not null:
            keep = ctypes.create_string_buffer(payload, max(1, len(payload)))
            buf = WEB_SOCKET_BUFFER()
            buf.Data.pbBuffer = ctypes.addressof(keep)
            buf.Data.ulBufferLength = len(payload)
        self.t.assertEqual(Send(self.h, kind, None if null else byref(buf), ctx), S_OK)
        while True:
            a = Action(self.h, SEND_QUEUE, 2)
            self.t.assertEqual(a.hr, S_OK)
            self.t.assertEqual(a.type.value, kind)
            self.t.assertEqual(a.app_ctx.value, ctx)
            if a.kind == INDICATE_SEND_COMPLETE:
                self.t.assertEqual(a.count.value, 0)
                CompleteAction(self.h, a.action_ctx, 0)
                break
            self.t.assertEqual(a.kind, SEND_TO_NETWORK)
            self.t.assertIn(a.count.value, (1, 2))
            total = 0
            for i in range(a.count.value):
                chunk = a.data(i)
                self.out.push(chunk)
                total += len(chunk)
            CompleteAction(self.h, a.action_ctx, total)
        self.t.assertEqual(Action(self.h, SEND_QUEUE, 2).kind, NO_ACTION)

    def receive(self, ctx=0x4321):
        """One receive operation: (type, bytes or None, status, pongs)."""
        self.t.assertEqual(Receive(self.h, None, ctx), S_OK)
        pongs = 0
        while True:
            a = Action(self.h, RECEIVE_QUEUE, 1)
            if a.hr != S_OK:
                return a.hr, None, None, pongs
            if a.kind == RECEIVE_FROM_NETWORK:
                self.t.assertEqual(a.count.value, 1)
                self.t.assertEqual(a.app_ctx.value, ctx)
                b = a.buffers[0].Data
                n = self.into.pop_into(b.pbBuffer, b.ulBufferLength)
                self.t.assertGreater(n, 0, "the library asks for bytes that never came")
                CompleteAction(self.h, a.action_ctx, n)
            elif a.kind == SEND_TO_NETWORK:
                self.t.assertEqual(a.count.value, 1)
                self.t.assertEqual(a.type.value, PING_PONG)
                self.t.assertEqual(a.app_ctx.value, SENTINEL)
                self.out.push(a.data())
                CompleteAction(self.h, a.action_ctx, len(a.data()))
                pongs += 1
            else:
                self.t.assertEqual(a.kind, INDICATE_RECEIVE_COMPLETE)
                self.t.assertEqual(a.count.value, 1)
                self.t.assertEqual(a.app_ctx.value, ctx)
                kind = a.type.value
                if kind == CLOSE:
                    c = a.buffers[0].CloseStatus
                    data = None if not c.pbReason else ctypes.string_at(c.pbReason, c.ulReasonLength)
                    status = c.usStatus
                else:
                    data, status = a.data(), None
                CompleteAction(self.h, a.action_ctx, a.buffers[0].Data.ulBufferLength)
                self.t.assertEqual(Action(self.h, RECEIVE_QUEUE, 1).kind, NO_ACTION)
                return kind, data, status, pongs

    def receive_message(self):
        """Concatenates FRAGMENT pieces up to the MESSAGE piece: (final type, bytes, pieces)."""
        parts, pieces = [], 0
        while True:
            kind, data, status, _ = self.receive()
            pieces += 1
            if kind not in (UTF8_FRAGMENT, UTF8_MESSAGE, BINARY_FRAGMENT, BINARY_MESSAGE):
                return kind, data, pieces
            parts.append(data)
            if kind in (UTF8_MESSAGE, BINARY_MESSAGE):
                return kind, b"".join(parts), pieces


class PairTestCase(unittest.TestCase):
    def setUp(self):
        self.client_h, self.server_h = new_client(), new_server()
        handshake(self.client_h, self.server_h)
        self.c2s, self.s2c = Fifo(), Fifo()
        self.client = Peer(self, self.client_h, self.s2c, self.c2s)
        self.server = Peer(self, self.server_h, self.c2s, self.s2c)

    def tearDown(self):
        DeleteHandle(self.client_h)
        DeleteHandle(self.server_h)


# ---- layout -------------------------------------------------------------------------------------


class TestLayout(unittest.TestCase):
    def test_sizes_and_offsets(self):
        ptr = sizeof(c_void_p)
        self.assertEqual(sizeof(ULONG), 4)
        self.assertEqual(sizeof(WEB_SOCKET_HANDLE), ptr)
        if ptr == 8:
            self.assertEqual(sizeof(WEB_SOCKET_PROPERTY), 24)
            self.assertEqual(sizeof(WEB_SOCKET_HTTP_HEADER), 32)
            self.assertEqual(sizeof(WEB_SOCKET_BUFFER), 16)
        else:
            self.assertEqual(sizeof(WEB_SOCKET_PROPERTY), 12)
            self.assertEqual(sizeof(WEB_SOCKET_HTTP_HEADER), 16)
            self.assertEqual(sizeof(WEB_SOCKET_BUFFER), 12)
        self.assertEqual(
            (WEB_SOCKET_PROPERTY.Type.offset, WEB_SOCKET_PROPERTY.pvValue.offset, WEB_SOCKET_PROPERTY.ulValueSize.offset),
            (0, ptr, 2 * ptr))
        self.assertEqual(
            [getattr(WEB_SOCKET_HTTP_HEADER, f).offset for f in ("pcName", "ulNameLength", "pcValue", "ulValueLength")],
            [0, ptr, 2 * ptr, 3 * ptr])
        self.assertEqual((WEB_SOCKET_BUFFER_DATA.pbBuffer.offset, WEB_SOCKET_BUFFER_DATA.ulBufferLength.offset),
                         (0, ptr))
        self.assertEqual(
            (WEB_SOCKET_BUFFER_CLOSE_STATUS.pbReason.offset, WEB_SOCKET_BUFFER_CLOSE_STATUS.ulReasonLength.offset,
             WEB_SOCKET_BUFFER_CLOSE_STATUS.usStatus.offset),
            (0, ptr, ptr + 4))

    def test_hresult_values(self):
        self.assertEqual(E_INVALID_PROTOCOL_OPERATION, -2089418751)
        self.assertEqual(E_PROTOCOL_VERSION_NOT_SUPPORTED, -2089418747)
        self.assertEqual(E_INVALIDARG, -2147024809)
        self.assertEqual(E_INSUFFICIENT_BUFFER, -2147024774)
        self.assertEqual(hresult(UTF8_MESSAGE), -2147483648)

    def test_void_exports_return_nothing(self):
        self.assertIsNone(DeleteHandle(None))
        self.assertIsNone(AbortHandle(None))
        self.assertIsNone(CompleteAction(None, None, 0))


# ---- handshake --------------------------------------------------------------------------------


class TestHandshake(unittest.TestCase):
    def test_sample_round_trip(self):
        client, server = new_client(), new_server()
        try:
            request, response = handshake(client, server)
            self.assertEqual([n for n, _ in request[:4]],
                             [b"Connection", b"Upgrade", b"Sec-WebSocket-Key", b"Sec-WebSocket-Version"])
            self.assertEqual(request[0][1], b"Upgrade")
            self.assertEqual(request[1][1], b"websocket")
            key = request[2][1]
            self.assertEqual(len(key), 24)
            self.assertTrue(key.endswith(b"=="))
            self.assertEqual(len(base64.b64decode(key)), 16)
            self.assertEqual(request[3][1], b"13")
            self.assertEqual(response, [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"),
                                        (b"Sec-WebSocket-Accept", accept_for(key))])
            # "Hello World" from the client on the ALL queue, into a server receive.
            text = ctypes.create_string_buffer(b"Hello World", 11)
            buf = WEB_SOCKET_BUFFER()
            buf.Data.pbBuffer, buf.Data.ulBufferLength = ctypes.addressof(text), 11
            self.assertEqual(Send(client, UTF8_MESSAGE, byref(buf), None), S_OK)
            a = Action(client, ALL_QUEUE, 2)
            self.assertEqual(a.kind, SEND_TO_NETWORK)
            wire = b"".join(a.data(i) for i in range(a.count.value))
            CompleteAction(client, a.action_ctx, len(wire))
            self.assertEqual(wire[:2], b"\x81\x8b")
            self.assertEqual(bytes(c ^ wire[2 + i % 4] for i, c in enumerate(wire[6:])), b"Hello World")
            a = Action(client, ALL_QUEUE, 2)
            self.assertEqual(a.kind, INDICATE_SEND_COMPLETE)
            self.assertEqual(a.count.value, 0)
            CompleteAction(client, a.action_ctx, 0)
            a = Action(client, ALL_QUEUE, 2)
            self.assertEqual((a.kind, a.count.value, a.action_ctx.value), (NO_ACTION, 0, None))

            self.assertEqual(Receive(server, None, None), S_OK)
            a = Action(server, ALL_QUEUE, 2)
            self.assertEqual((a.kind, a.count.value), (RECEIVE_FROM_NETWORK, 1))
            self.assertTrue(a.untouched(1))
            ctypes.memmove(a.buffers[0].Data.pbBuffer, wire, len(wire))
            CompleteAction(server, a.action_ctx, len(wire))
            a = Action(server, ALL_QUEUE, 2)
            self.assertEqual((a.kind, a.type.value, a.data()), (INDICATE_RECEIVE_COMPLETE, UTF8_MESSAGE, b"Hello World"))
            CompleteAction(server, a.action_ctx, 0)
            a = Action(server, ALL_QUEUE, 2)
            self.assertEqual((a.kind, a.count.value, a.type.value, a.action_ctx.value), (NO_ACTION, 0, 0, None))
            self.assertEqual(a.app_ctx.value, SENTINEL)
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def server_accept(self, pairs):
        server = new_server()
        try:
            req = Headers(pairs)
            resp, n = P_HEADER(), ULONG()
            hr = BeginServerHandshake(server, None, None, 0, req.array, req.count, byref(resp), byref(n))
            return hr, (read_headers(resp, n.value) if hr == S_OK else None)
        finally:
            DeleteHandle(server)

    def test_rfc_key_vector(self):
        hr, resp = self.server_accept([(b"Host", b"server.example.com"), (b"Upgrade", b"websocket"),
                                       (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
                                       (b"Sec-WebSocket-Version", b"13")])
        self.assertEqual(hr, S_OK)
        self.assertEqual(resp[2], (b"Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))

    def test_dotnet_fake_request(self):
        for host in (b"", None):
            hr, resp = self.server_accept([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"Host", host),
                                           (b"Sec-WebSocket-Version", b"13"),
                                           (b"Sec-WebSocket-Key", b"AAAAAAAAAAAAAAAAAAAAAA==")])
            self.assertEqual(hr, S_OK)
            self.assertEqual(resp, [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"),
                                    (b"Sec-WebSocket-Accept", b"ICX+Yqv66kxgM0FcWaLWlFLwTAI=")])

    def test_version_8_and_missing_version(self):
        base = [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"Sec-WebSocket-Key", b"AAAAAAAAAAAAAAAAAAAAAA==")]
        self.assertEqual(self.server_accept(base + [(b"Sec-WebSocket-Version", b"8")])[0], E_PROTOCOL_VERSION_NOT_SUPPORTED)
        self.assertEqual(self.server_accept(base)[0], E_INVALID_PROTOCOL_FORMAT)
        self.assertEqual(self.server_accept(base[1:] + [(b"Sec-WebSocket-Version", b"13")])[0], E_INVALID_PROTOCOL_FORMAT)

    def test_dotnet_version_probe_then_delete(self):
        client = new_client()
        initial = Headers([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")])
        hdrs, n = P_HEADER(), ULONG()
        self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, initial.array, 2, byref(hdrs), byref(n)), S_OK)
        found = {name.lower(): value for name, value in read_headers(hdrs, n.value)}
        self.assertEqual(found[b"sec-websocket-version"], b"13")
        DeleteHandle(client)  # no End

    def test_dotnet_server_with_allocated_buffer(self):
        rbs, sbs = 16384, 16
        size = rbs + sbs + 144
        array = (ctypes.c_ubyte * (1 + size + rbs + 24))()
        region = ctypes.addressof(array) + 1  # odd address
        values = ctypes.addressof(array) + 1 + size + rbs + 1  # odd, holds RBS, SBS, pointer
        ctypes.memmove(values, ULONG(rbs).value.to_bytes(4, "little") + sbs.to_bytes(4, "little")
                       + region.to_bytes(sizeof(c_void_p), "little"), 8 + sizeof(c_void_p))
        props = [WEB_SOCKET_PROPERTY(RECEIVE_BUFFER_SIZE, values, 4), WEB_SOCKET_PROPERTY(SEND_BUFFER_SIZE, values + 4, 4),
                 WEB_SOCKET_PROPERTY(ALLOCATED_BUFFER, values + 8, size)]
        server = new_server(props)
        try:
            hr, resp = None, None
            req = Headers([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"Host", b""),
                           (b"Sec-WebSocket-Version", b"13"), (b"Sec-WebSocket-Key", b"AAAAAAAAAAAAAAAAAAAAAA==")])
            out, n = P_HEADER(), ULONG()
            hr = BeginServerHandshake(server, None, None, 0, req.array, 5, byref(out), byref(n))
            self.assertEqual(hr, S_OK)
            self.assertEqual(EndServerHandshake(server), S_OK)
            self.assertEqual(Receive(server, None, None), S_OK)
            a = Action(server, RECEIVE_QUEUE, 1)
            self.assertEqual(a.kind, RECEIVE_FROM_NETWORK)
            b = a.buffers[0].Data
            self.assertTrue(region <= b.pbBuffer and b.pbBuffer + b.ulBufferLength <= region + size)
            self.assertLessEqual(b.ulBufferLength, rbs)
            CompleteAction(server, a.action_ctx, 0)
        finally:
            DeleteHandle(server)

    def test_subprotocol_and_extension_negotiation(self):
        client, server = new_client(), new_server()
        try:
            protocols = (c_char_p * 2)(b"chat", b"superchat")
            extensions = (c_char_p * 2)(b"permessage-foo", b"x-bar; p=1")
            hdrs, n = P_HEADER(), ULONG()
            self.assertEqual(BeginClientHandshake(client, protocols, 2, extensions, 2, None, 0, byref(hdrs), byref(n)), S_OK)
            request = read_headers(hdrs, n.value)
            self.assertEqual(request[4:], [(b"Sec-WebSocket-Protocol", b"chat, superchat"),
                                           (b"Sec-WebSocket-Extensions", b"permessage-foo, x-bar; p=1")])
            selected = (c_char_p * 1)(b"x-bar; p=1")
            req = Headers(request)
            resp, rn = P_HEADER(), ULONG()
            self.assertEqual(BeginServerHandshake(server, b"superchat", selected, 1, req.array, req.count, byref(resp),
                                                  byref(rn)), S_OK)
            self.assertEqual(read_headers(resp, rn.value)[3:], [(b"Sec-WebSocket-Protocol", b"superchat"),
                                                                (b"Sec-WebSocket-Extensions", b"x-bar; p=1")])
            proto, exts, count = ULONG(0xDEAD), (ULONG * 2)(0xDEAD, 0xDEAD), ULONG(2)
            self.assertEqual(EndClientHandshake(client, resp, rn.value, exts, byref(count), byref(proto)), S_OK)
            self.assertEqual((proto.value, count.value, exts[0], exts[1]), (1, 1, 1, 0xDEAD))
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def test_subprotocol_not_offered(self):
        client, server = new_client(), new_server()
        try:
            hdrs, n = P_HEADER(), ULONG()
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), S_OK)
            resp, rn = P_HEADER(), ULONG()
            self.assertEqual(BeginServerHandshake(server, b"chat", None, 0, hdrs, n.value, byref(resp), byref(rn)), S_OK)
            self.assertEqual(EndClientHandshake(client, resp, rn.value, None, None, None), E_SUBPROTOCOL_NOT_SUPPORTED)
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def test_extension_not_offered(self):
        client, server = new_client(), new_server()
        try:
            hdrs, n = P_HEADER(), ULONG()
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), S_OK)
            selected = (c_char_p * 1)(b"x-other")
            resp, rn = P_HEADER(), ULONG()
            self.assertEqual(BeginServerHandshake(server, None, selected, 1, hdrs, n.value, byref(resp), byref(rn)), S_OK)
            self.assertEqual(EndClientHandshake(client, resp, rn.value, None, None, None),
                             E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED)
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def test_wrong_accept(self):
        client = new_client()
        try:
            hdrs, n = P_HEADER(), ULONG()
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), S_OK)
            key = read_headers(hdrs, n.value)[2][1]
            bad = Headers([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"),
                           (b"Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")])
            self.assertEqual(EndClientHandshake(client, bad.array, 3, None, None, None), E_INVALID_PROTOCOL_FORMAT)
            good = Headers([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"),
                            (b"Sec-WebSocket-Accept", accept_for(key))])
            self.assertEqual(EndClientHandshake(client, good.array, 3, None, None, None), S_OK)
        finally:
            DeleteHandle(client)


# ---- a client/server pair ------------------------------------------------------------------------


def text_payload(n):
    """Valid UTF-8 of exactly n bytes with 1-4 byte characters."""
    chars = ["a", "\u00e9", "\u20ac", "\U0001F600"]
    out, i = bytearray(), 0
    while len(out) < n:
        c = chars[i % 4].encode()
        out += c if len(out) + len(c) <= n else b"x"
        i += 1
    return bytes(out)


def binary_payload(n, seed=1):
    return bytes((i * 131 + seed) & 0xFF for i in range(n))


class TestPair(PairTestCase):
    def test_messages_both_ways(self):
        for size in (0, 125, 126, 65536, 1 << 20):
            for kind, payload in ((UTF8_MESSAGE, text_payload(size)), (BINARY_MESSAGE, binary_payload(size))):
                for tx, rx, from_client in ((self.client, self.server, True), (self.server, self.client, False)):
                    with self.subTest(size=size, kind=hex(kind), client_sends=from_client):
                        tx.send(kind, payload)
                        wire = tx.out.peek()
                        self.assertEqual(wire[0], 0x81 if kind == UTF8_MESSAGE else 0x82)
                        self.assertEqual(bool(wire[1] & 0x80), from_client)
                        if not from_client:
                            header = 2 if size < 126 else 4 if size < 65536 else 10
                            self.assertEqual(wire[header:], payload)
                        got_kind, data, pieces = rx.receive_message()
                        self.assertEqual(got_kind, kind)
                        self.assertEqual(data, payload)
                        self.assertEqual(rx.into.available(), 0)
                        if size > 4096:
                            self.assertGreater(pieces, 1)

    def test_server_frame_bytes(self):
        self.server.send(UTF8_MESSAGE, b"Hello")
        self.assertEqual(self.s2c.peek(), bytes.fromhex("810548656c6c6f"))
        self.client.receive_message()
        self.server.send(BINARY_MESSAGE, b"\x00" * 200)
        self.assertEqual(self.s2c.peek()[:4], bytes.fromhex("827e00c8"))
        self.client.receive_message()

    def test_fragmented_send(self):
        text = text_payload(10000)
        cuts = [0, 3, 3, 5001, 10000]
        for i in range(4):
            kind = UTF8_MESSAGE if i == 3 else UTF8_FRAGMENT
            self.client.send(kind, text[cuts[i]:cuts[i + 1]])
        kind, data, pieces = self.server.receive_message()
        self.assertEqual((kind, data), (UTF8_MESSAGE, text))
        self.assertGreaterEqual(pieces, 3)
        self.server.send(BINARY_FRAGMENT, b"Hel")
        self.server.send(BINARY_MESSAGE, b"lo")
        self.assertEqual(self.s2c.peek(), bytes.fromhex("020348656c80026c6f"))
        self.assertEqual(self.client.receive_message()[:2], (BINARY_MESSAGE, b"Hello"))

    def test_ping_pong(self):
        self.client.send(UTF8_FRAGMENT, b"Hel")
        self.client.send(PING_PONG, b"p1")
        self.client.send(UTF8_MESSAGE, b"lo")
        kind, data, status, pongs = self.server.receive()
        self.assertEqual((kind, data), (UTF8_FRAGMENT, b"Hel"))
        kind, data, status, pongs = self.server.receive()
        self.assertEqual((kind, data, pongs), (UTF8_MESSAGE, b"lo", 1))
        self.assertEqual(self.s2c.peek(), b"\x8a\x02p1")  # the automatic pong
        kind, data, status, pongs = self.client.receive()
        self.assertEqual((kind, data), (PING_PONG, b"p1"))
        self.server.send(UNSOLICITED_PONG, null=True)
        self.assertEqual(self.s2c.peek(), b"\x8a\x00")
        self.assertEqual(self.client.receive()[:2], (PING_PONG, b""))
        # A server ping: the client answers with a masked pong while receiving the next message.
        self.server.send(PING_PONG, null=True)
        self.assertEqual(self.s2c.peek(), b"\x89\x00")
        self.server.send(UTF8_MESSAGE, b"x")
        kind, data, status, pongs = self.client.receive()
        self.assertEqual((kind, data, pongs), (UTF8_MESSAGE, b"x", 1))
        self.assertEqual(self.c2s.peek()[:2], b"\x8a\x80")
        self.assertEqual(len(self.c2s.peek()), 6)
        self.assertEqual(self.server.receive()[:2], (PING_PONG, b""))

    def test_close_client_first(self):
        self.client.send(CLOSE, b"bye", status=1000)
        self.assertEqual(self.server.receive()[:3], (CLOSE, b"bye", 1000))
        self.assertEqual(Receive(self.server_h, None, None), E_INVALID_PROTOCOL_OPERATION)
        self.server.send(CLOSE, b"", status=1001)  # non-NULL, empty reason
        self.assertEqual(self.s2c.peek(), b"\x88\x02\x03\xe9")
        self.assertEqual(self.client.receive()[:3], (CLOSE, b"", 1001))

    def test_close_server_first_without_payload(self):
        self.server.send(CLOSE, null=True)
        self.assertEqual(self.s2c.peek(), b"\x88\x00")
        self.assertEqual(self.client.receive()[:3], (CLOSE, None, 1005))
        reason = text_payload(MAX_CLOSE_REASON_LENGTH)
        self.client.send(CLOSE, reason, status=4000)
        self.assertEqual(self.server.receive()[:3], (CLOSE, reason, 4000))

    def test_send_rules_after_close(self):
        self.client.send(CLOSE, b"", status=1000)
        data = WEB_SOCKET_BUFFER()
        self.assertEqual(Send(self.client_h, UTF8_MESSAGE, byref(data), None), E_INVALID_PROTOCOL_OPERATION)
        self.assertEqual(Send(self.client_h, CLOSE, None, None), E_INVALID_PROTOCOL_OPERATION)
        self.assertEqual(Send(self.client_h, PING_PONG, None, None), S_OK)

    def test_abort(self):
        self.assertEqual(Receive(self.server_h, None, 7), S_OK)
        AbortHandle(self.server_h)
        self.assertEqual(Send(self.server_h, PING_PONG, None, None), E_INVALID_PROTOCOL_OPERATION)
        self.assertEqual(Receive(self.server_h, None, None), E_INVALID_PROTOCOL_OPERATION)
        a = Action(self.server_h, RECEIVE_QUEUE, 1)
        self.assertEqual((a.hr, a.kind, a.type.value, a.app_ctx.value), (S_OK, INDICATE_RECEIVE_COMPLETE, CLOSE, 7))
        c = a.buffers[0].CloseStatus
        self.assertEqual((c.pbReason, c.ulReasonLength, c.usStatus), (None, 0, 1006))
        CompleteAction(self.server_h, a.action_ctx, 0)
        self.assertEqual(Action(self.server_h, ALL_QUEUE, 2).kind, NO_ACTION)


# ---- concurrency (spec §11) ---------------------------------------------------------------------


class TestConcurrency(PairTestCase):
    """The server's send loop and receive loop run on two threads at once, as .NET runs them:
    user frames and automatic pongs share the outgoing stream under one write lock, and
    CompleteAction on one queue runs concurrently with GetAction on the other."""

    MESSAGES = 150

    def test_send_and_receive_loops_on_two_threads(self):
        # The client's frames (messages with pings between them) are produced up front.
        inbound = [binary_payload(37 * i % 3000, seed=i) for i in range(self.MESSAGES)]
        pings = 0
        for i, payload in enumerate(inbound):
            self.client.send(BINARY_MESSAGE, payload)
            if i % 5 == 0:
                self.client.send(PING_PONG, b"%d" % i)
                pings += 1
        outbound = [text_payload(53 * i % 5000) for i in range(self.MESSAGES)]
        wire_lock = threading.Lock()
        failures = []

        def send_loop():
            try:
                for i, payload in enumerate(outbound):
                    keep = ctypes.create_string_buffer(payload, max(1, len(payload)))
                    buf = WEB_SOCKET_BUFFER()
                    buf.Data.pbBuffer, buf.Data.ulBufferLength = ctypes.addressof(keep), len(payload)
                    assert Send(self.server_h, UTF8_MESSAGE, byref(buf), i + 1) == S_OK
                    for _ in range(10_000_000):
                        a = Action(self.server_h, SEND_QUEUE, 2)
                        assert a.hr == S_OK, a.hr
                        if a.kind == NO_ACTION:  # the channel is busy with a pong
                            continue
                        if a.kind == SEND_TO_NETWORK and a.type.value == PING_PONG:
                            # An automatic pong offered at a frame boundary: no context.
                            assert a.count.value == 1 and a.app_ctx.value == SENTINEL
                            with wire_lock:
                                self.s2c.push(a.data())
                            CompleteAction(self.server_h, a.action_ctx, len(a.data()))
                            pongs_sent[0] += 1
                            continue
                        assert a.app_ctx.value == i + 1
                        if a.kind == INDICATE_SEND_COMPLETE:
                            CompleteAction(self.server_h, a.action_ctx, 0)
                            break
                        assert a.kind == SEND_TO_NETWORK, a.kind
                        with wire_lock:
                            chunks = [a.data(k) for k in range(a.count.value)]
                            self.s2c.push(b"".join(chunks))
                        CompleteAction(self.server_h, a.action_ctx, sum(map(len, chunks)))
                    else:
                        raise AssertionError("send never completed")
            except Exception as e:  # reported by the main thread
                failures.append(("send", repr(e)))

        received, pongs_sent = [], [0]

        def receive_loop():
            try:
                parts = []
                while len(received) < self.MESSAGES:
                    assert Receive(self.server_h, None, 77) == S_OK
                    while True:
                        a = Action(self.server_h, RECEIVE_QUEUE, 1)
                        assert a.hr == S_OK, a.hr
                        if a.kind == RECEIVE_FROM_NETWORK:
                            b = a.buffers[0].Data
                            n = self.c2s.pop_into(b.pbBuffer, b.ulBufferLength)
                            assert n > 0, "starved"
                            CompleteAction(self.server_h, a.action_ctx, n)
                        elif a.kind == SEND_TO_NETWORK:
                            assert a.count.value == 1 and a.type.value == PING_PONG
                            with wire_lock:
                                self.s2c.push(a.data())
                            CompleteAction(self.server_h, a.action_ctx, len(a.data()))
                            pongs_sent[0] += 1
                        else:
                            assert a.kind == INDICATE_RECEIVE_COMPLETE, a.kind
                            parts.append(a.data())
                            kind = a.type.value
                            CompleteAction(self.server_h, a.action_ctx, 0)
                            if kind == BINARY_MESSAGE:
                                received.append(b"".join(parts))
                                parts = []
                            else:
                                assert kind == BINARY_FRAGMENT, hex(kind)
                            break
            except Exception as e:
                failures.append(("receive", repr(e)))

        threads = [threading.Thread(target=send_loop), threading.Thread(target=receive_loop)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)  # a hang guard only
        self.assertFalse(any(t.is_alive() for t in threads), "a loop hung")
        self.assertEqual(failures, [])
        self.assertEqual(received, inbound)
        # A pong deferred behind the send loop's last frame may still be due: it comes out now,
        # on the receive queue, with no receive pending (§9.2 rule 5).
        a = Action(self.server_h, RECEIVE_QUEUE, 1)
        if a.kind == SEND_TO_NETWORK:
            self.assertEqual((a.count.value, a.type.value), (1, PING_PONG))
            self.s2c.push(a.data())
            CompleteAction(self.server_h, a.action_ctx, len(a.data()))
            pongs_sent[0] += 1
            a = Action(self.server_h, RECEIVE_QUEUE, 1)
        self.assertEqual(a.kind, NO_ACTION)
        # Pongs not yet handed out are replaced by newer pings' (§9.6.4), so there are at most as
        # many pongs as pings, and at least one (for the last ping).
        self.assertGreaterEqual(pongs_sent[0], 1)
        self.assertLessEqual(pongs_sent[0], pings)
        # The client reads an intact stream: every message in order, and every pong.
        got, pongs = [], 0
        while len(got) < self.MESSAGES or pongs < pongs_sent[0]:
            kind, data, _ = self.client.receive_message()
            if kind == PING_PONG:
                pongs += 1
                continue
            self.assertEqual(kind, UTF8_MESSAGE)
            got.append(data)
        self.assertEqual(got, outbound)
        self.assertEqual(pongs, pongs_sent[0])
        self.assertEqual(self.s2c.available(), 0)


# ---- misuse ------------------------------------------------------------------------------------------


# ---- permessage-deflate (not in the SDK: WEB_SOCKET_PERMESSAGE_DEFLATE_PROPERTY_TYPE) ----------

PERMESSAGE_DEFLATE_PROPERTY_TYPE = 0x1000


class WEB_SOCKET_DEFLATE_SETTINGS(ctypes.Structure):
    _fields_ = [("fServerNoContextTakeover", c_int32), ("fClientNoContextTakeover", c_int32),
                ("ulServerMaxWindowBits", ULONG), ("ulClientMaxWindowBits", ULONG)]


def deflate_property(settings):
    prop = WEB_SOCKET_PROPERTY(PERMESSAGE_DEFLATE_PROPERTY_TYPE, ctypes.addressof(settings),
                               sizeof(settings))
    prop._keep = settings
    return prop


class TestDeflate(unittest.TestCase):
    def open(self, client_settings, server_settings):
        self.client_h = new_client([deflate_property(client_settings)])
        self.server_h = new_server([deflate_property(server_settings)])
        self.request, self.response = handshake(self.client_h, self.server_h)
        self.c2s, self.s2c = Fifo(), Fifo()
        self.client = Peer(self, self.client_h, self.s2c, self.c2s)
        self.server = Peer(self, self.server_h, self.c2s, self.s2c)

    def tearDown(self):
        if hasattr(self, "client_h"):
            DeleteHandle(self.client_h)
            DeleteHandle(self.server_h)

    def test_layout(self):
        self.assertEqual(sizeof(WEB_SOCKET_DEFLATE_SETTINGS), 16)

    def test_negotiated_and_compressed(self):
        self.open(WEB_SOCKET_DEFLATE_SETTINGS(), WEB_SOCKET_DEFLATE_SETTINGS())
        self.assertIn((b"Sec-WebSocket-Extensions", b"permessage-deflate; client_max_window_bits"),
                      self.request)
        self.assertIn((b"Sec-WebSocket-Extensions", b"permessage-deflate"), self.response)
        # RFC 7692 7.2.3.1 and 7.2.3.2: "Hello" twice with the shared window.
        self.server.send(UTF8_MESSAGE, b"Hello")
        self.assertEqual(self.s2c.peek(), bytes.fromhex("c107f248cdc9c90700"))
        self.assertEqual(self.client.receive_message()[:2], (UTF8_MESSAGE, b"Hello"))
        self.server.send(UTF8_MESSAGE, b"Hello")
        self.assertEqual(self.s2c.peek(), bytes.fromhex("c105f2001100 00".replace(" ", "")))
        self.assertEqual(self.client.receive_message()[:2], (UTF8_MESSAGE, b"Hello"))
        for size in (0, 1, 4096, 1 << 20):
            payload = text_payload(size)
            self.client.send(UTF8_MESSAGE, payload)
            wire = self.c2s.peek()
            self.assertEqual(wire[0], 0xC1)
            if size >= 4096:
                self.assertLess(len(wire), size // 2)
            kind, data, pieces = self.server.receive_message()
            self.assertEqual((kind, data), (UTF8_MESSAGE, payload))
            if size > 4096:
                self.assertGreater(pieces, 1)  # delivered in receive-buffer-sized pieces

    def test_window_and_context_parameters(self):
        c = WEB_SOCKET_DEFLATE_SETTINGS(1, 0, 9, 0)
        s = WEB_SOCKET_DEFLATE_SETTINGS(0, 1, 0, 8)
        self.open(c, s)
        self.assertIn((b"Sec-WebSocket-Extensions",
                       b"permessage-deflate; client_max_window_bits; server_max_window_bits=9; "
                       b"server_no_context_takeover"), self.request)
        self.assertIn((b"Sec-WebSocket-Extensions",
                       b"permessage-deflate; server_no_context_takeover; server_max_window_bits=9; "
                       b"client_no_context_takeover; client_max_window_bits=8"), self.response)
        for _ in range(2):  # no context takeover: the same bytes twice
            self.server.send(UTF8_MESSAGE, b"Hello")
            self.assertEqual(self.s2c.peek(), bytes.fromhex("c107f248cdc9c90700"))
            self.assertEqual(self.client.receive_message()[:2], (UTF8_MESSAGE, b"Hello"))

    def test_bad_settings_are_invalid_arguments(self):
        for bad in (WEB_SOCKET_DEFLATE_SETTINGS(0, 0, 7, 0), WEB_SOCKET_DEFLATE_SETTINGS(0, 0, 0, 16)):
            arr, n = props_array([deflate_property(bad)])
            h = WEB_SOCKET_HANDLE()
            self.assertEqual(CreateClientHandle(arr, n, byref(h)), E_INVALIDARG)
            self.assertEqual(CreateServerHandle(arr, n, byref(h)), E_INVALIDARG)
        short = deflate_property(WEB_SOCKET_DEFLATE_SETTINGS())
        short.ulValueSize = 12
        arr, n = props_array([short])
        self.assertEqual(CreateServerHandle(arr, n, byref(WEB_SOCKET_HANDLE())), E_INVALIDARG)


class TestMisuse(unittest.TestCase):
    def test_create_arguments(self):
        h = WEB_SOCKET_HANDLE(SENTINEL)
        self.assertEqual(CreateClientHandle(None, 0, None), E_INVALIDARG)
        self.assertEqual(CreateServerHandle(None, 1, byref(h)), E_INVALIDARG)
        self.assertEqual(h.value, SENTINEL)

    def test_bad_properties(self):
        cases = [
            ([ulong_property(RECEIVE_BUFFER_SIZE, 255)], E_INVALIDARG),
            ([ulong_property(RECEIVE_BUFFER_SIZE, 65537)], E_INVALIDARG),
            ([ulong_property(RECEIVE_BUFFER_SIZE, 256)], S_OK),
            ([ulong_property(SEND_BUFFER_SIZE, 15)], E_INVALIDARG),
            ([ulong_property(SEND_BUFFER_SIZE, 16)], S_OK),
            ([ulong_property(SEND_BUFFER_SIZE, 65537)], E_INVALIDARG),
            ([ulong_property(RECEIVE_BUFFER_SIZE, 1024, size=2)], E_INVALIDARG),
            ([ulong_property(7, 1)], E_INVALIDARG),
            ([ulong_property(-1, 1)], E_INVALIDARG),
            ([ulong_property(SUPPORTED_VERSIONS, 13)], E_INVALIDARG),
            ([ulong_property(KEEPALIVE_INTERVAL, 30000)], S_OK),
            ([WEB_SOCKET_PROPERTY(RECEIVE_BUFFER_SIZE, None, 4)], E_INVALIDARG),
        ]
        for props, want in cases:
            for create in (CreateClientHandle, CreateServerHandle):
                with self.subTest(props=[(p.Type, p.ulValueSize) for p in props], create=create.__name__):
                    arr, n = props_array(props)
                    h = WEB_SOCKET_HANDLE()
                    self.assertEqual(create(arr, n, byref(h)), want)
                    DeleteHandle(h)

    def test_allocated_buffer_size(self):
        region = (ctypes.c_ubyte * 1000)()
        slot = c_void_p(ctypes.addressof(region))
        for size, want in ((256 + 16 + 144, S_OK), (256 + 16 + 143, E_INVALIDARG)):
            props = [ulong_property(RECEIVE_BUFFER_SIZE, 256), ulong_property(SEND_BUFFER_SIZE, 16),
                     WEB_SOCKET_PROPERTY(ALLOCATED_BUFFER, ctypes.addressof(slot), size)]
            arr, n = props_array(props)
            h = WEB_SOCKET_HANDLE()
            self.assertEqual(CreateServerHandle(arr, n, byref(h)), want)
            DeleteHandle(h)
        null_slot = c_void_p(None)
        arr, n = props_array([WEB_SOCKET_PROPERTY(ALLOCATED_BUFFER, ctypes.addressof(null_slot), 10000)])
        h = WEB_SOCKET_HANDLE()
        self.assertEqual(CreateServerHandle(arr, n, byref(h)), E_INVALIDARG)

    def check_dead(self, h):
        hdrs, n = P_HEADER(), ULONG()
        self.assertEqual(BeginClientHandshake(h, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), E_INVALIDARG)
        self.assertEqual(EndClientHandshake(h, None, 0, None, None, None), E_INVALIDARG)
        req = Headers([(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"Sec-WebSocket-Version", b"13"),
                       (b"Sec-WebSocket-Key", b"AAAAAAAAAAAAAAAAAAAAAA==")])
        self.assertEqual(BeginServerHandshake(h, None, None, 0, req.array, 4, byref(hdrs), byref(n)), E_INVALIDARG)
        self.assertEqual(EndServerHandshake(h), E_INVALIDARG)
        self.assertEqual(Send(h, PING_PONG, None, None), E_INVALIDARG)
        self.assertEqual(Receive(h, None, None), E_INVALIDARG)
        a = Action(h, ALL_QUEUE, 2)
        self.assertEqual((a.hr, a.kind, a.count.value, a.action_ctx.value), (E_INVALIDARG, NO_ACTION, 0, None))
        CompleteAction(h, None, 0)
        AbortHandle(h)
        DeleteHandle(h)

    def test_bad_and_stale_handles(self):
        for value in (None, 1, 0x1234, (1 << (8 * sizeof(c_void_p))) - 1):
            with self.subTest(handle=value):
                self.check_dead(WEB_SOCKET_HANDLE(value))
        client, server = new_client(), new_server()
        handshake(client, server)
        DeleteHandle(client)
        DeleteHandle(client)  # double delete
        self.check_dead(client)
        other = new_client()
        self.assertNotEqual(other.value, client.value)
        DeleteHandle(client)  # stale: must not delete `other`
        hdrs, n = P_HEADER(), ULONG()
        self.assertEqual(BeginClientHandshake(other, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), S_OK)
        DeleteHandle(other)
        DeleteHandle(server)

    def test_null_pointers(self):
        client, server = new_client(), new_server()
        try:
            n = ULONG()
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, None, byref(n)), E_INVALIDARG)
            self.assertEqual(BeginClientHandshake(client, None, 1, None, 0, None, 0, byref(P_HEADER()), byref(n)),
                             E_INVALIDARG)
            handshake(client, server)
            buf = WEB_SOCKET_BUFFER()
            buf.Data.pbBuffer, buf.Data.ulBufferLength = None, 5
            self.assertEqual(Send(server, BINARY_MESSAGE, byref(buf), None), E_INVALIDARG)
            self.assertEqual(Receive(server, byref(buf), None), E_INVALIDARG)
            for bad in (0, 0x80000007, 0xFFFFFFFF):
                self.assertEqual(Send(server, bad, None, None), E_INVALIDARG)
            for queue in (0, 4, -1):
                a = Action(server, queue, 2)
                self.assertEqual((a.hr, a.kind, a.count.value, a.action_ctx.value), (E_INVALIDARG, NO_ACTION, 0, None))
            a = Action(server, ALL_QUEUE, 0)
            self.assertEqual(a.hr, E_INVALIDARG)
            action, kind, ctx, count = WEB_SOCKET_ACTION(), WEB_SOCKET_BUFFER_TYPE(), PVOID(), ULONG(1)
            bufs = (WEB_SOCKET_BUFFER * 1)()
            self.assertEqual(GetAction(server, ALL_QUEUE, None, byref(count), byref(action), byref(kind), None,
                                       byref(ctx)), E_INVALIDARG)
            self.assertEqual(GetAction(server, ALL_QUEUE, bufs, byref(count), None, byref(kind), None, byref(ctx)),
                             E_INVALIDARG)
            self.assertEqual(GetAction(server, ALL_QUEUE, bufs, byref(count), byref(action), byref(kind), None, None),
                             E_INVALIDARG)
            self.assertEqual(count.value, 0)  # a failed call writes count 0 (and NO_ACTION, NULL token)
            count.value = 1
            self.assertEqual(GetAction(server, ALL_QUEUE, bufs, byref(count), byref(action), byref(kind), None,
                                       byref(ctx)), S_OK)  # the application context is optional
            self.assertEqual(action.value, NO_ACTION)
            reason = ctypes.create_string_buffer(124)
            close = WEB_SOCKET_BUFFER()
            close.CloseStatus.pbReason, close.CloseStatus.ulReasonLength, close.CloseStatus.usStatus = (
                ctypes.addressof(reason), 124, 1000)
            self.assertEqual(Send(server, CLOSE, byref(close), None), E_INVALIDARG)
            ping = WEB_SOCKET_BUFFER()
            ping.Data.pbBuffer, ping.Data.ulBufferLength = ctypes.addressof(reason), 126
            self.assertEqual(Send(server, PING_PONG, byref(ping), None), E_INVALIDARG)
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def test_wrong_state(self):
        client, server = new_client(), new_server()
        try:
            self.assertEqual(Send(client, PING_PONG, None, None), E_INVALID_PROTOCOL_OPERATION)
            self.assertEqual(Receive(server, None, None), E_INVALID_PROTOCOL_OPERATION)
            self.assertEqual(EndClientHandshake(client, None, 0, None, None, None), E_INVALID_PROTOCOL_OPERATION)
            self.assertEqual(EndServerHandshake(server), E_INVALID_PROTOCOL_OPERATION)
            self.assertEqual(EndServerHandshake(client), E_INVALIDARG)
            hdrs, n = P_HEADER(), ULONG()
            self.assertEqual(BeginClientHandshake(server, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), E_INVALIDARG)
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)), S_OK)
            self.assertEqual(BeginClientHandshake(client, None, 0, None, 0, None, 0, byref(hdrs), byref(n)),
                             E_INVALID_PROTOCOL_OPERATION)
        finally:
            DeleteHandle(client)
            DeleteHandle(server)

    def test_global_property(self):
        value, size = ULONG(0), ULONG(4)
        self.assertEqual(GetGlobalProperty(KEEPALIVE_INTERVAL, byref(value), byref(size)), S_OK)
        self.assertEqual((value.value, size.value), (30000, 4))
        versions, size = (ULONG * 2)(0xDEAD, 0xDEAD), ULONG(8)
        self.assertEqual(GetGlobalProperty(SUPPORTED_VERSIONS, versions, byref(size)), S_OK)
        self.assertEqual((versions[0], versions[1], size.value), (13, 0xDEAD, 4))
        value, size = ULONG(0xDEAD), ULONG(0)
        self.assertEqual(GetGlobalProperty(KEEPALIVE_INTERVAL, byref(value), byref(size)), E_INSUFFICIENT_BUFFER)
        self.assertEqual((value.value, size.value), (0xDEAD, 4))
        self.assertEqual(GetGlobalProperty(KEEPALIVE_INTERVAL, None, byref(size)), E_INVALIDARG)
        self.assertEqual(GetGlobalProperty(KEEPALIVE_INTERVAL, byref(value), None), E_INVALIDARG)
        for kind in (0, 1, 2, 3, 4, 7, -1):
            size = ULONG(4)
            self.assertEqual(GetGlobalProperty(kind, byref(value), byref(size)), E_INVALIDARG)


if __name__ == "__main__":
    unittest.main()
