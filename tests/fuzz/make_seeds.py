#!/usr/bin/python3
"""make_seeds.py - (re)generate the seed corpora of the fuzz targets.

Every seed is synthesized here from the formats the engine documents
(WinApi1024 lines, DatabaseBuilder JSON, the compact DB layout of
apidb_pack.c, collection CSV, compressed vectors, mapped PE images); nothing
is copied from ../shared. The crawl seeds plant export addresses of the DBs
embedded in fuzz_crawl.c, which are read out of that file so there is one
source of truth. Output is deterministic: rerunning rewrites identical files.

Usage: tests/fuzz/make_seeds.py            (writes tests/fuzz/corpus/*)
"""
import json
import os
import random
import re
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@}]^+-*/?,._"
MASK64 = (1 << 64) - 1


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- WinApi1024 --------------------------------------------------------------

def winapi_line(i, name=None, rank=None):
    """Line i of the table fuzz_util.c generates (same format and ranks)."""
    rank = (i * 389) % 1024 if rank is None else rank
    name = name or "synth%d.dll!Synth%d" % (i % 13, i)
    return "grp%d;sub;%s;%d" % (i % 7, name, rank)


def seeds_winapi():
    lines = [winapi_line(i) for i in range(1024)]
    write("fuzz_winapi", "valid_lf", "\n".join(lines) + "\n")
    rnd = random.Random(7)
    crlf = []
    for i, line in enumerate(lines):
        g, s, api, rank = line.split(";")
        crlf.append("%s;%s;%s%s%s;%s%s" % (g, s, " " * (i % 2), api, "\t" * (i % 3 == 0),
                                           " " * (i % 4 == 0), rank))
        if rnd.random() < 0.02:
            crlf.append("")
    write("fuzz_winapi", "valid_crlf_spaces", "\r\n".join(crlf))
    splices = {
        "splice_valid": (5, winapi_line(5, "kernel32.dll!CreateFileW")),
        "splice_dup_rank": (5, winapi_line(5, "a.dll!B", rank=0)),
        "splice_dup_name": (6, winapi_line(6, "synth5.dll!Synth5")),
        "splice_no_bang": (7, "g;s;kernel32.dllCreateFileW;%d" % ((7 * 389) % 1024)),
        "splice_two_bangs": (8, "g;s;a!b!c;%d" % ((8 * 389) % 1024)),
        "splice_rank_range": (9, "g;s;a.dll!B;1024"),
        "splice_five_fields": (10, "g;s;a.dll!B;%d;x" % ((10 * 389) % 1024)),
        "splice_extra_line": (11, winapi_line(11) + "\ng;s;x.dll!Y;1"),
        "splice_empty": (1023, ""),
    }
    for name, (line, text) in splices.items():
        write("fuzz_winapi", name, bytes([0xFF, line >> 8, line & 0xFF]) + text.encode())
    write("fuzz_winapi", "short", "a;b;c.dll!d;0\n")
    write("fuzz_winapi", "fields", "a;b;c;d;e\n;;;\n")


# --- DB JSON -----------------------------------------------------------------

def db_json(os_name, dlls):
    """dlls: list of (key, bitness, base, aslr or None, [(address, name, ordinal)])."""
    out = {"os_name": os_name, "dlls": {}}
    for key, bitness, base, aslr, exports in dlls:
        d = {"bitness": bitness, "base_address": base}
        if aslr is not None:
            d["aslr_offset"] = aslr
        d["exports"] = [{"address": a, "name": n, "ordinal": o} for a, n, o in exports]
        out["dlls"][key] = d
    return json.dumps(out, indent=1).encode()


