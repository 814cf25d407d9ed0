"""The conformance cases, numbered after the public Autobahn|Testsuite case list (sections 1-7,
9 and 10: the base protocol; sections 12/13, permessage-deflate, are in deflate_cases.py).

Written from scratch from the public case descriptions. Every case states its rule:

  expect   ordered list of (outcome, events): the events the testee must send back (messages
           echoed whole with their type, pongs), compared exactly; the first list that matches
           gives the outcome. "mark" events are our own sync points (see Ctx.settle).
  close    Close(by_me, codes, clean):
             by_me  True: we start the closing handshake (after the expected events arrived);
                    False: the testee must end the connection itself (fail it) - we never send
                    a valid close first.
             codes  close codes the testee may send (a testee that closes TCP without any close
                    frame is accepted, as in Autobahn, when clean is False).
             clean  True: the closing handshake must complete (close frames both ways).

Outcomes: OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED (see NOTES.md for the grading).
"""

from peer import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT

OK, NON_STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED = (
    "OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")

NORMAL, PROTOCOL_ERROR, INVALID_PAYLOAD = 1000, 1002, 1007

# Section 9 sizes are the Autobahn sizes divided by SCALE (see NOTES.md).
SCALE = 4
KiB, MiB = 1024, 1024 * 1024


class Close:
    def __init__(self, by_me, codes, clean):
        self.by_me, self.codes, self.clean = by_me, tuple(codes), clean


WE_CLOSE = Close(True, [NORMAL], True)
FAIL = Close(False, [PROTOCOL_ERROR], False)
FAIL_UTF8 = Close(False, [INVALID_PAYLOAD], False)


class Case:
    def __init__(self, cid, desc, play, expect, close, wait=None, send_close=True,
                 informational=False, guard=5.0, rule=None, check=None):
        self.id = cid
        head = cid.split(".")[0]
        self.section = int(head) if head.isdigit() else head
        self.desc = desc
        self.play = play
        self.expect = expect           # [(outcome, [events])]
        self.close = close
        self.wait = wait               # predicate(peer): expected events are all in
        self.send_close = send_close   # False: the play function sends the close itself
        self.informational = informational
        self.guard = guard             # seconds; only a failure guard
        self.check = check             # extra rule: check(peer) -> error text or None
        self.rule = rule or self._rule()

    def _rule(self):
        parts = []
        for outcome, events in self.expect:
            parts.append("%s: events exactly [%s]" % (outcome, describe(events)))
        c = self.close
        if c.by_me:
            s = "we send close %d" % NORMAL if self.send_close else "we close as described"
            if c.clean:
                s += "; the testee must answer with a close frame (code %s or none) and " \
                     "the closing handshake must complete" % "/".join(map(str, c.codes))
            else:
                s += "; the testee must answer with close %s or close TCP without a close " \
                     "frame" % "/".join(map(str, c.codes))
        else:
            s = ("the testee must fail the connection itself: close TCP, with or without a "
                 "close frame (code %s); nothing else may come back" % "/".join(map(str, c.codes)))
        parts.append(s)
        if self.informational:
            parts.append("graded INFORMATIONAL whatever happens (behaviour is implementation "
                         "defined)")
        return "; ".join(parts)


# ---- event helpers ------------------------------------------------------------------------

