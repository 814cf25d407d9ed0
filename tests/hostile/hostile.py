#!/usr/bin/env python3
"""Hostile-peer tests against examples/build/echo_server over loopback (Python 3 stdlib only).

One echo server (--max-message 1 MiB) serves the whole run. Every case
  (a) runs a hostile peer (slow, stalled, lying about lengths, flooding, ...),
  (b) meanwhile runs a "canary" thread of well-behaved clients (connect, text + 70 000-byte binary
      + fragmented text echoes, close handshake 1000) and, while the hostile peer is still
      connected, one more well-behaved client (Python raw, sometimes examples/build/client);
  (c) measures the server's memory during the case: VmHWM, reset to the current RSS at the start
      of the case (5 > /proc/<pid>/clear_refs), gives the exact RSS peak; VmRSS, VmSize and the
      thread count are also sampled every 20 ms; the peak must stay under a fixed bound (below);
  (d) after the hostile peers are gone, waits until the server is back to its main thread alone
      (every connection thread ended: nothing leaked, nothing stuck).
At the end the server must still be alive; SIGTERM (with three idle hostile peers connected) must
make it exit with status 0.

MEMORY BOUNDS. The server runs with glibc malloc told to hand freed memory back (large blocks
mmap-ed, heap top trimmed: see server_env), so RSS falls back after each case and a case's growth
is measured from a true starting point; program logic is unchanged and leaked memory stays in
RSS. The baseline (RSS once the first well-behaved client was served) is about 2.3 MiB. A correct
server needs, per connection: a thread stack (a few touched pages), its struct conn (16 KiB
request buffer), the library handle (16 KiB receive buffer + send buffer): measured about 35 KiB
per idle connection (200 half-open connections: +7 MiB); plus, for a connection that reassembles
a message, at most --max-message (1 MiB), the realloc briefly holding 1.5 MiB. Hence each case's
peak RSS must stay under
    RSS at the start of the case + SLACK (4 MiB: canary and well-behaved connections, malloc
    arenas of new threads) + per hostile connection IDLE_CONN (64 KiB) or MSG_CONN (2.5 MiB, for
    one that may reassemble a message up to the limit),
and under baseline + 48 MiB in any case. Observed growth is below 1.1 MiB in every case but the
200 half-open connections. What the bounds catch: allocating by a frame's announced length (2^32
bytes and more), keeping the pings of a flood (50 000 x 100 bytes = 5 MB) or unsent pongs,
keeping 100 000 fragments or per-fragment bookkeeping (>= 4.8 MB), buffering an over-limit
message, buffering echoes for a peer that does not read, or leaking per connection (also checked
directly: RSS after 50 stalled peers may exceed RSS after the first 10 by at most 1 MiB, where a
leak of 32 KiB per connection already fails). For the length-claim case VmSize is checked too, as
an untouched 4 GiB allocation would not show in RSS: it may grow by at most 2 GiB (new thread
stacks and malloc arenas take 8 and 64 MiB of address space each, at most 16 arenas).
Checked by running the suite against two broken copies of echo_server.c (one leaking its conn and
handle per connection, one ignoring --max-message): 5 and 2 cases fail respectively.

Output: "PASS <case>" / "FAIL <case>: <why>" lines and "MEM <case>: ..." lines with the figures;
tests/hostile/run.sh counts them. Every process and socket started here is closed; every wait has
a (generous) guard timeout; nothing asserts on timing.
"""

import base64
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
import peer as P  # noqa: E402  (raw-socket frame builder and reader of the conformance suite)

SERVER = os.environ.get("HOSTILE_SERVER") or os.path.join(ROOT, "examples", "build", "echo_server")
CLIENT = os.path.join(ROOT, "examples", "build", "client")
MAX_MESSAGE = 1 << 20
KIB = 1024
MIB = 1024 * 1024
SLACK = 4 * MIB
IDLE_CONN = 64 * KIB
MSG_CONN = 5 * MIB // 2
HWM_CAP = 48 * MIB
VMSIZE_CLAIM_CAP = 2048 * MIB
GUARD = 30.0          # generous guard for any single wait (never a timing assertion)

passed = 0
failed = 0


def say(line):
    print(line, flush=True)


# ---- server and its memory -----------------------------------------------------------------

def server_env():
    """The server's environment: glibc's malloc told to give freed memory back (large blocks
    always mmap-ed, the heap top trimmed early), so that RSS falls back after a case and each
    case's growth is measured against a true baseline. Program logic is unchanged and a leak
    stays in RSS. HOSTILE_MALLOC_DEFAULTS=1 keeps glibc's defaults."""
    env = dict(os.environ)
    if not os.environ.get("HOSTILE_MALLOC_DEFAULTS"):
        env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072"
    return env


