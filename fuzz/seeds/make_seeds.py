#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/corpus/{frame_parser,utf8}/ (run from anywhere).

frame_parser input: [flags] [sizes] [n] [n split bytes] [wire bytes]; see the target's docs.
utf8 input: [n] [n cut bytes] [text].
"""
import os, struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])


def frame(op, payload=b"", fin=True, mask=KEY, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if n <= 125:
        h = bytes([b0, m | n])
    elif n <= 0xFFFF:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask is None:
        return h + payload
    return h + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def fp(name, wire, flags=0, sizes=0, splits=b""):
    write("frame_parser", name, bytes([flags, sizes, len(splits)]) + bytes(splits) + wire)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# frame_parser
fp("masked-text-hello", frame(1, b"Hello"))
fp("unmasked-text-hello", frame(1, b"Hello", mask=None))
fp("fragments-with-ping-1byte-reads",
   frame(1, b"Hel", fin=False) + frame(9, b"abc") + frame(0, b"lo") + frame(10, b""),
   splits=[1] * 40)
fp("close-1000-reason", frame(8, b"\x03\xe8bye"), flags=8 | 16)
fp("close-empty-after-pings", frame(9, b"p1") + frame(9, b"p2") + frame(10, b"pong") + frame(8, b""),
   sizes=0x80)
fp("binary-200-caller-buffer", frame(2, bytes(range(200))), flags=64 | 32, sizes=(4 << 3) | 1,
   splits=[7, 0, 50, 255])
fp("invalid-utf8-c3-28", frame(1, b"\xc3\x28"))
fp("utf8-split-across-frames", frame(1, "aé€".encode()[:3], fin=False) + frame(0, "aé€".encode()[3:])
   + frame(1, "𝄞".encode()[:1], fin=False) + frame(0, "𝄞".encode()[1:]), splits=[2, 3, 1])
fp("len64-binary", frame(2, b"x" * 70000)[:200], flags=2)
fp("continuation-without-message", frame(0, b"zz"))
fp("close-1005-invalid", frame(8, b"\x03\xed"))
fp("rsv-and-reserved-opcode", frame(1, b"a", rsv=4) + frame(3, b""))
fp("unmasked-allowed-disable-masking", frame(1, b"ok", mask=None) + frame(8, b"\x0f\xa0", mask=None),
   flags=2 | 4 | 128, sizes=3)

# utf8
write("utf8", "ascii", b"\x00Hello")
write("utf8", "mixed-split", bytes([3, 1, 2, 3]) + "aé€𝄞κόσμε".encode())
write("utf8", "surrogate", bytes([1, 1]) + b"\xed\xa0\x80")
write("utf8", "overlong", b"\x00\xc0\xaf\xe0\x80\xaf")
write("utf8", "max-and-beyond", bytes([2, 2, 2]) + "\U0010FFFF".encode() + b"\xf4\x90\x80\x80")
write("utf8", "truncated", bytes([1, 4]) + b"\xce\xba\xe1\xbd")