def b(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def text(s):
    return ("message", "text", b(s))


def binary(s):
    return ("message", "binary", b(s))


def pong(s=b""):
    return ("pong", b(s))


def mark(label):
    return ("mark", label)


def describe(events, limit=8):
    out = []
    for e in events[:limit]:
        if e[0] == "message":
            p = e[2]
            out.append("%s(%s)" % (e[1], _short(p)))
        elif e[0] == "mark":
            out.append("still-open(%s)" % e[1])
        else:
            out.append("%s(%s)" % (e[0], _short(e[1])))
    if len(events) > limit:
        out.append("... %d events in all" % len(events))
    return ", ".join(out)


def _short(p):
    if len(p) <= 24:
        try:
            return repr(p.decode("utf-8"))
        except UnicodeDecodeError:
            return "0x" + p.hex()
    return "%d bytes" % len(p)


def count_events(n):
    return lambda peer: len(peer.events) >= n


# ---- the play context ---------------------------------------------------------------------

class Ctx:
    """What a case's play function drives: the Peer plus the sync helpers."""

    def __init__(self, peer, guard):
        self.p = peer
        self.guard = guard

    def __getattr__(self, name):
        return getattr(self.p, name)

    def sync(self, label):
        """Instead of Autobahn's "wait 1 s": send a ping and wait for its pong (or the end).
        The testee handles frames in order, so the pong proves that everything sent before it
        was processed. Returns True if the pong came."""
        payload = b(label)
        self.p.send_frame(OP_PING, payload)
        return self.p.wait(lambda p: pong(payload) in p.events, self.guard)

    def settle(self, label, seconds):
        """Used only where a ping cannot be inserted (inside one frame): wait up to `seconds`
        for the testee to end the connection; if it is still open, record mark(label). A slow
        testee can only be graded better here, never worse (the wait is not an assertion)."""
        if not self.p.wait_end(seconds):
            with self.p.cond:
                self.p.events.append(mark(label))
            return True
        return False


# ---- case builders ------------------------------------------------------------------------

CASES = []


def add(case):
    CASES.append(case)
    return case


def echo(cid, desc, play, events, wait=None, guard=5.0):
    """A legal exchange: exactly `events` come back, then we close with 1000 (clean)."""
    return add(Case(cid, desc, play, [(OK, events)], WE_CLOSE,
                    wait=wait or count_events(len(events)), guard=guard))


def fail(cid, desc, play, before=(), close=FAIL):
    """A protocol violation: the testee must fail the connection. `before` is what it must echo
    for what came before the violation (OK); failing before echoing that is NON-STRICT."""
    expect = [(OK, list(before))]
    if before:
        expect.append((NON_STRICT, []))
    return add(Case(cid, desc, play, expect, close))


def frames(*specs, chop=None, sync=False):
    """A play function sending frames given as (opcode, payload[, fin[, rsv]]) tuples:
    all in one write (default), one write per frame (sync), or in writes of `chop` bytes."""
    def play(c):
        data = [c.frame(s[0], b(s[1]) if len(s) > 1 else b"", s[2] if len(s) > 2 else True,
                        s[3] if len(s) > 3 else 0) for s in specs]
        if sync:
            for f in data:
                c.send_raw(f, chop)
        else:
            c.send_raw(b"".join(data), chop)
    return play


def message(payload, is_binary=False, frag_size=None, chop=None, sync=False):
    def play(c):
        c.send_message(b(payload), is_binary, frag_size=frag_size, chop=chop, sync=sync)
    return play


# ---- 1 Framing ----------------------------------------------------------------------------

SIZES_1 = [0, 125, 126, 127, 128, 65535, 65536]
for i, n in enumerate(SIZES_1, 1):
    echo("1.1.%d" % i, "Text message with payload of length %d" % n,
         message(b"*" * n), [text(b"*" * n)])
echo("1.1.8", "Text message with payload of length 65536, sent in chops of 997 octets",
     message(b"*" * 65536, chop=997), [text(b"*" * 65536)])
for i, n in enumerate(SIZES_1, 1):
    echo("1.2.%d" % i, "Binary message with payload of length %d" % n,
         message(b"\xfe" * n, True), [binary(b"\xfe" * n)])
echo("1.2.8", "Binary message with payload of length 65536, sent in chops of 997 octets",
     message(b"\xfe" * 65536, True, chop=997), [binary(b"\xfe" * 65536)])

# ---- 2 Pings/Pongs ------------------------------------------------------------------------

BIN8 = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
echo("2.1", "Ping without payload", frames((OP_PING, b"")), [pong(b"")])
echo("2.2", "Ping with small text payload", frames((OP_PING, "Hello, world!")),
     [pong("Hello, world!")])
echo("2.3", "Ping with small binary (non UTF-8) payload", frames((OP_PING, BIN8)), [pong(BIN8)])
echo("2.4", "Ping with binary payload of 125 octets", frames((OP_PING, b"\xfe" * 125)),
     [pong(b"\xfe" * 125)])
fail("2.5", "Ping with binary payload of 126 octets (control frame too long)",
     frames((OP_PING, b"\xfe" * 126)))
echo("2.6", "Ping with binary payload of 125 octets, sent in octet-wise chops",
     frames((OP_PING, b"\xfe" * 125), chop=1), [pong(b"\xfe" * 125)])
echo("2.7", "Unsolicited Pong without payload (nothing must come back)",
     frames((OP_PONG, b"")), [])
echo("2.8", "Unsolicited Pong with payload (nothing must come back)",
     frames((OP_PONG, "unsolicited pong payload")), [])
echo("2.9", "Unsolicited Pong with payload, then Ping with payload",
     frames((OP_PONG, "unsolicited pong payload"), (OP_PING, "ping payload")),
     [pong("ping payload")])


def ten_pings(chop):
    payloads = [b"payload-%d" % i for i in range(10)]
    all_pongs = [pong(p) for p in payloads]

    def only_latest(events):
        # RFC 6455 5.5.3: a pong may answer only the most recent ping: an ordered subset of
        # the pongs that ends with the last one.
        if not events or events[-1] != all_pongs[-1] or events == all_pongs:
            return False
        it = iter(all_pongs)
        return all(any(e == x for x in it) for e in events)

    return dict(play=frames(*[(OP_PING, p) for p in payloads], chop=chop),
                expect=[(OK, all_pongs), (NON_STRICT, only_latest)],
                wait=lambda peer: all_pongs[-1] in peer.events)


for cid, chop, how in (("2.10", None, ""), ("2.11", 1, ", sent in octet-wise chops")):
    t = ten_pings(chop)
    add(Case(cid, "10 Pings with payload%s" % how, t["play"], t["expect"], WE_CLOSE,
             wait=t["wait"],
             rule="OK: the 10 pongs with all payloads in order; NON-STRICT: an ordered subset "
                  "ending with the pong for the last ping (RFC 6455 5.5.3 allows answering "
                  "only the most recent ping; Autobahn checks for all of them); then our "
                  "close 1000 must be answered (clean)"))

# ---- 3 Reserved bits ----------------------------------------------------------------------

HELLO = "Hello, world!"
fail("3.1", "Small text message with RSV = 1", frames((OP_TEXT, HELLO, True, 1)))
fail("3.2", "Small text message, then again with RSV = 2, then Ping (one write)",
     frames((OP_TEXT, HELLO), (OP_TEXT, HELLO, True, 2), (OP_PING, b"")), before=[text(HELLO)])
fail("3.3", "Small text message, then again with RSV = 3, then Ping (frame-wise writes)",
     frames((OP_TEXT, HELLO), (OP_TEXT, HELLO, True, 3), (OP_PING, b""), sync=True),
     before=[text(HELLO)])
fail("3.4", "Small text message, then again with RSV = 4, then Ping (octet-wise chops)",
     frames((OP_TEXT, HELLO), (OP_TEXT, HELLO, True, 4), (OP_PING, b""), chop=1),
     before=[text(HELLO)])
fail("3.5", "Small binary message with RSV = 5", frames((OP_BINARY, BIN8, True, 5)))
fail("3.6", "Ping with payload and RSV = 6", frames((OP_PING, BIN8, True, 6)))
fail("3.7", "Close frame (1000) with RSV = 7", frames((OP_CLOSE, b"\x03\xe8", True, 7)))

# ---- 4 Opcodes ----------------------------------------------------------------------------

RESERVED_PAYLOAD = "reserved opcode payload"
for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
    kind = "non-control" if sub == 1 else "control"
    for j, op in enumerate(ops, 1):
        cid = "4.%d.%d" % (sub, j)
        payload = b"" if j in (1, 3) else RESERVED_PAYLOAD
        with_p = " with payload" if payload else ""
        if j <= 2:
            fail(cid, "Frame with reserved %s opcode %d%s" % (kind, op, with_p),
                 frames((op, payload)))
        else:
            fail(cid, "Small text message, then frame with reserved %s opcode %d%s, then Ping"
                 % (kind, op, with_p),
                 frames((OP_TEXT, HELLO), (op, payload), (OP_PING, b"")), before=[text(HELLO)])

# ---- 5 Fragmentation ----------------------------------------------------------------------

F1, F2 = "fragment1", "fragment2"
fail("5.1", "Ping fragmented into 2 fragments",
     frames((OP_PING, F1, False), (OP_CONT, F2, True)))
fail("5.2", "Pong fragmented into 2 fragments",
     frames((OP_PONG, F1, False), (OP_CONT, F2, True)))
for cid, how, kw in (("5.3", "", {}), ("5.4", ", frame-wise writes", {"sync": True}),
                     ("5.5", ", octet-wise chops", {"chop": 1})):
    echo(cid, "Text message fragmented into 2 fragments" + how,
         frames((OP_TEXT, F1, False), (OP_CONT, F2, True), **kw), [text(F1 + F2)])
for cid, how, kw in (("5.6", "", {}), ("5.7", ", frame-wise writes", {"sync": True}),
                     ("5.8", ", octet-wise chops", {"chop": 1})):
    echo(cid, "Text message fragmented into 2 fragments, one Ping with payload in-between" + how,
         frames((OP_TEXT, F1, False), (OP_PING, "ping payload"), (OP_CONT, F2, True), **kw),
         [pong("ping payload"), text(F1 + F2)])
for base, fin, what in ((9, True, "FIN = true"), (12, False, "FIN = false")):
    for k, (how, kw) in enumerate((("one write", {}), ("frame-wise writes", {"sync": True}),
                                   ("octet-wise chops", {"chop": 1}))):
        fail("5.%d" % (base + k),
             "Continuation frame with %s where there is nothing to continue, then an "
             "unfragmented text message (%s)" % (what, how),
             frames((OP_CONT, "non-continuation payload", fin), (OP_TEXT, HELLO), **kw))
fail("5.15", "Text message in 2 fragments, then a continuation frame with FIN = false where "
     "there is nothing to continue, then an unfragmented text message (one write)",
     frames((OP_TEXT, F1, False), (OP_CONT, F2, True), (OP_CONT, "fragment3", False),
            (OP_TEXT, "fragment4")), before=[text(F1 + F2)])
fail("5.16", "Repeated 2x: continuation frame with FIN = false (nothing to continue), then a "
     "text message in 2 fragments",
     frames(*[(OP_CONT, F1, False), (OP_TEXT, F2, False), (OP_CONT, "fragment3", True)] * 2))
fail("5.17", "Repeated 2x: continuation frame with FIN = true (nothing to continue), then a "
     "text message in 2 fragments",
     frames(*[(OP_CONT, F1, True), (OP_TEXT, F2, False), (OP_CONT, "fragment3", True)] * 2))
fail("5.18", "Text message in 2 fragments with both frame opcodes set to text",
     frames((OP_TEXT, F1, False), (OP_TEXT, F2, True)))


def frags_with_pings(sync):
    def send(c, specs):
        data = [c.frame(*spec) for spec in specs]
        if sync:  # one write per frame
            for f in data:
                c.send_raw(f)
        else:
            c.send_raw(b"".join(data))

    def play(c):
        send(c, [(OP_TEXT, "fragment1", False), (OP_CONT, "fragment2", False),
                 (OP_PING, "pongme 1!")])
        # Autobahn waits 1 s here; we wait for the first pong instead: it must come before
        # the message is complete.
        c.wait(lambda p: pong("pongme 1!") in p.events, c.guard)
        send(c, [(OP_CONT, "fragment3", False), (OP_CONT, "fragment4", False),
                 (OP_PING, "pongme 2!"), (OP_CONT, "fragment5", True)])
    return play


FIVE = "".join("fragment%d" % i for i in range(1, 6))
echo("5.19", "Text message in 5 fragments: 2 fragments, Ping, (wait for its Pong), 2 more "
     "fragments, Ping, last fragment", frags_with_pings(False),
     [pong("pongme 1!"), pong("pongme 2!"), text(FIVE)])
echo("5.20", "Same as 5.19, one write per frame", frags_with_pings(True),
     [pong("pongme 1!"), pong("pongme 2!"), text(FIVE)])

# ---- 6 UTF-8 handling ---------------------------------------------------------------------

echo("6.1.1", "Empty text message (one frame)", frames((OP_TEXT, b"")), [text(b"")])
echo("6.1.2", "Text message in 3 fragments, each of length 0",
     frames((OP_TEXT, b"", False), (OP_CONT, b"", False), (OP_CONT, b"", True)), [text(b"")])
echo("6.1.3", "Text message in 3 fragments, first and last of length 0",
     frames((OP_TEXT, b"", False), (OP_CONT, "middle frame payload", False),
            (OP_CONT, b"", True)), [text("middle frame payload")])

HELLO_UTF8 = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode("utf-8")
KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")
echo("6.2.1", "Valid UTF-8 text message in one fragment", message(HELLO_UTF8), [text(HELLO_UTF8)])
_cut = len("Hello-\u00b5@\u00df\u00f6\u00e4".encode("utf-8"))
echo("6.2.2", "Valid UTF-8 text message in 2 fragments, split on a code point boundary",
     frames((OP_TEXT, HELLO_UTF8[:_cut], False), (OP_CONT, HELLO_UTF8[_cut:], True)),
     [text(HELLO_UTF8)])
echo("6.2.3", "Valid UTF-8 text message in frames of 1 octet (frames end inside code points)",
     message(HELLO_UTF8, frag_size=1), [text(HELLO_UTF8)])
echo("6.2.4", "Valid UTF-8 text message (0x%s) in frames of 1 octet" % KOSME.hex(),
     message(KOSME, frag_size=1), [text(KOSME)])

INVALID_631 = KOSME + bytes.fromhex("eda080") + b"edited"
fail("6.3.1", "Invalid UTF-8 text message (surrogate U+D800) in one frame",
     message(INVALID_631), close=FAIL_UTF8)
fail("6.3.2", "Invalid UTF-8 text message (surrogate U+D800) in frames of 1 octet",
     message(INVALID_631, frag_size=1), close=FAIL_UTF8)

PARTS_641 = (KOSME, bytes.fromhex("f4908080"), b"edited")
PARTS_642 = (bytes.fromhex("cebae1bdb9cf83cebcceb5f4"), bytes.fromhex("90"),
             bytes.fromhex("8080656469746564"))


def fail_fast_frames(parts):
    """6.4.1/6.4.2: three frames; after the 1st and 2nd a ping sync point replaces Autobahn's
    1 s wait. Fail fast = the testee fails on the 2nd frame (the pong for sync B never comes)."""
    def play(c):
        c.send_frame(OP_TEXT, parts[0], fin=False)
        if not c.sync("A"):
            return
        c.send_frame(OP_CONT, parts[1], fin=False)
        if not c.sync("B"):
            return
        c.send_frame(OP_CONT, parts[2], fin=True)
    return play


def fail_fast_chops(parts):
    """6.4.3/6.4.4: one frame written in 3 chops. No ping fits inside a frame, so a bounded
    wait stands in: up to 0.2 s after chop 1 (a testee that already failed there is caught),
    and up to the guard time after chop 2 (the fail-fast testee ends the connection)."""
    def play(c):
        total = sum(len(x) for x in parts)
        frame = c.frame(OP_TEXT, b"".join(parts))
        head = len(frame) - total
        cuts = [0, head + len(parts[0]), head + len(parts[0]) + len(parts[1]), len(frame)]
        c.send_raw(frame[cuts[0]:cuts[1]])
        if not c.settle("A", 0.2):
            return
        c.send_raw(frame[cuts[1]:cuts[2]])
        if not c.settle("B", c.guard):
            return
        c.send_raw(frame[cuts[2]:cuts[3]])
    return play


FAIL_FAST_RULE = ("OK: the testee fails the connection right after the part that makes the "
                  "text invalid (events exactly [%s]); NON-STRICT: it fails only after the "
                  "whole message (events [%s]); anything echoed is FAILED; it must close TCP, "
                  "with or without a close frame (code 1007)")
for cid, parts, kind in (("6.4.1", PARTS_641, "frames"), ("6.4.2", PARTS_642, "frames"),
                         ("6.4.3", PARTS_641, "chops"), ("6.4.4", PARTS_642, "chops")):
    if kind == "frames":
        play = fail_fast_frames(parts)
        ok, ns = [pong("A")], [pong("A"), pong("B")]
        how = "3 frames (ping sync point after the 1st and the 2nd)"
    else:
        play = fail_fast_chops(parts)
        ok, ns = [mark("A")], [mark("A"), mark("B")]
        how = "one frame written in 3 chops"
    add(Case(cid, "Invalid UTF-8 text message in %s: %s | %s | %s (the 2nd part makes it "
             "invalid)" % (how, parts[0].hex(), parts[1].hex(), parts[2].hex()),
             play, [(OK, ok), (NON_STRICT, ns)], FAIL_UTF8, guard=5.0,
             rule=FAIL_FAST_RULE % (describe(ok), describe(ns))))


def utf8_vectors():
    """The UTF-8 decoder test vectors of Markus Kuhn's UTF-8-test.txt, grouped as in the public
    Autobahn list (6.5 - 6.23). Validity is decided by RFC 3629 (Python's strict decoder)."""
    groups = []
    groups.append(("Some valid UTF-8 sequences", [
        b"hello\x24world", b"hello\xc2\xa2world", b"hello\xe2\x82\xacworld",
        b"hello\xf0\xa4\xad\xa2world", KOSME]))
    groups.append(("All prefixes of a valid UTF-8 string that contains multi-byte code points",
                   [KOSME[:i] for i in range(1, len(KOSME) + 1)]))
    groups.append(("First possible sequence of a certain length",
                   [b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"]))
    groups.append(("First possible sequence length 5/6 (invalid code points)",
                   [b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"]))
    groups.append(("Last possible sequence of a certain length",
                   [b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"]))
    groups.append(("Last possible sequence length 4/5/6 (invalid code points)",
                   [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf\xbf"]))
    groups.append(("Other boundary conditions",
                   [b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf",
                    b"\xf4\x90\x80\x80"]))
    groups.append(("Unexpected continuation bytes",
                   [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf",
                    b"\x80\xbf\x80\xbf\x80", b"\x80\xbf\x80\xbf\x80\xbf",
                    bytes(range(0x80, 0xbf))]))
    groups.append(("Lonely start characters",
                   [b"".join(bytes([c, 0x20]) for c in range(lo, hi))
                    for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb),
                                   (0xfc, 0xfd))]))
    missing = [b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80",
               b"\xfc\x80\x80\x80\x80", b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf",
               b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf"]
    groups.append(("Sequences with last continuation byte missing", missing))
    groups.append(("Concatenation of incomplete sequences", [b"".join(missing)]))
    groups.append(("Impossible bytes", [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"]))
    groups.append(("Examples of an overlong ASCII character",
                   [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf8\x80\x80\x80\xaf",
                    b"\xfc\x80\x80\x80\x80\xaf"]))
    groups.append(("Maximum overlong sequences",
                   [b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xf8\x87\xbf\xbf\xbf",
                    b"\xfc\x83\xbf\xbf\xbf\xbf"]))
    groups.append(("Overlong representation of the NUL character",
                   [b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xf8\x80\x80\x80\x80",
                    b"\xfc\x80\x80\x80\x80\x80"]))
    groups.append(("Single UTF-16 surrogates",
                   [bytes.fromhex(h) for h in ("eda080", "edadbf", "edae80", "edafbf", "edb080",
                                               "edbe80", "edbfbf")]))
    groups.append(("Paired UTF-16 surrogates",
                   [bytes.fromhex(h) for h in (
                       "eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
                       "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf")]))
    nonchars = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for lead in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for second in (0x8f, 0x9f, 0xaf, 0xbf):
            if lead == 0xf4 and second != 0x8f:
                continue  # above U+10FFFF
            for last in (0xbe, 0xbf):
                seq = bytes([lead, second, 0xbf, last])
                if lead == 0xf0 and second == 0x8f:
                    continue  # overlong
                nonchars.append(seq)
    groups.append(("Non-character code points (valid UTF-8)", nonchars))
    groups.append(("Unicode specials (i.e. replacement char)",
                   [bytes([0xef, 0xbf, x]) for x in range(0xb9, 0xc0)]))
    return groups


def is_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


UTF8_GROUPS = {}
for gi, (title, vectors) in enumerate(utf8_vectors(), 5):
    UTF8_GROUPS["6.%d" % gi] = title
    for vi, vec in enumerate(vectors, 1):
        cid = "6.%d.%d" % (gi, vi)
        if is_utf8(vec):
            echo(cid, "%s: valid text message 0x%s" % (title, vec.hex()), message(vec),
                 [text(vec)])
        else:
            fail(cid, "%s: invalid text message 0x%s" % (title, vec.hex()), message(vec),
                 close=FAIL_UTF8)

# ---- 7 Close handling ---------------------------------------------------------------------


def closing(cid, desc, play, events=(), close=WE_CLOSE, informational=False, check=None,
            rule=None):
    """Cases that send their own close frame (send_close=False)."""
    expect = [(INFORMATIONAL if informational else OK, list(events))]
    case = add(Case(cid, desc, play, expect, close, send_close=False,
                    informational=informational, check=check))
    if rule:
        case.rule += "; " + rule
    return case


def seq(*steps):
    def play(c):
        for step in steps:
            step(c)
    return play


def s_text(payload, fin=True, op=OP_TEXT):
    return lambda c: c.send_frame(op, b(payload), fin=fin)


def s_close(code=None, reason=b"", payload=None):
    return lambda c: c.send_close(code, b(reason), payload)


def s_frame(op, payload=b""):
    return lambda c: c.send_frame(op, b(payload))


closing("7.1.1", "Text message, then close 1000", seq(s_text("Hello World"), s_close(NORMAL)),
        [text("Hello World")])
closing("7.1.2", "Close 1000, then a second (empty) close frame",
        seq(s_close(NORMAL), s_frame(OP_CLOSE)))
closing("7.1.3", "Close 1000, then Ping (no Pong may come back)",
        seq(s_close(NORMAL), s_frame(OP_PING)))
closing("7.1.4", "Close 1000, then a text message (no echo may come back)",
        seq(s_close(NORMAL), s_text("Hello World!")))
closing("7.1.5", "First fragment of a text message, close 1000, then the last fragment",
        seq(s_text(F1, fin=False), s_close(NORMAL), s_text(F2, op=OP_CONT)))
closing("7.1.6", "256 KiB text message, small text message, close 1000, Ping (back to back)",
        seq(s_text((b"BAsd7&jh23" * (256 * KiB // 10 + 1))[:256 * KiB]),
            s_text("Hello World!"), s_close(NORMAL), s_frame(OP_PING)),
        informational=True)

closing("7.3.1", "Close frame with empty payload (no code, no reason)", s_close())
closing("7.3.2", "Close frame with a payload of 1 octet", s_close(payload=b"\x2a"),
        close=Close(True, [PROTOCOL_ERROR], False))
closing("7.3.3", "Close 1000 without reason", s_close(NORMAL))
closing("7.3.4", "Close 1000 with reason 'Hello World!'", s_close(NORMAL, "Hello World!"))
closing("7.3.5", "Close 1000 with a reason of 123 octets (payload 125)",
        s_close(NORMAL, "*" * 123))
closing("7.3.6", "Close 1000 with a reason of 124 octets (payload 126, too long)",
        s_close(NORMAL, "*" * 124), close=Close(True, [PROTOCOL_ERROR], False))
closing("7.5.1", "Close 1000 with a reason that is not valid UTF-8",
        s_close(NORMAL, INVALID_631), close=Close(True, [PROTOCOL_ERROR, INVALID_PAYLOAD], False))

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
for i, code in enumerate(VALID_CODES, 1):
    closing("7.7.%d" % i, "Close with valid close code %d" % code, s_close(code),
            close=Close(True, [NORMAL, code], True))
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
for i, code in enumerate(INVALID_CODES, 1):
    closing("7.9.%d" % i, "Close with invalid close code %d" % code, s_close(code),
            close=Close(True, [PROTOCOL_ERROR], False))
for i, code in enumerate((5000, 65535), 1):
    closing("7.13.%d" % i, "Close with close code %d (outside 1000-4999)" % code,
            s_close(code), close=Close(True, [NORMAL, code, PROTOCOL_ERROR], False),
            informational=True)

# ---- 9 Limits/performance (sizes scaled down by SCALE, see NOTES.md) ------------------------


def big(kind, n):
    unit = b"BAsd7&jh23" if kind == "text" else bytes(range(256))
    return (unit * (n // len(unit) + 1))[:n]


def size_name(n):
    if n >= MiB and n % MiB == 0:
        return "%d MiB" % (n // MiB)
    if n >= KiB and n % KiB == 0:
        return "%d KiB" % (n // KiB)
    return "%d B" % n


for sub, kind in ((1, "text"), (2, "binary")):
    for i, n in enumerate((64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB), 1):
        n //= SCALE
        p = big(kind, n)
        echo("9.%d.%d" % (sub, i), "%s message of %s (Autobahn: %s)"
             % (kind.capitalize(), size_name(n), size_name(n * SCALE)),
             message(p, kind == "binary"), [("message", kind, p)], guard=60.0)
for sub, kind in ((3, "text"), (4, "binary")):
    n = 4 * MiB // SCALE
    p = big(kind, n)
    for i, frag in enumerate((64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB,
                              4 * MiB), 1):
        frag //= SCALE
        echo("9.%d.%d" % (sub, i), "Fragmented %s message of %s in fragments of %s "
             "(Autobahn: %s in %s)" % (kind, size_name(n), size_name(frag),
                                       size_name(n * SCALE), size_name(frag * SCALE)),
             message(p, kind == "binary", frag_size=frag), [("message", kind, p)], guard=60.0)
for sub, kind in ((5, "text"), (6, "binary")):
    n = MiB // SCALE
    p = big(kind, n)
    for i, chop in enumerate((64, 128, 256, 512, 1024, 2048), 1):
        echo("9.%d.%d" % (sub, i), "%s message of %s written in chops of %d octets "
             "(Autobahn: %s)" % (kind.capitalize(), size_name(n), chop, size_name(n * SCALE)),
             message(p, kind == "binary", chop=chop), [("message", kind, p)], guard=60.0)


def round_trips(count, payload, is_binary):
    """Send a message, wait for its echo, repeat."""
    def play(c):
        for k in range(count):
            c.send_message(payload, is_binary)
            if not c.wait_events(k + 1, c.guard):
                return
    return play


ROUND_TRIPS = 1000 // SCALE
for sub, kind in ((7, "text"), (8, "binary")):
    for i, n in enumerate((0, 16, 64, 256, 1024, 4096), 1):
        p = big(kind, n)
        echo("9.%d.%d" % (sub, i), "%d %s messages of %d octets, one after the other, each "
             "after the echo of the previous one (Autobahn: 1000)" % (ROUND_TRIPS, kind, n),
             round_trips(ROUND_TRIPS, p, kind == "binary"),
             [("message", kind, p)] * ROUND_TRIPS, guard=60.0)

# ---- 10 Misc ------------------------------------------------------------------------------

echo("10.1.1", "Text message of 65536 octets sent in frames of 1300 octets",
     message(b"*" * 65536, frag_size=1300), [text(b"*" * 65536)])


# ---- x Extras (not in the Autobahn list) ---------------------------------------------------


def wrong_mask(c):
    """A text frame masked the wrong way for our role: unmasked from a client, masked from a
    server (RFC 6455 5.1: the receiver must fail the connection)."""
    from peer import build_frame
    c.send_raw(build_frame(OP_TEXT, HELLO, masked=not c.is_client))


fail("x.1", "Text frame with the wrong masking for the sender's role (unmasked from the "
     "client, masked from the server)", wrong_mask)


def reason_echoed(reason):
    def check(peer):
        got = peer.close_received
        if got is not None and got[0] == NORMAL and got[1] != reason:
            return "close reason came back as %r instead of %r" % (got[1], reason)
        return None
    return check


closing("x.2", "Close 1000 with the reason 'a<NUL>b' (valid UTF-8, 3 octets)",
        s_close(NORMAL, b"a\x00b"), check=reason_echoed(b"a\x00b"),
        rule="a close 1000 answer must carry the same reason (the examples echo status and "
             "reason)")
echo("x.3", "Text message with non-minimal length encodings (16-bit and 64-bit length for "
     "5 octets): accepted",
     lambda c: c.send_raw(c.frame(OP_TEXT, "Hello", length_bytes=2) +
                          c.frame(OP_TEXT, "Hello", length_bytes=8)),
     [text("Hello"), text("Hello")])


def top_bit_length(c):
    head = bytes([0x82, (0x80 if c.is_client else 0) | 127]) + (1 << 63 | 5).to_bytes(8, "big")
    c.send_raw(head + (b"\0\0\0\0" if c.is_client else b"") + b"Hello")


fail("x.4", "Binary frame with a 64-bit length whose most significant bit is set",
     top_bit_length)

SECTIONS = {1: "Framing", 2: "Pings/Pongs", 3: "Reserved bits", 4: "Opcodes",
            5: "Fragmentation", 6: "UTF-8 handling", 7: "Close handling",
            9: "Limits/performance (scaled)", 10: "Misc", "x": "Extras (not Autobahn)"}


def _check_unique():
    seen = set()
    for c in CASES:
        assert c.id not in seen, c.id
        seen.add(c.id)


_check_unique()