class Server:
    def __init__(self, log_path):
        self.log_path = log_path
        self.proc = None
        self.port = None

    def start(self):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [SERVER, "--addr", "127.0.0.1:0", "--max-message", str(MAX_MESSAGE)],
            stdout=subprocess.PIPE, stderr=log, cwd=ROOT, start_new_session=True, env=server_env())
        log.close()
        pidfile = os.environ.get("HOSTILE_PIDFILE")
        if pidfile:
            with open(pidfile, "w") as f:
                f.write("%d\n" % self.proc.pid)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise RuntimeError("echo_server printed no 'listening on' line")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("echo_server exited before listening")
            buf += chunk
        sel.close()
        line = buf.split(b"\n", 1)[0].decode()
        m = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            raise RuntimeError("unexpected first line %r" % line)
        self.port = int(m.group(1))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                return None
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def proc_status(pid):
    """VmRSS, VmHWM, VmSize (bytes) and Threads of a process, or None once it is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "VmSize"):
                    out[key] = int(value.split()[0]) * 1024
                elif key == "Threads":
                    out[key] = int(value)
    except (OSError, ValueError):
        return None
    return out if len(out) == 4 else None


class Sampler:
    """A case's peaks: VmRSS, VmSize and Threads sampled every 20 ms, and the exact RSS peak from
    VmHWM, which begin() resets to the current RSS (writing 5 to /proc/<pid>/clear_refs, Linux
    4.0+; where that is refused, the sampled peaks are all there is)."""

    def __init__(self, pid):
        self.pid = pid
        self.lock = threading.Lock()
        self.stop_flag = False
        self.peak = None
        self.samples = 0
        self.t0 = time.monotonic()
        self.hwm_reset = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_flag:
            self._sample()
            time.sleep(0.02)

    def _sample(self):
        s = proc_status(self.pid)
        if s is None:
            return None
        with self.lock:
            self.samples += 1
            if self.peak is not None:
                for k in ("VmRSS", "VmSize", "Threads", "VmHWM"):
                    self.peak[k] = max(self.peak[k], s[k])
        return s

    def reset_hwm(self):
        try:
            with open("/proc/%d/clear_refs" % self.pid, "w") as f:
                f.write("5")
        except OSError:
            self.hwm_reset = False

    def begin(self):
        self.reset_hwm()
        s = proc_status(self.pid)
        with self.lock:
            self.peak = dict(s) if s else None
            self.samples = 0
            self.t0 = time.monotonic()
        return s

    def end(self):
        """The case's peaks; "peak" is the larger of the sampled VmRSS and the VmHWM."""
        self._sample()
        with self.lock:
            p, self.peak = self.peak, None
        if p is not None:
            p["samples"] = self.samples
            p["seconds"] = time.monotonic() - self.t0
            p["peak"] = max(p["VmRSS"], p["VmHWM"])
        return p

    def close(self):
        self.stop_flag = True
        self.thread.join(5)


def wait_threads(pid, want, timeout=GUARD):
    """Waits until the server has `want` threads; returns the last count seen."""
    deadline = time.monotonic() + timeout
    n = None
    while time.monotonic() < deadline:
        s = proc_status(pid)
        if s is None:
            return None
        n = s["Threads"]
        if n <= want:
            return n
        time.sleep(0.05)
    return n


# ---- peers ---------------------------------------------------------------------------------

def connect(port):
    """A Peer (tests/conformance/peer.py) after the opening handshake: it reads and parses
    everything the server sends in a background thread."""
    return P.client_connect("127.0.0.1", port, timeout=GUARD)


def raw_connect(port, path="/", rcvbuf=None):
    """Opening handshake on a plain socket that nobody reads afterwards. Returns the socket.
    rcvbuf: SO_RCVBUF set before connecting (a small one makes the server's writes block)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(GUARD)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (path, port, key)).encode())
    head, rest = P._read_head(s, GUARD)
    if not head.startswith("HTTP/1.1 101"):
        s.close()
        raise AssertionError("no 101: %r" % head.split("\r\n")[0])
    assert rest == b"", "server sent frames right after the 101"
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reset_close(sock):
    """Closes with RST (SO_LINGER 0): the harshest way to go away."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    sock.close()