DB_SMALL = db_json("Seed x86", [
    ("32_6.1_kernel32.dll_0x75000000", 32, 0x75000000, 0,
     [(0x1000, "CreateFileA", 1), (0x1010, "CreateFileW", 2), (0x1020, "None", 3),
      (0x1030, None, 4), (0x1040, "Sleep@4", 5)]),
    ("32_6.1_msvcr90.dll_0x74000000", 32, 0x74000000, 0, [(0x2000, "malloc", 1)]),
])
DB_MIXED = db_json("Seed x86+x64", [
    ("32_6.1_user32.dll_0x76000000", 32, 0x76000000, -0x10000,
     [(0x3000, "MessageBoxA", 1), (0x3010, "MessageBoxW", 2)]),
    ("64_6.1_ntdll.dll_0x7ff800000000", 64, 0x7FF800000000, 0x10000,
     [(0x1000, "NtClose", 1), (0x1010, "NtOpenProcess", 2)]),
    ("64_6.1_ws2_32.dll_0x76000000", 64, 0x76000000, 0, [(0x3000, "connect", 1)]),
    ("kernel32.dll", 32, 0x1000, 0, [(0x10, "NoDllName", 1)]),
    ("32_x", 32, 0x2000, 0, [(0x10, "Empty", 1), (0x20, "", 2)]),
])
DB_EDGES = db_json("Seed edges", [
    ("64_a_big.dll_0x7fffffffffff0000", 64, 0x7FFFFFFFFFFF0000, 0,
     [(0x7FFFFFFFFFFFFFFF, "Top", 1), (0x0, "Bottom", 2)]),
    ("64_a_neg.dll_0x10000", 64, 0x10000, -0x7FFFFFFFFFFFFFFF, [(0x10, "Shifted", 1)]),
    ("32_a_wide.dll_0x100000000", 32, 0x100000000, 0, [(0x10, "Above4G", 1)]),
])
DB_BAD = [
    b'{"os_name": "x", "dlls": {}}',
    b'{"os_name": 1, "dlls": {}}',
    b'{"os_name": "x", "dlls": {"32_a_b.dll_0x1": {"bitness": 16, "base_address": 1, '
    b'"aslr_offset": 0, "exports": []}}}',
    b'{"os_name": "x", "dlls": {"32_a_b.dll_0x1": {"bitness": 32, "base_address": 1, '
    b'"exports": [{"address": 2, "name": "f", "ordinal": 1}]}}}',
    b'{"os_name": "x", "dlls": {"32_a_b.dll_0x1": {"bitness": 32, "base_address": 0, '
    b'"aslr_offset": 5, "exports": [{"address": 2, "name": "f", "ordinal": 1}]}}}',
    b'{"os_name": "x", "dlls": {"32_a_b.dll_0x1": {"bitness": 32, "base_address": 1, '
    b'"aslr_offset": 0, "exports": [{"address": -2, "name": "f", "ordinal": 1}]}}}',
    b'{"os_name": "x", "dlls": {"32_a_b.dll_0x1": {"bitness": 32, "base_address": 1, '
    b'"aslr_offset": 0, "exports": [{"address": 2, "name": 7, "ordinal": 1}]}}}',
    b'{"os_name": "x", "dlls": [1, 2]',
    b'{"os_name": "x", "dlls": {"64_a_b.dll_0x1": {"bitness": 64, '
    b'"base_address": 18446744073709551615, "aslr_offset": 0, "exports": []}}}',
]


def seeds_apidb_json():
    write("fuzz_apidb_json", "small", DB_SMALL)
    write("fuzz_apidb_json", "mixed", DB_MIXED)
    write("fuzz_apidb_json", "edges", DB_EDGES)
    for i, bad in enumerate(DB_BAD):
        write("fuzz_apidb_json", "bad%d" % i, bad)


# --- compact DB (layout of apidb_pack.c) ---------------------------------------

def pack_checksum(payload):
    h = 0x243F6A8885A308D3 ^ len(payload)
    n8 = len(payload) // 8 * 8
    for i in range(0, n8, 8):
        (w,) = struct.unpack_from("<Q", payload, i)
        h = ((h ^ w) * 0x9E3779B97F4A7C15) & MASK64
        h ^= h >> 29
    for b in payload[n8:]:
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h ^ (h >> 32)


def norm_pair(dll_field, api):
    cut = dll_field.rfind("_")
    dll = dll_field[:cut] if cut >= 0 else ""
    if dll.startswith("msvcr"):
        dll = "msvcrt.dll"
    api = api.split("@")[0]
    if api and api[-1] in "AW":
        api = api[:-1]
    return dll, api


def pack_db(os_name, dlls, flags=0, exports_read=None):
    """dlls: list of (dll_field, bitness, [(address, api)]); entries get sorted."""
    arena = bytearray()

    def add(s):
        off = len(arena)
        arena.extend(s.encode() + b"\0")
        return off

    dll_rows, entries = [], []
    for i, (field, bitness, exports) in enumerate(dlls):
        dll_rows.append((add(field), bitness))
        for address, api in exports:
            entries.append((address, i, add(api), field, api))
    if not arena:
        add("")  # the arena is never empty: the engine rejects that
    entries.sort()
    norms, norm_ids, ent_rows = [], {}, []
    for address, dll, api_off, field, api in entries:
        pair = norm_pair(field, api)
        if pair not in norm_ids:
            norm_ids[pair] = len(norms)
            norms.append((add(pair[0]), len(pair[0]), api_off, len(pair[1])))
        ent_rows.append((address, dll, api_off, norm_ids[pair]))
    payload = os_name.encode() + b"\0"
    payload += b"".join(struct.pack("<II", *d) for d in dll_rows)
    payload += b"".join(struct.pack("<IIII", *n) for n in norms)
    payload += b"".join(struct.pack("<QIII4x", *e) for e in ent_rows)
    payload += bytes(arena)
    header = struct.pack("<8sIIQQQQQIIQ16s", b"AVDBPACK", 1, 0x01020304, pack_checksum(payload),
                         len(ent_rows), len(dll_rows), len(norms), len(arena), len(os_name),
                         flags, len(ent_rows) if exports_read is None else exports_read, bytes(16))
    return header + payload


