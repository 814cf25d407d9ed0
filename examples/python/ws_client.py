#!/usr/bin/env python3
"""WebSocket client in Python over websocket.h through ctypes (standard library only).

    ws_client.py [--binary] [--close CODE[:REASON]] [--echo] ws://HOST[:PORT][/PATH] [MESSAGE...]

The same behaviour and output as examples/client.c: sends each MESSAGE (or each line of
standard input when none is given), prints "text: ..." / "binary: N bytes" for every message
received, waits (at most 10 s) until as many messages came back as were sent, then closes
(status 1000 by default; 1005 sends a close frame without payload) and prints
"close: STATUS REASON" as answered by the server. With --echo it echoes every message back
until the server closes. Exit status 0 when the close handshake completed, else 1.
The library comes from $WEBSOCKET_LIB or target/{release,debug}.
"""

import argparse
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import wsapi


def handshake(lib, h, sock, host, path):
    """Request with the library's headers; status line checked here; response to the library."""
    initial, n, keep = wsapi.headers_array([(b"Host", host.encode())])
    out, out_count = wsapi.POINTER(wsapi.WEB_SOCKET_HTTP_HEADER)(), wsapi.c_uint32()
    wsapi.check(
        "WebSocketBeginClientHandshake",
        lib.WebSocketBeginClientHandshake(h, None, 0, None, 0, initial, n, wsapi.byref(out), wsapi.byref(out_count)),
    )
    request = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
    for name, value in wsapi.read_headers(out, out_count.value):
        request += name + b": " + value + b"\r\n"
    sock.sendall(request + b"User-Agent: websocket-example-client (python)\r\n\r\n")
    head, rest = wsapi.split_head(sock)
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ")
    if len(status) < 2 or status[0] != b"HTTP/1.1" or status[1] != b"101":
        raise ConnectionError("server refused the upgrade: %s" % lines[0].decode("latin-1"))
    arr, count, keep2 = wsapi.headers_array(wsapi.parse_header_lines(lines[1:]))
    wsapi.check("WebSocketEndClientHandshake", lib.WebSocketEndClientHandshake(h, arr, count, None, None, None))
    return rest


def receiver(conn, echo, state):
    """The receive loop: prints every message; echoes it with --echo; answers the server's close."""
    parts = []
    try:
        while True:
            r = conn.receive()
            if r.kind == "pong":
                continue
            if r.kind == "close":
                if conn.eof and r.status == wsapi.ABORTED_CLOSE_STATUS:
                    print("ws_client: connection closed without a close frame", file=sys.stderr)
                    state["failed"] = True
                    return
                reason = r.reason or b""
                sys.stdout.write("close: %d %s\n" % (r.status, reason.decode("utf-8", "replace")))
                sys.stdout.flush()
                state["close_received"] = True
                if r.reason is None:
                    conn.send_close(wsapi.EMPTY_CLOSE_STATUS)
                else:
                    conn.send_close(r.status, r.reason)
                return
            parts.append(r.data)
            if not r.final:
                continue
            data, parts = b"".join(parts), []
            if r.binary:
                sys.stdout.write("binary: %d bytes\n" % len(data))
            else:
                sys.stdout.write("text: %s\n" % data.decode("utf-8", "replace"))
            sys.stdout.flush()
            state["received"] += 1
            if echo:
                conn.send(data, binary=r.binary)
    except (wsapi.WebSocketError, ConnectionError) as e:
        print("ws_client: %s" % e, file=sys.stderr)
        state["failed"] = True
        conn.failed = True
        try:
            conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description="WebSocket client over websocket.h (ctypes)")
    p.add_argument("--binary", action="store_true", help="send the messages as binary")
    p.add_argument("--close", default="1000", metavar="CODE[:REASON]")
    p.add_argument("--echo", action="store_true", help="echo every message until the server closes")
    p.add_argument("url")
    p.add_argument("messages", nargs="*")
    args = p.parse_args()
    code, _, reason = args.close.partition(":")
    close_status, close_reason = int(code), reason.encode()

    u = urlsplit(args.url)
    if u.scheme != "ws" or not u.hostname:
        p.error("not a ws:// URL: %s" % args.url)
    port = u.port or 80
    host_header = ("[%s]" % u.hostname if ":" in u.hostname else u.hostname) + (":%d" % port if port != 80 else "")
    path = (u.path or "/") + ("?" + u.query if u.query else "")

    lib = wsapi.load()
    sock = socket.create_connection((u.hostname, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    h = wsapi.c_void_p()
    # No properties: the library's default buffer sizes (examples/client.c sets its own).
    wsapi.check("WebSocketCreateClientHandle", lib.WebSocketCreateClientHandle(None, 0, wsapi.byref(h)))
    try:
        rest = handshake(lib, h, sock, host_header, path)
    except (wsapi.WebSocketError, ConnectionError, ValueError, OSError) as e:
        print("ws_client: %s" % e, file=sys.stderr)
        lib.WebSocketDeleteHandle(h)
        sock.close()
        return 1

    stop = threading.Event()
    conn = wsapi.Connection(lib, h, sock, rest)
    state = {"failed": False, "close_received": False, "received": 0}
    t = threading.Thread(target=receiver, args=(conn, args.echo, state), daemon=True)
    t.start()
    try:
        if not args.echo:
            source = args.messages if args.messages else (line.rstrip("\r\n") for line in sys.stdin)
            sent = 0
            for m in source:
                if stop.is_set() or not t.is_alive():
                    break
                if not conn.send(m.encode("utf-8", "surrogateescape"), binary=args.binary):
                    break
                sent += 1
            # Wait for the replies before closing (at most 10 s): a peer may stop sending as
            # soon as our close arrives.
            deadline = time.monotonic() + 10
            while state["received"] < sent and t.is_alive() and time.monotonic() < deadline:
                t.join(0.005)
        while args.echo and t.is_alive() and not stop.is_set():
            t.join(0.05)
        if not state["failed"]:
            if args.echo and stop.is_set():
                conn.send_close(1001)
            else:
                conn.send_close(close_status, close_reason)
    except KeyboardInterrupt:
        stop.set()
        conn.send_close(1001)
    except (wsapi.WebSocketError, ConnectionError) as e:
        print("ws_client: %s" % e, file=sys.stderr)
        state["failed"] = True
        conn.failed = True
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the receiver
        except OSError:
            pass
    t.join()

    ok = state["close_received"] and not state["failed"]
    if not ok:
        conn.abort_and_drain()
    lib.WebSocketDeleteHandle(h)
    if ok:  # the server closes the TCP connection first
        try:
            sock.settimeout(2.0)
            while sock.recv(4096):
                pass
        except OSError:
            pass
    sock.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
