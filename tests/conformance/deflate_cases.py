"""Sections 12 and 13 of the public Autobahn|Testsuite case list: permessage-deflate (RFC 7692).

Every case opens a connection offering (server role) or accepting (client role)
permessage-deflate with the case's parameters, sends COUNT messages of LEN octets one at a time,
each after the echo of the previous one, taken cyclically from a corpus, with our frames of at
most AUTOFRAG compressed octets (0: one frame), and requires every echo to be the same message
(type and bytes) and a clean close 1000 started by us. The testee runs with --deflate
(examples/build/echo_server --deflate, examples/build/client --deflate --echo). A connection
that does not negotiate permessage-deflate is UNIMPLEMENTED. Our peer inflates with exactly the
window the testee agreed to (Pmd), so a distance beyond it fails the case.

COUNT is Autobahn's 1000 in the long mode (CONFORMANCE_DEFLATE_COUNT=1000, see NOTES.md) and
CONFORMANCE_DEFLATE_COUNT (default 10) otherwise; sizes, fragmentation and parameters are
Autobahn's.

The corpora stand in for Autobahn's test-data files (which are not redistributed here): each is
generated deterministically, at least 256 KiB, of the same character.
"""

import os
import random

import cases as C
from peer import HandshakeError, Pmd

COUNT = int(os.environ.get("CONFORMANCE_DEFLATE_COUNT", "10"))
CORPUS_SIZE = 256 * 1024 + 4096

# (LEN, Autobahn's COUNT, timeout s, AUTOFRAG)
MSG_SIZES = [
    (16, 1000, 60, 0), (64, 1000, 60, 0), (256, 1000, 120, 0), (1024, 1000, 240, 0),
    (4096, 1000, 480, 0), (8192, 1000, 480, 0), (16384, 1000, 480, 0), (32768, 1000, 480, 0),
    (65536, 1000, 480, 0), (131072, 1000, 480, 0), (8192, 1000, 480, 256),
    (16384, 1000, 480, 256), (32768, 1000, 480, 256), (65536, 1000, 480, 256),
    (131072, 1000, 480, 256), (131072, 1000, 480, 1024), (131072, 1000, 480, 4096),
    (131072, 1000, 480, 32768),
]


# ---- corpora ----------------------------------------------------------------------------------

def _faust(rng):
    words = ("Habe nun ach Philosophie Juristerei und Medizin und leider auch Theologie durchaus "
             "studiert mit heißem Bemühn da steh ich nun ich armer Tor und bin so klug als wie "
             "zuvor heiße Magister heiße Doktor gar und ziehe schon an die zehen Jahr herauf "
             "herab und quer und krumm meine Schüler an der Nase herum Geist Welt Natur Kraft "
             "Samen Wirken Kram Wort Tat Gretchen Mephistopheles Walpurgisnacht").split()
    out, size = [], 0
    while size < CORPUS_SIZE:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 14)))
        line = line[0].upper() + line[1:] + rng.choice([".", ",", "!", "?", ";"]) + "\n"
        out.append(line)
        size += len(line.encode("utf-8"))
    return "".join(out).encode("utf-8")


def _bitmap(rng):
    # A 512x512 8-bit grey image (BMP header + rows): gradients, circles and noise.
    w = h = 512
    head = b"BM" + (1078 + w * h).to_bytes(4, "little") + b"\0" * 4 + (1078).to_bytes(4, "little")
    head += (40).to_bytes(4, "little") + w.to_bytes(4, "little") + h.to_bytes(4, "little")
    head += b"\x01\x00\x08\x00" + b"\0" * 24 + bytes(b for i in range(256) for b in (i, i, i, 0))
    rows = bytearray()
    for y in range(h):
        for x in range(w):
            v = (x + y) // 4 + (64 if (x - 256) ** 2 + (y - 256) ** 2 < 90 ** 2 else 0)
            rows.append((v + rng.randint(-6, 6)) & 0xFF)
    return bytes(head + rows)


def _pdf(rng):
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    n = 1
    while len(out) < CORPUS_SIZE:
        if rng.random() < 0.5:
            body = ("BT /F1 %d Tf %d %d Td (Object %d: Lorem ipsum dolor sit amet) Tj ET\n"
                    % (rng.randint(8, 24), rng.randint(0, 600), rng.randint(0, 800), n)) * 8
            obj = "%d 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n" % (n, len(body), body)
            out += obj.encode("ascii")
        else:
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(200, 3000)))
            out += ("%d 0 obj\n<< /Filter /FlateDecode /Length %d >>\nstream\n"
                    % (n, len(blob))).encode("ascii") + blob + b"\nendstream\nendobj\n"
        n += 1
    return bytes(out)