def seeds_apidb_pack():
    for name, js in (("small", DB_SMALL), ("mixed", DB_MIXED), ("edges", DB_EDGES)):
        write("fuzz_apidb_pack", "json_" + name, b"\x02" + js)
        write("fuzz_apidb_pack", "json_noaslr_" + name, b"\x06" + js)
    packs = {
        "x86": pack_db("Pack x86", [
            ("kernel32.dll_0x75000000", 32, [(0x75001000, "CreateFileA"), (0x75001010, "Sleep@4")]),
            ("msvcr90.dll_0x74000000", 32, [(0x74002000, "malloc")])]),
        "x64": pack_db("Pack x64", [
            ("ntdll.dll_0x7ff800000000", 64, [(0x7FF800001000, "NtClose")]),
            ("user32.dll_0x76000000", 32, [(0x76003000, "MessageBoxW"), (0x1FFFFFFFF, "Far")]),
            ("", 32, [(0x10, "NoDll")])], flags=1),
        "empty": pack_db("", []),
    }
    for name, p in packs.items():
        write("fuzz_apidb_pack", "pack_" + name, b"\x00" + p)
        bad = bytearray(p)
        bad[16:24] = bytes(8)  # mode 1 recomputes the checksum
        write("fuzz_apidb_pack", "fixsum_" + name, b"\x01" + bytes(bad))
    write("fuzz_apidb_pack", "truncated", b"\x00" + packs["x86"][:100])
    write("fuzz_apidb_pack", "badmagic", b"\x00AVDBPACX" + packs["x86"][8:])


# --- vectors and collections ----------------------------------------------------

def compress(bits):
    s = "".join("1" if b in bits else "0" for b in range(1024)) + "00"
    syms = [ALPHABET[int(s[i:i + 6], 2)] for i in range(0, 1026, 6)]
    out, i = "", 0
    while i < len(syms):
        j = i
        while j < len(syms) and syms[j] == syms[i]:
            j += 1
        run = j - i
        out += syms[i] * run if run <= 2 else "%s%d" % (syms[i], run)
        i = j
    return out


def random_vector(rnd, n):
    return compress(set(rnd.sample(range(1024), n)))


def seeds_vector():
    rnd = random.Random(11)
    write("fuzz_vector", "empty_vector", compress(set()))
    write("fuzz_vector", "full_vector", compress(set(range(1024))))
    write("fuzz_vector", "sparse", random_vector(rnd, 12))
    write("fuzz_vector", "dense", random_vector(rnd, 700))
    write("fuzz_vector", "runs", compress(set(range(0, 300)) | set(range(600, 610))))
    write("fuzz_vector", "no_runs", "AB" * 85 + "A")
    write("fuzz_vector", "bad_char", "A100#A70")
    write("fuzz_vector", "overflow", "A172")
    write("fuzz_vector", "zero_run", "B0A171")
    write("fuzz_vector", "big_count", "A99999999999999999999999")
    write("fuzz_vector", "api_list",
          "kernel32.dll!CreateFileW\nkernel32.dll!VirtualAlloc\nmsvcr90.dll!malloc\n"
          "ntdll.dll!NtOpenProcess@16\nuser32.dll!MessageBoxA\nuser32.dll!MessageBoxW\n"
          "ws2_32.dll!connect")
    write("fuzz_vector", "api_list_bad", "kernel32.dll!CreateFileW\nno-bang-here")
    write("fuzz_vector", "raw128", bytes(rnd.randrange(256) for _ in range(128)))


