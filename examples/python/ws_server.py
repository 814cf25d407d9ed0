#!/usr/bin/env python3
"""WebSocket echo server in Python over websocket.h through ctypes (standard library only).

    ws_server.py [--addr HOST:PORT] [--max-message BYTES] [--verbose]

The same behaviour as examples/echo_server.c: one thread per connection; the HTTP request is
parsed here and its headers go to WebSocketBeginServerHandshake; every message is echoed whole
with its type (pieces reassembled, up to --max-message bytes, else close 1009); a close is
answered with the same status and reason; a protocol violation reported by WebSocketGetAction
aborts the handle, drains both queues and drops the connection. A plain GET gets a short text
page. Prints "listening on http://HOST:PORT/" when ready; Ctrl-C or SIGTERM closes every
connection with 1001 and exits. The library comes from $WEBSOCKET_LIB or target/{release,debug}.
"""

import argparse
import signal
import socket
import sys
import threading
import time

import wsapi

lib = None
stop = threading.Event()
verbose = False


def log(*args):
    if verbose:
        print("ws_server:", *args, file=sys.stderr, flush=True)


def respond(sock, status, body, extra=""):
    body = body.encode()
    head = (
        "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n"
        % (status, len(body), extra)
    )
    try:
        sock.sendall(head.encode() + body)
    except OSError:
        pass


def has_token(headers, name, token):
    for n, v in headers:
        if n.lower() == name:
            if any(item.strip(b" \t").lower() == token for item in v.split(b",")):
                return True
    return False


def close_gracefully(sock):
    """The server closes the TCP connection first: FIN, then wait briefly for the client's FIN."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2.0)
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()


def session(conn, max_message, cid):
    """The WebSocket part. Returns True when the close handshake completed."""
    parts, size, too_big = [], 0, False
    while True:
        r = conn.receive()
        if r.kind == "pong":
            continue
        if r.kind == "close":
            if conn.eof and r.status == wsapi.ABORTED_CLOSE_STATUS:
                log(cid, "connection lost without a close")
                return False
            log(cid, "close", r.status, r.reason)
            if r.reason is None:
                conn.send_close(wsapi.EMPTY_CLOSE_STATUS)
            else:
                conn.send_close(r.status, r.reason)
            return True
        if not too_big:
            size += len(r.data)
            if size > max_message:  # refused at once, not read to its end
                too_big, parts = True, []
                print("ws_server: %d: message over %d bytes; closing with 1009" % (cid, max_message), file=sys.stderr)
                conn.send_close(1009, b"message too big")
            else:
                parts.append(r.data)
        if not r.final:
            continue
        if not too_big:
            conn.send(b"".join(parts), binary=r.binary)
        parts, size, too_big = [], 0, False


def handle(sock, max_message, cid):
    try:
        head, rest = wsapi.split_head(sock, timeout=10.0)
        lines = head.split(b"\r\n")
        method, path, version = lines[0].split(b" ", 2)
        headers = wsapi.parse_header_lines(lines[1:])
    except (ValueError, OSError):
        respond(sock, "400 Bad Request", "bad request\n")
        close_gracefully(sock)
        return
    if not has_token(headers, b"upgrade", b"websocket"):
        if path == b"/":
            respond(sock, "200 OK", "WebSocket echo server (Python, ctypes): connect with ws://\n")
        else:
            respond(sock, "404 Not Found", "not found\n")
        close_gracefully(sock)
        return

    h = wsapi.c_void_p()
    # No properties: the library's default buffer sizes (examples/echo_server.c sets its own).
    wsapi.check("WebSocketCreateServerHandle", lib.WebSocketCreateServerHandle(None, 0, wsapi.byref(h)))
    clean = False
    try:
        arr, n, keep_headers = wsapi.headers_array(headers)
        out, out_count = wsapi.POINTER(wsapi.WEB_SOCKET_HTTP_HEADER)(), wsapi.c_uint32()
        hr = lib.WebSocketBeginServerHandshake(h, None, None, 0, arr, n, wsapi.byref(out), wsapi.byref(out_count))
        if hr < 0:
            if hr == wsapi.E_PROTOCOL_VERSION_NOT_SUPPORTED:
                respond(sock, "426 Upgrade Required", "unsupported version\n", "Sec-WebSocket-Version: 13\r\n")
            else:
                respond(sock, "400 Bad Request", "bad WebSocket handshake\n")
            close_gracefully(sock)
            return
        response = b"HTTP/1.1 101 Switching Protocols\r\n"
        for name, value in wsapi.read_headers(out, out_count.value):
            response += name + b": " + value + b"\r\n"
        sock.sendall(response + b"\r\n")
        wsapi.check("WebSocketEndServerHandshake", lib.WebSocketEndServerHandshake(h))
        log(cid, "open", path.decode("latin-1"))

        conn = wsapi.Connection(lib, h, sock, rest, stop=stop)
        conn.on_stop = lambda c: c.send_close(1001, b"server shutting down")
        try:
            clean = session(conn, max_message, cid)
        except (wsapi.WebSocketError, ConnectionError) as e:
            print("ws_server: %d: %s; aborting" % (cid, e), file=sys.stderr)
            clean = False
        if not clean:
            conn.abort_and_drain()
    except OSError as e:  # the socket failed during the handshake
        print("ws_server: %d: %s" % (cid, e), file=sys.stderr)
    finally:
        lib.WebSocketDeleteHandle(h)
    if clean:
        close_gracefully(sock)
    else:
        sock.close()
    log(cid, "closed" if clean else "aborted")


def main():
    global lib, verbose
    p = argparse.ArgumentParser(description="WebSocket echo server over websocket.h (ctypes)")
    p.add_argument("--addr", default="127.0.0.1:9001", help="HOST:PORT (port 0 picks a free port)")
    p.add_argument("--max-message", type=int, default=64 * 1024 * 1024)
    p.add_argument("--verbose", "-v", action="store_true")
    args = p.parse_args()
    verbose = args.verbose
    lib = wsapi.load()

    host, _, port = args.addr.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, int(port)))
        listener.listen(128)
    except OSError as e:
        print("ws_server: cannot listen on %s: %s" % (args.addr, e), file=sys.stderr)
        return 1
    bound = listener.getsockname()
    shown = "[%s]" % bound[0] if family == socket.AF_INET6 else bound[0]
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("listening on http://%s:%d/" % (shown, bound[1]), flush=True)
    threads, cid = [], 0
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            sock, _ = listener.accept()
        except (socket.timeout, InterruptedError):
            continue
        except OSError:
            if stop.is_set():
                break
            raise
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid += 1
        t = threading.Thread(target=handle, args=(sock, args.max_message, cid), daemon=True)
        t.start()
        threads = [x for x in threads if x.is_alive()] + [t]
    listener.close()
    print("ws_server: shutting down", file=sys.stderr, flush=True)
    deadline = time.monotonic() + 10
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return 0 if not any(t.is_alive() for t in threads) else 1


if __name__ == "__main__":
    sys.exit(main())