def _json(rng):
    out, size, i = [], 0, 0
    while size < CORPUS_SIZE:
        item = ('{"id":%d,"guid":"%08x-%04x","isActive":%s,"balance":"$%d.%02d","age":%d,'
                '"name":"%s %s","tags":["%s","%s"],"friends":[{"id":%d,"name":"%s"}]},\n'
                % (i, rng.getrandbits(32), rng.getrandbits(16), rng.choice(["true", "false"]),
                   rng.randint(1000, 4000), rng.randint(0, 99), rng.randint(20, 70),
                   rng.choice(["Ann", "Bob", "Carl", "Dora", "Eve"]),
                   rng.choice(["Smith", "Jones", "Miller", "Brown"]),
                   rng.choice(["ut", "sit", "est", "do"]), rng.choice(["anim", "elit", "qui"]),
                   rng.randint(0, 99), rng.choice(["Kim", "Lee", "Max"])))
        out.append(item)
        size += len(item)
        i += 1
    return ("[" + "".join(out) + "{}]").encode("ascii")


def _html(rng):
    out, size = ["<!DOCTYPE html>\n<html><head><title>Corpus</title></head><body>\n"], 0
    while size < CORPUS_SIZE:
        row = ('<div class="item item-%d"><a href="/items/%d?ref=list">Item %d</a>'
               '<span class="price">%d.%02d</span><p>Some description text for item %d.</p>'
               '</div>\n' % (rng.randint(0, 9), rng.randint(0, 99999), rng.randint(0, 999),
                             rng.randint(1, 500), rng.randint(0, 99), rng.randint(0, 999)))
        out.append(row)
        size += len(row)
    out.append("</body></html>\n")
    return "".join(out).encode("ascii")


_CORPORA = {}


def corpus(name):
    if name not in _CORPORA:
        gen = {"gutenberg_faust": _faust, "lena512": _bitmap, "ooms": _pdf,
               "json_data1": _json, "html_data1": _html}[name]
        _CORPORA[name] = gen(random.Random(name))
    return _CORPORA[name]


def payloads(name, n, count):
    data = corpus(name)
    wrapped = data + data[:n]
    return [wrapped[(i * n) % len(data):(i * n) % len(data) + n] for i in range(count)]


# ---- negotiation --------------------------------------------------------------------------------

def parse_extensions(value):
    """[(name, {param: value or None})] of a Sec-WebSocket-Extensions value."""
    out = []
    for item in (value or "").split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
            elif p:
                params[p.lower()] = None
        out.append((parts[0].lower(), params))
    return out


def offer_text(no_context_takeover, max_window_bits, client_max=True):
    s = "permessage-deflate"
    if client_max:
        s += "; client_max_window_bits"
    if no_context_takeover:
        s += "; server_no_context_takeover"
    if max_window_bits:
        s += "; server_max_window_bits=%d" % max_window_bits
    return s


def client_negotiate(offers):
    """Our client's check of the testee server's response to `offers` -> Pmd or None."""
    def negotiate(value):
        items = [p for n, p in parse_extensions(value) if n == "permessage-deflate"]
        if not items:
            return None
        if len(items) > 1:
            raise HandshakeError("more than one permessage-deflate in the response")
        p = items[0]
        known = {"server_no_context_takeover", "client_no_context_takeover",
                 "server_max_window_bits", "client_max_window_bits"}
        if set(p) - known:
            raise HandshakeError("unknown parameter in %r" % value)
        smwb = int(p["server_max_window_bits"]) if p.get("server_max_window_bits") else 15
        # The response must accept one of the offers.
        ok = any((not snct or "server_no_context_takeover" in p) and
                 (not bits or ("server_max_window_bits" in p and smwb <= bits))
                 for snct, bits in offers)
        if not ok:
            raise HandshakeError("response %r accepts none of the offers" % value)
        cmwb = int(p["client_max_window_bits"]) if p.get("client_max_window_bits") else 15
        return Pmd(send_bits=cmwb, send_reset="client_no_context_takeover" in p,
                   recv_bits=smwb, recv_reset="server_no_context_takeover" in p)
    return negotiate