def seeds_collection():
    rnd = random.Random(13)
    lines = ["# family;sample;in;num;vector"]
    for fam in ("win.alpha", "win.beta", "elf.gamma"):
        for k in range(3):
            lines.append("%s;%s_%d;1;2;%s" % (fam, fam[4:], k, random_vector(rnd, rnd.randrange(40))))
    lines.append("win.alpha;alpha_1;1;2;%s" % random_vector(rnd, 5))  # replaces, keeps place
    lines.append("win.beta;alpha_1;1;2;%s" % compress(set()))      # same sample, other family
    write("fuzz_collection", "basic", "\n".join(lines) + "\n")
    shared = random_vector(rnd, 20)
    ties = ["f%d;s%d;0;0;%s" % (i % 2, i, shared) for i in range(6)]
    write("fuzz_collection", "ties", "\r\n".join(ties) + "\r\n")
    write("fuzz_collection", "malformed",
          "\n\n   \n#comment\nonly;four;fields;here\nf;s;0;0;A172\nf;s;0;0;A100#A71\n"
          "f; spaced ;0;0; %s \nf;s;0;0;%s;extra\n" % (compress({1, 2}), compress({3})))
    write("fuzz_collection", "no_newline", "x;y;0;0;" + compress({0, 1023}))


# --- PE images and dumps --------------------------------------------------------

def build_image(bits, imports, image_base, size=0x800, iat_values=None, code=b"", rip=False):
    """A mapped PE image (RVA = offset) with an import table.

    imports: [(dll name, [thunk names or ordinals])]; iat_values: values to
    write into the IAT slots in order (a loaded image holds the resolved API
    addresses there); code: bytes at 0x600, where FF 15/FF 25 sites pointing
    at the IAT are appended (absolute for 32-bit, RIP-relative when rip)."""
    step = 8 if bits == 64 else 4
    img = bytearray(size)
    img[0:2] = b"MZ"
    struct.pack_into("<H", img, 0x3C, 0x80)
    img[0x80:0x84] = b"PE\0\0"
    struct.pack_into("<H", img, 0x84, 0x8664 if bits == 64 else 0x14C)
    struct.pack_into("<H", img, 0x98, 0x20B if bits == 64 else 0x10B)
    if bits == 64:
        struct.pack_into("<Q", img, 0x80 + 0x30, image_base)
    else:
        struct.pack_into("<I", img, 0x80 + 0x34, image_base)
    struct.pack_into("<I", img, 0x80 + (0x90 if bits == 64 else 0x80), 0x200)
    desc, names, oft, ft = 0x200, 0x300, 0x400, 0x500
    slots = []
    for dll, thunks in imports:
        struct.pack_into("<IIIII", img, desc, oft, 0, 0, names, ft)
        desc += 20
        img[names:names + len(dll) + 1] = dll.encode() + b"\0"
        names += len(dll) + 1
        for t in thunks:
            if isinstance(t, int):
                value = 0x80000000 | t
            else:
                struct.pack_into("<H", img, names, 0)
                img[names + 2:names + 3 + len(t)] = t.encode() + b"\0"
                value, names = names, names + 3 + len(t)
            struct.pack_into("<Q" if step == 8 else "<I", img, oft, value)
            slots.append(ft)
            oft, ft = oft + step, ft + step
        oft, ft = oft + step, ft + step  # zero terminators
    for i, v in enumerate(iat_values or []):
        if i < len(slots):
            struct.pack_into("<Q" if step == 8 else "<I", img, slots[i], v)
    pos = 0x600
    img[pos:pos + len(code)] = code
    pos += len(code)
    for i, slot in enumerate(slots):
        op = b"\xff\x15" if i % 2 == 0 else b"\xff\x25"
        if rip:
            disp = slot - (pos + (6 if op == b"\xff\x15" else 7))
            site = op + struct.pack("<i", disp)
        else:
            site = op + struct.pack("<I", (image_base + slot) & 0xFFFFFFFF)
        img[pos:pos + 6] = site
        pos += 8
    return bytes(img)


IMPORTS = [("kernel32.dll", ["CreateFileW", "VirtualAlloc", 7]),
           ("msvcr90.dll", ["malloc", "free"]),
           ("user32.dll", ["MessageBoxA"])]


def seeds_pe():
    write("fuzz_pe", "pe32", build_image(32, IMPORTS, 0x400000))
    write("fuzz_pe", "pe64", build_image(64, IMPORTS, 0x140000000, rip=True))
    img = bytearray(build_image(32, IMPORTS, 0x400000))
    struct.pack_into("<IIIII", img, 0x200 + 60, 0x400, 0, 0, 0x300, 0x520)  # shares thunks
    write("fuzz_pe", "pe32_shared_thunks", bytes(img))
    write("fuzz_pe", "pe32_truncated", build_image(32, IMPORTS, 0x400000)[:0x410])
    img = bytearray(build_image(32, IMPORTS, 0x400000))
    struct.pack_into("<I", img, 0x404, 0x7FFFFFF0)  # a hint outside the dump ends the parse
    write("fuzz_pe", "pe32_hint_outside", bytes(img))
    write("fuzz_pe", "not_pe", bytes(random.Random(3).randrange(256) for _ in range(300)))
    write("fuzz_pe", "tiny", b"\xff\x15\x00\x00\x00\x00\xff\x25")


