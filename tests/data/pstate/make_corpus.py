#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the page-state test files and fuzz seeds (see README.md).

usage: make_corpus.py SEVMIG_DUMP

Good files are written by the tool from text; malformed ones are derived
here byte by byte (truncations, bit flips with and without a repaired
checksum, absurd counts and lengths), so that the corpus does not depend on
the library's own writer for its damage. Output is deterministic.
"""
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
GOOD = os.path.join(HERE, "good")
BAD = os.path.join(HERE, "bad")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAGIC = b"\x89SVPS\r\n\x1a"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fix_crc(data):
    return data[:-4] + struct.pack("<I", crc32c(data[:-4]))


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def file_of(flags, body):
    """A binary page-state file: header, body, right checksum."""
    data = MAGIC + struct.pack("<HHI", 1, flags, 4096) + body + b"\0\0\0\0"
    return fix_crc(data)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tool(dump, *args, stdin=None):
    return subprocess.run([dump, *args], input=stdin, capture_output=True, check=True).stdout


def bitmap_zstd_pattern():
    x = 12345
    bits = []
    for i in range(8192):
        x = (x * 1103515245 + 12345) % (1 << 31)
        bits.append(i % 2 == 0 if i < 4096 else (x >> 16) & 1)
    return bits


def text_of(ranges):
    return "".join("0x%x-0x%x %s\n" % r for r in ranges).encode()


def main():
    dump = sys.argv[1]
    for d in (GOOD, BAD):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    # ---- good files: text, and the binary form the tool writes from it
    texts = {
        "example": text_of([(0x100, 0x100, "shared"), (0x101, 0x17f, "private"),
                            (0x180, 0x18f, "shared"), (0x190, 0x4ef, "private"),
                            (0x4f0, 0x4ff, "shared"), (0x1000, 0x1007, "shared"),
                            (0x1008, 0x11ff, "private")]),
        "empty": b"",
        "one_page": text_of([(0x0, 0x0, "shared")]),
        "top_of_range": text_of([(0xfffffff000, 0xfffffffffe, "private"),
                                 (0xffffffffff, 0xffffffffff, "shared")]),
        # 3 slots, one ending shared right before a gap, near-dense pages
        "bitmap_unaligned": text_of(
            [(0x10 + i, 0x10 + i, "shared" if i % 3 == 0 else "private") for i in range(61)]
            + [(0x80, 0x84, "private"), (0x85, 0x86, "shared"), (0x87, 0x8c, "private")]
            + [(0x200, 0x200, "private"), (0x201, 0x201, "shared")]),
    }
    big_texts = {
        # every other page, then noise: a bitmap that compresses by half
        "bitmap_zstd": text_of([(i, i, "shared" if bit else "private")
                                for i, bit in enumerate(bitmap_zstd_pattern())]),
        # 400 regular runs: the runs compress
        "runs_zstd": text_of([r for i in range(400) for r in
                              ((i * 1000, i * 1000 + 1, "shared"),
                               (i * 1000 + 2, i * 1000 + 999, "private"))]),
    }
    bins = {}
    for name, text in list(texts.items()) + list(big_texts.items()):
        level = "0" if name == "example" else "3"
        bins[name] = tool(dump, "convert", "-", "--to", "native", "--zstd", level, "-o", "-",
                          stdin=text)
        write(os.path.join(GOOD, name + ".bin"), bins[name])
        if name in texts:
            write(os.path.join(GOOD, name + ".txt"), text)
    flags = {n: struct.unpack_from("<H", b, 10)[0] for n, b in bins.items()}
    assert flags["bitmap_unaligned"] == 1 and flags["bitmap_zstd"] == 5
    assert flags["runs_zstd"] == 4 and flags["example"] == 0
    # Hand-written text that is not canonical but valid, with its canonical twin.
    lenient = (b"# a hand-written map\r\n\t0x0010-0x001f   shared  # buffer\r\n\n"
               b"0x30-0x3f private\n0x20-0x2f\tprivate\n")
    write(os.path.join(GOOD, "lenient.txt"), lenient)
    write(os.path.join(GOOD, "lenient.canonical.txt"),
          text_of([(0x10, 0x1f, "shared"), (0x20, 0x3f, "private")]))

    # ---- malformed binary files
    ex = bins["example"]
    bad = {}
    for n in (4, 8, 15, 16, 20, 21, 26, 30, 33, 36):  # 0 bytes: the empty text
        bad["truncated_%02d.bin" % n] = ex[:n]
    bad["trailing_byte.bin"] = ex + b"\0"
    bad["trailing_byte_crc_fixed.bin"] = fix_crc(ex + b"\0")
    # Flips: the checksum catches all; with it repaired, these (version,
    # flags, page size, a run) still break the structure. (Others give
    # another valid map: bit 150 moves slot 0, bit 270 is in the checksum.)
    for bit in (3, 70, 83, 100, 150, 215, 270):
        b = bytearray(ex)
        b[bit // 8] ^= 1 << (bit % 8)
        bad["flip_%03d.bin" % bit] = bytes(b)
        if bit in (70, 83, 100, 215):
            bad["flip_%03d_crc_fixed.bin" % bit] = fix_crc(bytes(b))
    hdr_cases = {
        "version_2.bin": (8, struct.pack("<H", 2)),
        "encoding_2.bin": (10, struct.pack("<H", 2)),
        "reserved_flag.bin": (10, struct.pack("<H", 0x10)),
        "page_size_8192.bin": (12, struct.pack("<I", 8192)),
    }
    for name, (off, val) in hdr_cases.items():
        b = bytearray(ex)
        b[off:off + len(val)] = val
        bad[name] = fix_crc(bytes(b))
    bad["slot_count_absurd.bin"] = file_of(0, varint(1 << 60) + b"\0\0")
    bad["slot_count_overlong.bin"] = file_of(0, b"\x81\x00\0\0")
    bad["varint_65_bits.bin"] = file_of(0, b"\xff" * 9 + b"\x02" + b"\0" * 8)
    bad["slot_no_pages.bin"] = file_of(0, b"\x01\x00\x00\x00")
    bad["slot_beyond_2_40.bin"] = file_of(0, b"\x01" + varint(1 << 40) + b"\x01\x00")
    bad["slot_ends_beyond_2_40.bin"] = file_of(0, b"\x01" + varint((1 << 40) - 1) + b"\x02\x00")
    bad["run_count_absurd.bin"] = file_of(0, b"\x01\x00\x08" + varint(1 << 62) + b"\x01")
    bad["run_gap_zero.bin"] = file_of(0, b"\x01\x00\x08\x02\x01\x01")
    bad["run_past_coverage.bin"] = file_of(0, b"\x01\x00\x08\x01\x00\x07")
    bad["run_len_huge.bin"] = file_of(0, b"\x01\x00\x08\x01\x00" + varint((1 << 64) - 1))
    bad["bitmap_short.bin"] = file_of(1, b"\x01\x00\x09\xff")
    bad["bitmap_padding.bin"] = file_of(1, b"\x01\x00\x04\x3f")
    bad["zstd_raw_size_absurd.bin"] = file_of(4, b"\x01\x00\x08" + varint(1 << 63) + b"\0" * 8)
    bad["zstd_no_frame.bin"] = file_of(4, b"\x01\x00\x08\x01" + b"\0" * 8)
    bad["zstd_skippable.bin"] = file_of(4, b"\x01\x00\x08\x01" + struct.pack("<II", 0x184D2A50, 0))
    bz = bins["bitmap_zstd"]
    bad["zstd_frame_truncated.bin"] = fix_crc(bz[:len(bz) // 2] + b"\0\0\0\0")
    b = bytearray(bz)
    b[bz.index(b"\x28\xb5\x2f\xfd") + 4] |= 0x08  # a reserved bit of the frame header
    bad["zstd_frame_corrupt.bin"] = fix_crc(bytes(b))
    rz = bins["runs_zstd"]
    frame = rz.index(b"\x28\xb5\x2f\xfd")
    bad["zstd_two_frames.bin"] = fix_crc(rz[:-4] + rz[frame:-4] + b"\0\0\0\0")
    # ---- malformed text
    bad.update({
        "bad_hex.txt": b"0x10-0x1f shared\n0x2g-0x30 shared\n",
        "uppercase.txt": b"# ok\n0x10-0x1F shared\n",
        "backwards.txt": b"0x1f-0x10 shared\n",
        "overlap.txt": b"0x10-0x1f shared\n0x0-0x3 private\n0x0-0x1f private\n",
        "unknown_state.txt": b"0x0-0x1 secret\n",
        "missing_state.txt": b"0x0-0x1\n",
        "trailing_text.txt": b"0x0-0x1 shared private\n",
        "beyond_2_40.txt": b"0x0-0x10000000000 shared\n",
        "line_too_long.txt": b"0x0-0x1 shared #" + b"x" * 5000 + b"\n",
        "nul_byte.txt": b"0x0-0x1 shared\n0x2-0x3 shared\0\n",
        "missing_0x.txt": b"0x0-0x1 shared\n2-3 shared\n",
    })
    # ---- neither form
    bad["not_pstate_elf.bin"] = b"\x7fELF\x02\x01\x01" + bytes(range(64))
    bad["not_pstate_json.txt"] = b'{"covered_pages": 4}\n'
    bad["not_pstate_words.txt"] = b"# a comment, then prose\nshared pages: 4\n"
    for name, data in bad.items():
        write(os.path.join(BAD, name), data)

    # ---- fuzz seeds
    def seeds(target, files):
        d = os.path.join(CORPUS, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in files:
            write(os.path.join(d, name), data)

    seeds("fuzz_pstate_deserialize",
          [("good_" + n + ".bin", b) for n, b in bins.items()]
          + [(n, b) for n, b in bad.items() if n.endswith(".bin")])
    seeds("fuzz_pstate_text",
          [("good_" + n + ".txt", t) for n, t in texts.items()]
          + [("good_lenient.txt", lenient), ("good_example.bin", ex)]
          + [(n, b) for n, b in bad.items() if n.endswith(".txt")])

    def ra(mode, base, npages, payload):
        return bytes([mode]) + base.to_bytes(5, "little") + (npages - 1).to_bytes(3, "little") + payload

    def ents(*rs):
        return b"".join(struct.pack("<QQ", s, e) for s, e in rs)

    seeds("fuzz_pstate_region_array", [
        ("list_empty", ra(0, 0x1000, 0x100, b"")),
        ("list_valid", ra(0, 0x1000, 0x100, ents((0x1000, 0x1001), (0x1010, 0x1020)))),
        ("list_touching", ra(2, 0x1000, 0x100, ents((0x1000, 0x1008), (0x1008, 0x1010)))),
        ("list_second_slot", ra(4, 0x1000, 0x100, ents((0xfc0, 0x1004)))),
        ("list_unsorted", ra(0, 0x1000, 0x100, ents((0x1010, 0x1020), (0x1000, 0x1001)))),
        ("list_overlap", ra(2, 0x1000, 0x100, ents((0x1000, 0x1010), (0x100f, 0x1020)))),
        ("list_outside", ra(0, 0x1000, 0x100, ents((0x10f0, 0x1101)))),
        ("list_empty_entry", ra(0, 0x1000, 0x100, ents((0x1005, 0x1005)))),
        ("list_backwards", ra(0, 0x1000, 0x100, ents((0x1005, 0x1001)))),
        ("list_partial_entry", ra(0, 0x1000, 0x100, ents((0x1000, 0x1001)) + b"\x01\x02\x03")),
        ("list_top", ra(0, (1 << 40) - 16, 16, ents(((1 << 40) - 1, 1 << 40)))),
        ("list_wrap", ra(0, 0, 16, ents((0xfffffffffffffff0, 0x10)))),
        ("bitmap_exact", ra(1, 0x2000, 20, b"\xff\x0f\x05")),
        ("bitmap_short", ra(1, 0x2000, 20, b"\xff\x0f")),
        ("bitmap_longer", ra(3, 0x2000, 20, b"\x00\x00\xf0\xaa\xbb\xcc\xdd\xee")),
        ("bitmap_one_page", ra(5, 0x40, 1, b"\x00")),
        ("bitmap_pattern", ra(1, 0x10000, 1024, bytes(range(128)))),
        # found by libFuzzer: an all-private bitmap into a fresh map
        ("ubsan_ents_null_memmove", bytes.fromhex("01feffffff00040000ff")),
    ])


if __name__ == "__main__":
    main()