def masked_header(opcode, length, fin=True, key=None):
    """A client frame header announcing `length` (any value below 2^64), and its mask key."""
    key = key or os.urandom(4)
    b0 = (0x80 if fin else 0) | opcode
    if length <= 125:
        head = bytes([b0, 0x80 | length])
    elif length <= 0xFFFF:
        head = bytes([b0, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([b0, 0x80 | 127]) + length.to_bytes(8, "big")
    return head + key, key


def mask_at(data, key, offset):
    """Masks payload bytes that start `offset` bytes into the frame's payload."""
    k = key[offset % 4:] + key[:offset % 4]
    return P.apply_mask(data, k)


def tiny_frame(opcode, byte_or_empty, fin, key=b"\x5a\xa5\x3c\xc3"):
    """A masked frame with a 0- or 1-byte payload, built fast (for 100 000-frame floods)."""
    b0 = (0x80 if fin else 0) | opcode
    if not byte_or_empty:
        return bytes([b0, 0x80]) + key
    return bytes([b0, 0x81]) + key + bytes([byte_or_empty[0] ^ key[0]])


def messages(p):
    return [e for e in p.snapshot() if e[0] == "message"]


def expect_close(p, code, timeout=GUARD):
    ok = p.wait(lambda q: q.close_received is not None, timeout)
    assert ok, "no close frame from the server (ended=%r)" % p.ended
    got = p.close_received[0]
    assert got == code, "close %r from the server, expected %r" % (got, code)


def expect_dropped(p, timeout=GUARD):
    """The server failed the connection: TCP ended, no close frame (the example aborts)."""
    ok = p.wait_end(timeout)
    assert ok, "the server did not drop the connection"
    assert p.close_received is None, "close frame %r instead of a dropped connection" % (
        p.close_received,)


# ---- well-behaved clients -------------------------------------------------------------------

def well_behaved(port, tag="wb"):
    """Connects, checks three echoes (text, 70 000-byte binary, fragmented text) and the close
    handshake. Raises AssertionError on anything wrong."""
    p = connect(port)
    try:
        text = "hello %s \u00e9\u20ac\U0001F600" % tag
        blob = os.urandom(70000)
        frag = ("fragmented %s " % tag) * 50
        p.send_message(text.encode())
        p.send_message(blob, binary=True)
        p.send_message(frag.encode(), frag_size=97)
        assert p.wait(lambda q: len(messages(q)) >= 3, GUARD), \
            "%s: %d of 3 echoes (ended=%r)" % (tag, len(messages(p)), p.ended)
        m = messages(p)
        assert m[0] == ("message", "text", text.encode()), "%s: wrong text echo" % tag
        assert m[1] == ("message", "binary", blob), "%s: wrong binary echo" % tag
        assert m[2] == ("message", "text", frag.encode()), "%s: wrong fragmented echo" % tag
        p.send_close(1000, b"done")
        expect_close(p, 1000)
        assert p.wait_end(GUARD), "%s: server kept the TCP connection after the close" % tag
        assert not p.violations, "%s: %s" % (tag, p.violations)
    finally:
        p.drop()


def c_client(port, tag="c"):
    """examples/build/client sends two messages and closes; checks its output."""
    msgs = ["c-client %s one" % tag, "c-client %s two \u00fc" % tag]
    r = subprocess.run([CLIENT, "ws://127.0.0.1:%d/" % port] + msgs, capture_output=True,
                       timeout=60)
    out = r.stdout.decode("utf-8", "replace").splitlines()
    assert r.returncode == 0, "client exited %d: %s" % (r.returncode, r.stderr[-300:])
    for m in msgs:
        assert "text: " + m in out, "client did not get %r back: %r" % (m, out)
    assert any(line.startswith("close: 1000") for line in out), "client close: %r" % out


class Canary:
    """Well-behaved clients in a loop on another thread for the whole case (pause() holds it
    between rounds, for measurements that need the server idle)."""

    def __init__(self, port, name):
        self.port = port
        self.name = name
        self.ok = 0
        self.errors = []
        self.stop_flag = False
        self.gate = threading.Event()
        self.gate.set()
        self.idle = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        for i in range(100000):  # bounded; ends at stop() once at least one round passed
            if self.stop_flag and self.ok >= 1:
                return
            self.idle.set()
            self.gate.wait(120)
            self.idle.clear()
            try:
                well_behaved(self.port, "%s-canary-%d" % (self.name, i))
                self.ok += 1
            except Exception as e:  # noqa: BLE001
                self.errors.append("%s: %s" % (type(e).__name__, e))
                self.idle.set()
                return
            time.sleep(0.05)
        self.idle.set()

    def pause(self):
        self.gate.clear()
        assert self.idle.wait(120), "canary round never ended"

    def resume(self):
        self.gate.set()

    def stop(self):
        self.stop_flag = True
        self.gate.set()
        self.thread.join(120)
        assert not self.thread.is_alive(), "canary client stuck"
        assert not self.errors, "canary client failed: %s" % self.errors[0]
        assert self.ok >= 1, "no canary round completed"
        return self.ok


# ---- the case runner ------------------------------------------------------------------------

class Ctx:
    def __init__(self, server, sampler, baseline):
        self.server = server
        self.port = server.port
        self.pid = server.proc.pid
        self.sampler = sampler
        self.baseline = baseline
        self.mem = []  # (case, start RSS, peak RSS, bound)


def run_case(ctx, name, fn, hostile_conns=1, per_conn=IDLE_CONN, vmsize_cap=None):
    """fn(ctx, canary) runs the hostile part (and its own well-behaved checks while the hostile
    peers are connected). Then: canary results, one more well-behaved client, all server threads
    ended, memory bounds, server alive."""
    global passed, failed
    start = ctx.sampler.begin()
    bound = start["VmRSS"] + SLACK + hostile_conns * per_conn
    canary = Canary(ctx.port, name)
    try:
        try:
            fn(ctx, canary)
        finally:
            rounds = canary.stop()
        well_behaved(ctx.port, name + "-after")
        n = wait_threads(ctx.pid, 1)
        assert n == 1, "server still has %r threads after every peer of the case left" % n
        peak = ctx.sampler.end()
        assert peak is not None and ctx.server.alive(), "the server died"
        say("MEM %s: start RSS %d KiB, peak RSS %d KiB (bound %d KiB; sampled %d KiB, "
            "VmHWM %d KiB), peak VmSize %d KiB, peak threads %d, canary rounds %d, %.1f s"
            % (name, start["VmRSS"] // KIB, peak["peak"] // KIB, bound // KIB,
               peak["VmRSS"] // KIB, peak["VmHWM"] // KIB, peak["VmSize"] // KIB,
               peak["Threads"], rounds, peak["seconds"]))
        ctx.mem.append((name, start["VmRSS"], peak["peak"], bound))
        assert peak["peak"] <= bound, "peak RSS %d KiB over the bound %d KiB" % (
            peak["peak"] // KIB, bound // KIB)
        assert peak["peak"] <= ctx.baseline + HWM_CAP, "peak RSS %d KiB over %d KiB" % (
            peak["peak"] // KIB, (ctx.baseline + HWM_CAP) // KIB)
        if vmsize_cap is not None:
            assert peak["VmSize"] <= start["VmSize"] + vmsize_cap, \
                "VmSize grew from %d to %d KiB" % (start["VmSize"] // KIB, peak["VmSize"] // KIB)
    except Exception as e:  # noqa: BLE001 - any error fails the case
        ctx.sampler.end()
        failed += 1
        why = ("%s: %s" % (type(e).__name__, e)) if not isinstance(e, AssertionError) else str(e)
        say("FAIL %s: %s" % (name, why.replace("\n", " | ")[:600]))
        traceback.print_exc(file=sys.stderr)
        # Leave no hostile connection behind for the next case.
        wait_threads(ctx.pid, 1)
    else:
        passed += 1
        say("PASS %s" % name)


# ---- the cases ------------------------------------------------------------------------------

def case_slow_byte_by_byte(ctx, canary):
    """A valid client writes a 100 KB text message (and its frame header) one byte per write,
    TCP_NODELAY, with a tiny sleep every 64 bytes; others are served meanwhile."""
    p = connect(ctx.port)
    try:
        payload = ("slow \u00e9\u20ac " * 12000).encode()[:100000]
        payload = payload.decode("utf-8", "ignore").encode()
        data = p.frame(P.OP_TEXT, payload)
        done = threading.Event()
        errors = []

        def writer():
            try:
                for i in range(len(data)):
                    p.sock.send(data[i:i + 1])
                    if i % 64 == 63:
                        time.sleep(0.001)
            except OSError as e:
                errors.append(e)
            done.set()

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        # while the slow peer is writing: served
        time.sleep(0.3)
        well_behaved(ctx.port, "slow-during")
        c_client(ctx.port, "slow-during")
        t.join(120)
        assert done.is_set() and not errors, "slow writer: %s" % errors
        assert p.wait(lambda q: len(messages(q)) >= 1, GUARD), "no echo of the slow message"
        assert messages(p)[0] == ("message", "text", payload), "wrong echo of the slow message"
        p.send_close(1000, b"")
        expect_close(p, 1000)
        assert not p.violations, p.violations
    finally:
        p.drop()


STALLS = [
    # (name, bytes the peer sends before going idle)
    ("1 byte of header", lambda: b"\x82"),
    ("2 of 4 header bytes (16-bit length cut)", lambda: b"\x82\xfe\x10"),
    ("64-bit length cut after 5 bytes", lambda: b"\x82\xff\x00\x00\x00"),
    ("mask key cut", lambda: masked_header(P.OP_BINARY, 1000)[0][:-2]),
    ("full header, no payload", lambda: masked_header(P.OP_BINARY, 1000)[0]),
    ("header + 500 of 1000 payload bytes", lambda: _partial_payload(1000, 500)),
    ("text, cut inside a UTF-8 sequence", lambda: _partial_text()),
    ("ping header + 3 of 100 bytes", lambda: masked_header(P.OP_PING, 100)[0] + b"abc"),
]


def _partial_payload(total, sent):
    head, key = masked_header(P.OP_BINARY, total)
    return head + mask_at(os.urandom(sent), key, 0)


def _partial_text():
    text = "abc\u20ac".encode()  # the euro sign is 3 bytes; send only its first 2
    head, key = masked_header(P.OP_TEXT, 100, fin=True)
    return head + mask_at(text[:-1], key, 0)


def case_stalled_mid_frame(ctx, canary):
    """Peers stop at every point of a frame and stay idle; others are served; then they leave
    (FIN or RST) and every server thread ends."""
    socks = []
    try:
        for _, make in STALLS:
            s = raw_connect(ctx.port)
            s.sendall(make())
            socks.append(s)
        # all of them idle, mid-frame, at once
        well_behaved(ctx.port, "stall-during")
        c_client(ctx.port, "stall-during")
        time.sleep(0.5)
        # the server neither answered nor dropped them (it waits for the rest of the frame)
        for (name, _), s in zip(STALLS, socks):
            s.setblocking(False)
            try:
                got = s.recv(1)
                raise AssertionError("%s: server sent %r / ended while the frame was incomplete"
                                     % (name, got))
            except BlockingIOError:
                pass
            s.setblocking(True)
        # half leave with FIN, half with RST
        for i, s in enumerate(socks):
            if i % 2:
                reset_close(s)
            else:
                s.close()
        socks = []
    finally:
        for s in socks:
            s.close()


def case_fifty_stalled_peers(ctx, canary):
    """50 peers, each stopping mid-frame, in 5 waves of 10; after each wave the server is back to
    one thread; RSS after wave 5 must not exceed RSS after wave 1 by more than 1 MiB (a leak of a
    handle or a request buffer per connection would show ~1.3 MiB for 40 peers)."""
    rss = []
    for wave in range(5):
        socks = []
        try:
            for i in range(10):
                _, make = STALLS[(wave * 10 + i) % len(STALLS)]
                s = raw_connect(ctx.port)
                s.sendall(make())
                socks.append(s)
            time.sleep(0.2)
        finally:
            for i, s in enumerate(socks):
                if i % 2:
                    reset_close(s)
                else:
                    s.close()
        # measure with the canary paused so that only leftovers count
        canary.pause()
        try:
            n = wait_threads(ctx.pid, 1)
            assert n == 1, "wave %d: %r server threads left" % (wave, n)
            rss.append(proc_status(ctx.pid)["VmRSS"])
        finally:
            canary.resume()
    say("MEM fifty-stalled: RSS after each wave (KiB): %s" % [r // KIB for r in rss])
    assert rss[-1] <= rss[0] + MIB, "RSS grew from %d to %d KiB across 40 stalled peers" % (
        rss[0] // KIB, rss[-1] // KIB)


def case_length_claims(ctx, canary):
    """Frames announcing 2^63-1, 2^62, 2^32 (and 2^32 as a truncation probe) bytes, followed by a
    little data: the server must not allocate by the claim (RSS and VmSize bounds), must echo
    nothing, and once more than --max-message bytes came it answers close 1009. A length with
    the top bit set (2^64-1) is a protocol violation: dropped without a close frame."""
    peers = []
    try:
        for claim, op in ((2**63 - 1, P.OP_BINARY), (2**62, P.OP_BINARY), (2**32, P.OP_BINARY),
                          (2**63 - 1, P.OP_TEXT)):
            p = connect(ctx.port)
            head, key = masked_header(op, claim)
            filler = b"claim %d " % claim * 100
            p.send_raw(head + mask_at(filler, key, 0))
            peers.append((p, key, len(filler), claim))
        # truncation probe: a parser keeping only 32 bits of the length would see an empty final
        # binary frame (and echo it), then the "TRUNCATED" text frame (and echo that too)
        probe = connect(ctx.port)
        head, key = masked_header(P.OP_BINARY, 2**32)
        inner = P.build_frame(P.OP_TEXT, b"TRUNCATED", masked=True)
        probe.send_raw(head + mask_at(inner, key, 0))
        peers.append((probe, key, len(inner), 2**32))
        bad = connect(ctx.port)
        bad.send_raw(b"\x82\xff" + b"\xff" * 8 + os.urandom(4) + b"x" * 100)
        # all of them are connected and lying: others are served
        well_behaved(ctx.port, "claims-during")
        expect_dropped(bad)
        for p, _, _, claim in peers:
            assert not messages(p), "claim %d: server echoed %r" % (claim, messages(p)[:1])
            assert p.ended is None and p.close_received is None, \
                "claim %d: connection ended (%r) before --max-message bytes came" % (
                    claim, p.ended or p.close_received)
        # now the rest: more than --max-message bytes of payload -> close 1009
        chunk = b"y" * 65536
        for p, key, sent, claim in peers:
            off = sent
            for _ in range(MAX_MESSAGE // len(chunk) + 2):
                if p.close_received is not None or p.ended is not None:
                    break
                if not p.send_raw(mask_at(chunk, key, off)):
                    break
                off += len(chunk)
            expect_close(p, 1009)
            assert not messages(p), "claim %d: server echoed something" % claim
            p.drop()
    finally:
        for p, _, _, _ in peers:
            p.drop()
        if "bad" in locals():
            bad.drop()


def _ping_frames(first, count, size=100):
    out = []
    for i in range(first, first + count):
        payload = (b"%08d" % i).ljust(size, b".")
        out.append(P.build_frame(P.OP_PING, payload, masked=True, mask_key=b"\x01\x02\x03\x04"))
    return b"".join(out)


def case_ping_flood_reading(ctx, canary):
    """50 000 pings (100-byte payloads) as fast as possible while reading concurrently:
    1 <= pongs <= pings, pongs answer pings in order, the last ping is answered, and the
    connection still echoes."""
    n = 50000
    p = connect(ctx.port)
    try:
        for first in range(0, n, 1000):
            assert p.send_raw(_ping_frames(first, 1000)), "write failed: %s" % p.send_failed
            if first == 20000:
                well_behaved(ctx.port, "flood-during")
        last = b"last ping"
        p.send_frame(P.OP_PING, last)
        assert p.wait(lambda q: any(e == ("pong", last) for e in q.events), 60), \
            "the last ping was not answered (%d pongs, ended=%r)" % (
                sum(e[0] == "pong" for e in p.snapshot()), p.ended)
        pongs = [e[1] for e in p.snapshot() if e[0] == "pong"]
        seqs = [int(x[:8]) for x in pongs[:-1]]
        say("MEM ping-flood-reading: %d pings, %d pongs" % (n + 1, len(pongs)))
        assert 1 <= len(pongs) <= n + 1, "%d pongs for %d pings" % (len(pongs), n + 1)
        assert all(a < b for a, b in zip(seqs, seqs[1:])), "pongs out of order / repeated"
        assert all(0 <= s < n for s in seqs), "pong for a ping never sent"
        assert all(x == (b"%08d" % int(x[:8])).ljust(100, b".") for x in pongs[:-1]), \
            "pong payload differs from its ping"
        p.send_message(b"still there?")
        assert p.wait(lambda q: len(messages(q)) >= 1, GUARD), "no echo after the flood"
        assert messages(p)[0] == ("message", "text", b"still there?")
        p.send_close(1000)
        expect_close(p, 1000)
        assert not p.violations, p.violations
    finally:
        p.drop()


def case_ping_flood_not_reading(ctx, canary):
    """Pings (100-byte payloads) as fast as possible without ever reading the pongs, from a socket
    with a tiny receive buffer: the server must block writing pongs once the socket buffers are
    full, not queue them in memory. The peer goes on (up to 300 000 pings; about 70 000 get in on
    Linux loopback) until its writes stall, i.e. until the server has stopped reading; others are
    served meanwhile; then the peer resets the connection and the server's thread (blocked in
    send) ends."""
    s = raw_connect(ctx.port, rcvbuf=4096)
    try:
        block = _ping_frames(0, 1000)
        s.setblocking(False)
        pings, stalled = 0, False
        view, last_progress = b"", time.monotonic()
        while True:
            if not view:
                if pings >= 300000:
                    break
                view, pings = memoryview(block), pings + 1000
            try:
                n = s.send(view[:65536])
                view = view[n:]
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > 3:
                    stalled = True  # the server no longer reads: it is blocked on its pongs
                    break
                select_wait(s, 0.05)
        say("MEM ping-flood-not-reading: wrote about %d pings (%s)"
            % (pings, "then stalled: the server stopped reading" if stalled else "no stall"))
        well_behaved(ctx.port, "noread-during")
        c_client(ctx.port, "noread-during")
        assert ctx.server.alive(), "server died"
    finally:
        reset_close(s)


def select_wait(sock, timeout):
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_WRITE)
    sel.select(timeout)
    sel.close()


def case_never_read_echoes(ctx, canary):
    """A peer sends 300 messages of 64 KiB and never reads the echoes: the server holds at most
    one message (it blocks on the echo write); others are served; then the peer resets."""
    s = raw_connect(ctx.port, rcvbuf=4096)
    try:
        msg = P.build_frame(P.OP_BINARY, os.urandom(65536), masked=True)
        s.setblocking(False)
        data = msg * 300
        sent, last_progress = 0, time.monotonic()
        while sent < len(data) and time.monotonic() - last_progress < 3:
            try:
                sent += s.send(data[sent:sent + 262144])
                last_progress = time.monotonic()
            except BlockingIOError:
                select_wait(s, 0.05)
        say("MEM never-read-echoes: wrote %d of %d bytes" % (sent, len(data)))
        well_behaved(ctx.port, "noecho-during")
    finally:
        reset_close(s)


def case_tiny_fragments(ctx, canary):
    """One text message as 100 000 one-byte frames (UTF-8 sequences split across frames):
    echoed whole."""
    text = ("fragment \u00e9\u20ac\U0001F600 " * 6000).encode()[:100000]
    text = text.decode("utf-8", "ignore").encode()
    frames = [tiny_frame(P.OP_TEXT, text[:1], False)]
    frames += [tiny_frame(P.OP_CONT, text[i:i + 1], i == len(text) - 1)
               for i in range(1, len(text))]
    p = connect(ctx.port)
    try:
        data = b"".join(frames)
        for i in range(0, len(data), 70000):
            assert p.send_raw(data[i:i + 70000]), "write failed: %s" % p.send_failed
            if i == 280000:
                well_behaved(ctx.port, "tiny-during")
        assert p.wait(lambda q: len(messages(q)) >= 1, 60), "no echo (ended=%r)" % p.ended
        assert messages(p)[0] == ("message", "text", text), "wrong echo of %d fragments" % len(
            frames)
        p.send_close(1000)
        expect_close(p, 1000)
        assert not p.violations, p.violations
    finally:
        p.drop()


def case_empty_fragments(ctx, canary):
    """"start" + 100 000 empty continuation frames + "end": echoed as "startend"."""
    p = connect(ctx.port)
    try:
        key = b"\x11\x22\x33\x44"
        first = P.build_frame(P.OP_TEXT, b"start", fin=False, masked=True, mask_key=key)
        empty = tiny_frame(P.OP_CONT, b"", False)
        last = P.build_frame(P.OP_CONT, b"end", fin=True, masked=True, mask_key=key)
        assert p.send_raw(first)
        for i in range(10):
            assert p.send_raw(empty * 10000), "write failed: %s" % p.send_failed
            if i == 4:
                well_behaved(ctx.port, "empty-during")
        assert p.send_raw(last)
        assert p.wait(lambda q: len(messages(q)) >= 1, 60), "no echo (ended=%r)" % p.ended
        assert messages(p)[0] == ("message", "text", b"startend"), "wrong echo %r" % (
            messages(p)[0][2][:50],)
        p.send_close(1000)
        expect_close(p, 1000)
    finally:
        p.drop()


def case_fragments_over_limit(ctx, canary):
    """100 000 fragments of 16 bytes (1.6 MB > --max-message): close 1009, nothing echoed, the
    server does not keep the message."""
    p = connect(ctx.port)
    try:
        key = b"\x0f\x1e\x2d\x3c"
        piece = os.urandom(16)
        first = P.build_frame(P.OP_BINARY, piece, fin=False, masked=True, mask_key=key)
        mid = P.build_frame(P.OP_CONT, piece, fin=False, masked=True, mask_key=key)
        last = P.build_frame(P.OP_CONT, piece, fin=True, masked=True, mask_key=key)
        p.send_raw(first)
        for i in range(10):
            if not p.send_raw(mid * (10000 - (1 if i == 9 else 0))):
                break
            if i == 2:
                well_behaved(ctx.port, "overlimit-during")
        p.send_raw(last)
        expect_close(p, 1009)
        p.send_close(1009)
        assert p.wait_end(GUARD), "connection not closed after the close handshake"
        assert not messages(p), "server echoed an over-limit message"
    finally:
        p.drop()


def case_close_then_data(ctx, canary):
    """Close frame immediately followed by data frames (one write; then a separate write; then
    garbage): the close is answered, nothing after it is echoed or answered."""
    # (1) close + text + binary + ping in one write
    p = connect(ctx.port)
    try:
        data = (p.frame(P.OP_CLOSE, P.close_payload(1000, b"bye"))
                + p.frame(P.OP_TEXT, b"after close") + p.frame(P.OP_BINARY, os.urandom(70000))
                + p.frame(P.OP_PING, b"ping after close"))
        with p.cond:
            p.close_sent = True
            p.closed_by_me = True
        p.send_raw(data)
        expect_close(p, 1000)
        assert p.close_received[1] == b"bye", "close reason %r" % p.close_received[1]
        assert p.wait_end(GUARD), "server did not close the TCP connection"
        assert not [e for e in p.snapshot() if e[0] in ("message", "pong")], \
            "server answered frames after the close: %r" % p.snapshot()[:3]
    finally:
        p.drop()
    # (2) close, then (after the server's answer) more data in separate writes
    p = connect(ctx.port)
    try:
        p.send_close(1001, b"going")
        expect_close(p, 1001)
        for i in range(5):
            if not p.send_frame(P.OP_TEXT, b"late %d" % i):
                break
        assert p.wait_end(GUARD), "server did not close the TCP connection"
        assert not messages(p), "server echoed data sent after the close"
    finally:
        p.drop()
    # (3) close followed by bytes that are not valid frames at all
    p = connect(ctx.port)
    try:
        with p.cond:
            p.close_sent = True
            p.closed_by_me = True
        p.send_raw(p.frame(P.OP_CLOSE, P.close_payload(1000)) + b"\xff\xff\xff\xff" * 64)
        expect_close(p, 1000)
        assert p.wait_end(GUARD), "server did not close the TCP connection"
        assert not messages(p)
    finally:
        p.drop()
    well_behaved(ctx.port, "close-then-data-after")


def case_half_open(ctx, canary):
    """200 TCP connections that send nothing (100) or an unfinished HTTP request (100): valid
    clients are still served; the server ends each of them by itself (its request timeout,
    REQUEST_WAIT_MS) and every thread ends."""
    socks = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", ctx.port), timeout=GUARD)
            if i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
            socks.append(s)
        deadline = time.monotonic() + GUARD  # until the server has accepted all of them
        while proc_status(ctx.pid)["Threads"] < 201 and time.monotonic() < deadline:
            time.sleep(0.02)
        n = proc_status(ctx.pid)["Threads"]
        for i in range(3):
            well_behaved(ctx.port, "halfopen-during-%d" % i)
        c_client(ctx.port, "halfopen-during")
        say("MEM half-open: server threads with 200 half-open connections: %d" % n)
        # the server gives up on each of them by itself (guard: 60 s; its timeout is 10 s)
        deadline = time.monotonic() + 60
        ended = 0
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(4096):
                    pass
                ended += 1
            except (socket.timeout, ConnectionResetError):
                pass
        assert ended == 200, "the server ended only %d of 200 half-open connections" % ended
    finally:
        for s in socks:
            s.close()


def case_invalid_utf8_huge(ctx, canary):
    """Invalid UTF-8 early in a huge text message: the connection is failed before the message
    ends (the peer stops sending right after the bad bytes and waits)."""
    # (1) fragmented: 3 fragments of 64 KiB of an intended 14, 0xFF in the third
    p = connect(ctx.port)
    try:
        good = b"a" * 65536
        bad = b"a" * 30000 + b"\xff" + b"a" * 35535
        p.send_raw(p.frame(P.OP_TEXT, good, fin=False) + p.frame(P.OP_CONT, good, fin=False)
                   + p.frame(P.OP_CONT, bad, fin=False))
        expect_dropped(p)
        assert not messages(p), "server echoed invalid text"
    finally:
        p.drop()
    # (2) one frame announcing 900 000 bytes; 200 000 sent, an overlong sequence at 100 000
    p = connect(ctx.port)
    try:
        head, key = masked_header(P.OP_TEXT, 900000)
        body = b"b" * 100000 + b"\xc0\xaf" + b"b" * 99998
        p.send_raw(head + mask_at(body, key, 0))
        expect_dropped(p)
    finally:
        p.drop()
    # (3) a sequence split across fragments whose second half is not a continuation byte
    p = connect(ctx.port)
    try:
        p.send_raw(p.frame(P.OP_TEXT, b"x" * 50000 + b"\xe2\x82", fin=False)
                   + p.frame(P.OP_CONT, b"(" + b"x" * 50000, fin=False))
        expect_dropped(p)
    finally:
        p.drop()
    # (4) a surrogate (U+D800, CESU style) inside a 1 MiB-ish message, 1-byte fragments around it
    p = connect(ctx.port)
    try:
        frames = [p.frame(P.OP_TEXT, b"z" * 100000, fin=False)]
        frames += [p.frame(P.OP_CONT, bytes([c]), fin=False) for c in b"\xed\xa0\x80"]
        frames.append(p.frame(P.OP_CONT, b"z" * 1000, fin=False))
        p.send_raw(b"".join(frames))
        expect_dropped(p)
    finally:
        p.drop()


CASES = [
    ("slow-byte-by-byte", case_slow_byte_by_byte, 1, MSG_CONN),
    ("stalled-mid-frame", case_stalled_mid_frame, len(STALLS), IDLE_CONN),
    ("fifty-stalled-peers", case_fifty_stalled_peers, 10, IDLE_CONN),
    ("length-claims", case_length_claims, 6, MSG_CONN),
    ("ping-flood-reading", case_ping_flood_reading, 1, IDLE_CONN),
    ("ping-flood-not-reading", case_ping_flood_not_reading, 1, IDLE_CONN),
    ("never-read-echoes", case_never_read_echoes, 1, IDLE_CONN),
    ("100000-one-byte-fragments", case_tiny_fragments, 1, MSG_CONN),
    ("100000-empty-fragments", case_empty_fragments, 1, IDLE_CONN),
    ("100000-fragments-over-limit", case_fragments_over_limit, 1, MSG_CONN),
    ("close-then-data", case_close_then_data, 1, IDLE_CONN),
    ("half-open-200", case_half_open, 200, IDLE_CONN),
    ("invalid-utf8-huge-message", case_invalid_utf8_huge, 1, MSG_CONN),
]


def shutdown_with_idle_peers(server):
    """SIGTERM while hostile peers sit idle: one stalled mid-frame, one open WebSocket that sends
    nothing, one TCP connection with an unfinished HTTP request. Both WebSocket peers must get
    close 1001 (the idle one answers it; the stalled one cannot, so the server gives up on it
    after its close wait), and the server must exit 0."""
    port, pid = server.port, server.proc.pid
    stalled = connect(port)
    idle = connect(port)
    half = socket.create_connection(("127.0.0.1", port), timeout=GUARD)
    try:
        stalled.send_raw(masked_header(P.OP_BINARY, 1000)[0] + b"abc")
        half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        deadline = time.monotonic() + GUARD
        while proc_status(pid)["Threads"] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        expect_close(idle, 1001)
        idle.send_close(1001)
        assert idle.wait_end(GUARD), "idle peer: TCP connection kept after the close handshake"
        expect_close(stalled, 1001)
        assert stalled.wait_end(GUARD), "stalled peer: server never gave up on it"
        try:
            rc = server.proc.wait(GUARD)
        except subprocess.TimeoutExpired:
            rc = "still running %.0f s after SIGTERM" % GUARD
        assert rc == 0, "exit status %r after SIGTERM" % rc
    finally:
        stalled.drop()
        idle.drop()
        half.close()


def non_reading_peer_then_sigterm(log_dir):
    """A peer that floods pings and never reads the pongs: the connection's writes stall, the
    server gives up on that connection (send timeout) instead of pinning its thread, and SIGTERM
    still ends with exit status 0 (a server of its own, so that the main one keeps its state)."""
    server = Server(os.path.join(log_dir, "echo_server-non-reading.log"))
    s = None
    try:
        server.start()
        s = raw_connect(server.port, rcvbuf=4096)
        s.setblocking(False)
        block = _ping_frames(0, 1000)
        last = time.monotonic()
        while time.monotonic() - last < 2:
            try:
                s.send(block)
                last = time.monotonic()
            except BlockingIOError:
                select_wait(s, 0.05)
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(GUARD)
        except subprocess.TimeoutExpired:
            rc = "still running"
        assert rc == 0, "exit status %r after SIGTERM with a peer that does not read" % rc
    finally:
        if s is not None:
            reset_close(s)
        server.terminate()


def main():
    global passed, failed
    only = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    log_dir = os.path.join(ROOT, "target", "hostile")
    os.makedirs(log_dir, exist_ok=True)
    server = Server(os.path.join(log_dir, "echo_server.log"))
    sampler = None
    try:
        server.start()
        pid = server.proc.pid
        sampler = Sampler(pid)
        well_behaved(server.port, "warm-up")
        assert wait_threads(pid, 1) == 1
        baseline = proc_status(pid)["VmRSS"]
        sampler.reset_hwm()
        say("MEM baseline: RSS %d KiB, VmSize %d KiB (server pid %d, port %d; VmHWM reset %s)"
            % (baseline // KIB, proc_status(pid)["VmSize"] // KIB, pid, server.port,
               "works" if sampler.hwm_reset else "refused: sampled peaks only"))
        ctx = Ctx(server, sampler, baseline)
        for name, fn, conns, per_conn in CASES:
            if only and name not in only:
                continue
            run_case(ctx, name, fn, conns, per_conn,
                     VMSIZE_CLAIM_CAP if name == "length-claims" else None)
        # the end: alive, then SIGTERM -> 0
        if server.alive():
            passed += 1
            say("PASS server still alive after every case")
        else:
            failed += 1
            say("FAIL server still alive after every case: exit status %r"
                % server.proc.returncode)
        s = proc_status(pid)
        if s:
            say("MEM final: RSS %d KiB, VmHWM %d KiB" % (s["VmRSS"] // KIB, s["VmHWM"] // KIB))
        sampler.close()
        sampler = None
        try:
            shutdown_with_idle_peers(server)
        except Exception as e:  # noqa: BLE001
            failed += 1
            say("FAIL server exits 0 on SIGTERM (idle hostile peers connected): %s" % e)
            traceback.print_exc(file=sys.stderr)
        else:
            passed += 1
            say("PASS server exits 0 on SIGTERM (idle hostile peers connected)")
    except Exception as e:  # noqa: BLE001
        failed += 1
        say("FAIL harness: %s: %s" % (type(e).__name__, e))
        traceback.print_exc(file=sys.stderr)
    finally:
        if sampler:
            sampler.close()
        server.terminate()
    if not only or "sigterm-with-peer-not-reading" in only:
        try:
            non_reading_peer_then_sigterm(log_dir)
        except Exception as e:  # noqa: BLE001
            failed += 1
            say("FAIL sigterm-with-peer-not-reading: %s" % e)
        else:
            passed += 1
            say("PASS sigterm-with-peer-not-reading")
    say("hostile.py: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