def crawl_dbs():
    """The export addresses of the DBs embedded in fuzz_crawl.c."""
    src = open(os.path.join(HERE, "fuzz_crawl.c")).read()
    dbs = {}
    for name, body in re.findall(r"static const char (DB_JSON_\w+)\[\] = JSON\((.*?)\);\n", src,
                                 re.S):
        db, out = json.loads(body), {32: [], 64: []}
        for d in db["dlls"].values():
            for e in d["exports"]:
                out[d["bitness"]].append(d["base_address"] + e["address"] - d["aslr_offset"])
        dbs[name] = out
    if set(dbs) != {"DB_JSON_A", "DB_JSON_B", "DB_JSON_C"}:
        sys.exit("make_seeds.py: could not read the DBs out of fuzz_crawl.c")
    return dbs


def crawl_header(flags, distance, base, lo=0, hi=0):
    return struct.pack("<Bb", flags, distance) + struct.pack("<Q", base) + bytes([lo, hi])


def seeds_crawl():
    dbs = crawl_dbs()
    a32, a64, c64 = dbs["DB_JSON_A"][32], dbs["DB_JSON_A"][64], dbs["DB_JSON_C"][64]
    b32 = dbs["DB_JSON_B"][32]
    pe32 = build_image(32, IMPORTS, 0x400000, iat_values=a32)
    pe64 = build_image(64, IMPORTS, 0x140000000, iat_values=a64 + c64, rip=True)
    write("fuzz_crawl", "pe32_dbA", crawl_header(0x00, 32, 0) + pe32)
    write("fuzz_crawl", "pe32_base", crawl_header(0x01, 32, 0x400000) + pe32)
    write("fuzz_crawl", "pe32_name_range", crawl_header(0x0E, 64, 0x400000, 0x20, 0x10) + pe32)
    write("fuzz_crawl", "pe32_dbAB", crawl_header(0x30, 32, 0) + pe32)
    write("fuzz_crawl", "pe64_dbAC", crawl_header(0x10, 32, 0) + pe64)
    write("fuzz_crawl", "pe64_packed", crawl_header(0x50, 0, 0) + pe64)
    write("fuzz_crawl", "pe64_all", crawl_header(0x70, -8, 0x140000000) + pe64)
    # 32-bit hits at the end and 64-bit hits at the start: the boundary pair.
    blob = struct.pack("<Q", a64[0]) + bytes(40) + b"".join(struct.pack("<I", v) for v in a32)
    write("fuzz_crawl", "boundary", crawl_header(0x40, 16, 0) + blob)
    rnd = random.Random(5)
    noise = bytearray(rnd.randrange(256) for _ in range(1500))
    for v in b32 + a32:
        at = rnd.randrange(len(noise) - 4)
        noise[at:at + 4] = struct.pack("<I", v)
    write("fuzz_crawl", "noise_dbB", crawl_header(0x30, 100, 0x70000000) + bytes(noise))
    write("fuzz_crawl", "headerless", struct.pack("<I", a32[0]) + b"\xff")
    write("fuzz_crawl", "name_like", b"sample.exe_0x00400000\n" + pe32[:64])
    write("fuzz_crawl", "no_dbs", crawl_header(0x60, 32, 0) + pe32[:256])
    dict_lines = ['"%s"' % "".join("\\x%02x" % b for b in struct.pack("<I", v)) for v in a32 + b32]
    dict_lines += ['"%s"' % "".join("\\x%02x" % b for b in struct.pack("<Q", v)) for v in a64 + c64]
    dict_lines += ['"\\xff\\x15"', '"\\xff\\x25"', '"\\x4c\\x01"', '"\\x64\\x86"', '"\\x0b\\x02"']
    with open(os.path.join(HERE, "crawl.dict"), "w") as f:
        f.write("# Generated by make_seeds.py: export addresses of the DBs in fuzz_crawl.c,\n"
                "# little-endian, and PE/opcode markers.\n" + "\n".join(dict_lines) + "\n")


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    seeds_winapi()
    seeds_apidb_json()
    seeds_apidb_pack()
    seeds_vector()
    seeds_collection()
    seeds_pe()
    seeds_crawl()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print("make_seeds.py: %d bytes of seeds in %s" % (total, CORPUS))
    if total >= 200 * 1024:
        sys.exit("make_seeds.py: seed corpus exceeds 200 KB")


if __name__ == "__main__":
    main()