def server_answer(requests):
    """Our server's answer to the testee client's offer: the first acceptable of `requests`
    ((request client_no_context_takeover, request client_max_window_bits N or 0))."""
    def answer(value):
        for name, p in parse_extensions(value):
            if name != "permessage-deflate":
                continue
            for cnct, bits in requests:
                if bits and "client_max_window_bits" not in p:
                    continue  # cannot ask for a window the client did not offer to limit
                resp = "permessage-deflate"
                if "server_no_context_takeover" in p:
                    resp += "; server_no_context_takeover"
                smwb = int(p["server_max_window_bits"]) if p.get("server_max_window_bits") else 15
                if p.get("server_max_window_bits"):
                    resp += "; server_max_window_bits=%d" % smwb
                if cnct:
                    resp += "; client_no_context_takeover"
                if bits:
                    resp += "; client_max_window_bits=%d" % bits
                return resp, Pmd(send_bits=smwb, send_reset="server_no_context_takeover" in p,
                                 recv_bits=bits or 15, recv_reset=cnct)
        return None, None
    return answer


class Deflate:
    """A case's permessage-deflate parameters for both roles."""

    def __init__(self, offers, requests, client_max=True):
        self.offers = offers
        self.offer = ", ".join(offer_text(n, b, client_max) for n, b in offers)
        self.negotiate = client_negotiate(offers)
        self.answer = server_answer(requests)


# ---- the cases -----------------------------------------------------------------------------------

def round_trips(items, is_binary, autofrag):
    def play(c):
        for k, p in enumerate(items):
            c.send_message(p, is_binary, frag_size=autofrag or None)
            if not c.wait_events(k + 1, c.guard):
                return
    return play


def add_deflate_case(cid, desc, corpus_name, is_binary, size, autofrag, timeout, deflate):
    items = payloads(corpus_name, size, COUNT)
    kind = "binary" if is_binary else "text"
    expected = [("message", kind, p) for p in items]
    case = C.Case(cid, desc, round_trips(items, is_binary, autofrag), [(C.OK, expected)],
                  C.WE_CLOSE, wait=C.count_events(COUNT), guard=float(timeout),
                  rule="permessage-deflate negotiated (else UNIMPLEMENTED); %d %s messages of %d "
                       "octets echoed exactly, each before the next is sent; clean close 1000 "
                       "started by us" % (COUNT, kind, size))
    case.deflate = deflate
    C.add(case)


# Section 12: the default offer, accepted as is; the five data sets of Autobahn, in its order.
DATA_SETS = [("gutenberg_faust", True), ("lena512", True), ("ooms", True),
             ("json_data1", False), ("html_data1", False)]
for k, (name, is_binary) in enumerate(DATA_SETS, 1):
    for i, (size, _, timeout, autofrag) in enumerate(MSG_SIZES, 1):
        add_deflate_case(
            "12.%d.%d" % (k, i),
            "Send %d compressed messages of %d octets from %s (%s), %s; default offer "
            "accepted as is" % (COUNT, size, name, "binary" if is_binary else "text",
                                "autofragment %d" % autofrag if autofrag else "one frame each"),
            name, is_binary, size, autofrag, timeout,
            Deflate([(False, 0)], [(False, 0)], client_max=False))

# Section 13: seven parameter sets, json_data1 as text.
PARAMS = [
    ([(False, 0)], [(False, 0)]),
    ([(True, 0)], [(True, 0)]),
    ([(False, 8)], [(False, 8)]),
    ([(False, 15)], [(False, 15)]),
    ([(True, 8)], [(True, 8)]),
    ([(True, 15)], [(True, 15)]),
    ([(True, 8), (True, 0), (False, 0)], [(True, 8), (True, 0), (False, 0)]),
]
for k, (offers, requests) in enumerate(PARAMS, 1):
    for i, (size, _, timeout, autofrag) in enumerate(MSG_SIZES, 1):
        add_deflate_case(
            "13.%d.%d" % (k, i),
            "Send %d compressed messages of %d octets (json_data1, text), %s; client offers %s; "
            "server accepts requesting %s" % (
                COUNT, size, "autofragment %d" % autofrag if autofrag else "one frame each",
                " / ".join(offer_text(n, b) for n, b in offers),
                " or ".join("client_no_context_takeover=%s client_max_window_bits=%s"
                            % (n, b or "-") for n, b in requests)),
            "json_data1", False, size, autofrag, timeout, Deflate(offers, requests))

C.SECTIONS[12] = "WebSocket Compression (different payloads)"
C.SECTIONS[13] = "WebSocket Compression (different parameters)"
