#!/usr/bin/env python3
"""Reads the VERSIONINFO resource of a PE file (standard library only) and checks it.

Walks the PE headers to the resource section, finds the RT_VERSION (16) resource and parses its
VS_VERSIONINFO tree: the VS_FIXEDFILEINFO block (signature 0xFEEF04BD, file and product version
numbers, file type) and every string of StringFileInfo.

Usage: versioninfo.py DLL [--expect-version X.Y.Z] [--expect KEY=VALUE]...
Prints the fixed versions and the strings; exits 1 when an expectation fails or there is no
version resource.
"""
import struct
import sys

RT_VERSION = 16


def rsrc_bytes(pe):
    """Returns (section bytes, section RVA) of the resource directory."""
    if pe[:2] != b"MZ":
        raise ValueError("not an MZ image")
    nt = struct.unpack_from("<I", pe, 0x3C)[0]
    if pe[nt:nt + 4] != b"PE\0\0":
        raise ValueError("no PE signature")
    nsections, = struct.unpack_from("<H", pe, nt + 6)
    opt_size, = struct.unpack_from("<H", pe, nt + 20)
    opt = nt + 24
    magic, = struct.unpack_from("<H", pe, opt)
    dirs = opt + (96 if magic == 0x10B else 112)
    rsrc_rva, rsrc_size = struct.unpack_from("<II", pe, dirs + 2 * 8)
    if rsrc_rva == 0:
        raise ValueError("no resource directory")
    sec = opt + opt_size
    for i in range(nsections):
        off = sec + 40 * i
        vsize, va, rawsize, rawptr = struct.unpack_from("<IIII", pe, off + 8)
        if va <= rsrc_rva < va + max(vsize, rawsize):
            start = rawptr + (rsrc_rva - va)
            return pe[start:start + rsrc_size], rsrc_rva
    raise ValueError("resource directory outside every section")


def find_version(rsrc, base_rva):
    """Follows type RT_VERSION -> first name -> first language to the data."""
    def entries(off):
        named, ids = struct.unpack_from("<HH", rsrc, off + 12)
        for i in range(named + ids):
            yield struct.unpack_from("<II", rsrc, off + 16 + 8 * i)

    for name, target in entries(0):
        if name != RT_VERSION:
            continue
        node = target
        for _ in range(2):  # name level, language level
            if not node & 0x80000000:
                raise ValueError("unexpected leaf")
            _, node = next(entries(node & 0x7FFFFFFF))
        data_rva, size = struct.unpack_from("<II", rsrc, node)
        start = data_rva - base_rva
        return rsrc[start:start + size]
    raise ValueError("no RT_VERSION resource")


def align4(n):
    return (n + 3) & ~3


def parse_block(data, off):
    """Parses one version block: returns (key, value bytes, value type, children, end)."""
    length, value_len, vtype = struct.unpack_from("<HHH", data, off)
    end = off + length
    p = off + 6
    key_end = p
    while data[key_end:key_end + 2] != b"\0\0":
        key_end += 2
    key = data[p:key_end].decode("utf-16-le")
    p = align4(key_end + 2)
    vbytes = value_len * 2 if vtype == 1 else value_len
    value = data[p:p + vbytes]
    p = align4(p + vbytes)
    children = []
    while p < end:
        child = parse_block(data, p)
        children.append(child)
        p = align4(child[4])
    return key, value, vtype, children, end


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    path = args.pop(0)
    expect = {}
    expect_version = None
    while args:
        a = args.pop(0)
        if a == "--expect-version":
            expect_version = args.pop(0)
        elif a == "--expect":
            k, v = args.pop(0).split("=", 1)
            expect[k] = v
        else:
            print("versioninfo: unknown argument " + a, file=sys.stderr)
            return 2
    with open(path, "rb") as f:
        pe = f.read()
    rsrc, base = rsrc_bytes(pe)
    data = find_version(rsrc, base)
    key, value, _, children, _ = parse_block(data, 0)
    fail = []
    if key != "VS_VERSION_INFO":
        fail.append("root block is %r" % key)
    sig, _, fv_ms, fv_ls, pv_ms, pv_ls, _, _, file_os, file_type = struct.unpack_from("<10I", value, 0)
    if sig != 0xFEEF04BD:
        fail.append("VS_FIXEDFILEINFO signature %#x" % sig)
    fixed_file = "%d.%d.%d.%d" % (fv_ms >> 16, fv_ms & 0xFFFF, fv_ls >> 16, fv_ls & 0xFFFF)
    fixed_product = "%d.%d.%d.%d" % (pv_ms >> 16, pv_ms & 0xFFFF, pv_ls >> 16, pv_ls & 0xFFFF)
    print("fixed: FileVersion %s ProductVersion %s FileOS %#x FileType %d" %
          (fixed_file, fixed_product, file_os, file_type))
    strings = {}
    for ckey, _, _, tables, _ in children:
        if ckey != "StringFileInfo":
            continue
        for _, _, _, entries, _ in tables:
            for skey, sval, _, _, _ in entries:
                strings[skey] = sval.decode("utf-16-le").rstrip("\0")
    for k in sorted(strings):
        print("string: %s = %s" % (k, strings[k]))
    if file_type != 2:
        fail.append("FileType %d, expected 2 (VFT_DLL)" % file_type)
    if expect_version is not None:
        want = expect_version + ".0"
        for label, got in (("fixed FileVersion", fixed_file), ("fixed ProductVersion", fixed_product)):
            if got != want:
                fail.append("%s %s, expected %s" % (label, got, want))
        expect.setdefault("FileVersion", expect_version)
        expect.setdefault("ProductVersion", expect_version)
    for k, v in sorted(expect.items()):
        if strings.get(k) != v:
            fail.append("%s = %r, expected %r" % (k, strings.get(k), v))
    for f in fail:
        print("versioninfo: " + f, file=sys.stderr)
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
