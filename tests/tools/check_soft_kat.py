#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Independent check of the software firmware's cryptography and formats.

Uses only Python's standard library: hmac/hashlib for HMAC-SHA256 and the
digests, and, written out here, AES-128 (for CTR mode), P-384 arithmetic
(ECDH and ECDSA verification) and the SEV layouts (sev-facts.md 4.3-4.7).

1. Computes the known answers of sev-facts.md 4.4/4.5 and compares them with
   the values written there.
2. Runs `$SEVMIG_BINARY_DIR/tests/test_soft_kat --print`, which prints the C
   results for the same inputs and a real session of the model: the target's
   PDH private key, both platforms' certificates, the session blob and
   packets with their plaintext. Everything is recomputed here: certificate
   fields and signatures, the ECDH secret from the target's key, the key
   schedule, both session MACs, the unwrapped keys, each packet's MAC and
   plaintext. Any difference fails.
"""
import hashlib
import hmac
import os
import struct
import subprocess
import sys

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


# ---- AES-128 (FIPS 197), encryption only ------------------------------------

def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a = _xtime(a)
        b >>= 1
    return r


def _make_sbox():
    inv = [0] * 256
    for x in range(1, 256):
        for y in range(1, 256):
            if _gmul(x, y) == 1:
                inv[x] = y
                break
    box = []
    for x in range(256):
        b = inv[x]
        s = b
        for i in range(1, 5):
            s ^= ((b << i) | (b >> (8 - i))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _make_sbox()


def aes128_expand(key):
    assert len(key) == 16
    w = [list(key[i:i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(w[i - 1])
        if i % 4 == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon) & 0xFF
        w.append([a ^ b for a, b in zip(w[i - 4], t)])
    return [sum(w[4 * r:4 * r + 4], []) for r in range(11)]


def aes128_encrypt_block(rk, block):
    s = [a ^ b for a, b in zip(block, rk[0])]
    for rnd in range(1, 11):
        s = [SBOX[b] for b in s]
        # ShiftRows: state is column-major, s[r + 4c]
        s = [s[(r + 4 * (c + r)) % 16] for c in range(4) for r in range(4)]
        if rnd != 10:
            t = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                t += [_gmul(a[0], 2) ^ _gmul(a[1], 3) ^ a[2] ^ a[3],
                      a[0] ^ _gmul(a[1], 2) ^ _gmul(a[2], 3) ^ a[3],
                      a[0] ^ a[1] ^ _gmul(a[2], 2) ^ _gmul(a[3], 3),
                      _gmul(a[0], 3) ^ a[1] ^ a[2] ^ _gmul(a[3], 2)]
            s = t
        s = [a ^ b for a, b in zip(s, rk[rnd])]
    return bytes(s)


def aes128_ctr(key, iv, data):
    """CTR with the IV as the whole 128-bit big-endian counter block."""
    rk = aes128_expand(key)
    ctr = int.from_bytes(iv, "big")
    out = bytearray()
    for off in range(0, len(data), 16):
        ks = aes128_encrypt_block(rk, ctr.to_bytes(16, "big"))
        out += bytes(a ^ b for a, b in zip(data[off:off + 16], ks))
        ctr = (ctr + 1) % (1 << 128)
    return bytes(out)


# ---- P-384 (FIPS 186-4 D.1.2.4) ------------------------------------------------

P = 2**384 - 2**128 - 2**96 + 2**32 - 1
A = P - 3
B = 0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973
G = (0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
     0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F)


def on_curve(pt):
    x, y = pt
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def ec_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return (x3, (lam * (x1 - x3) - y1) % P)


def ec_mul(k, pt):
    acc = None
    for bit in bin(k)[2:]:
        acc = ec_add(acc, acc)
        if bit == "1":
            acc = ec_add(acc, pt)
    return acc


def ecdsa_verify(pub, digest, r, s):
    if not (0 < r < N and 0 < s < N):
        return False
    e = int.from_bytes(digest, "big")  # digests here are at most 384 bits
    w = pow(s, -1, N)
    pt = ec_add(ec_mul(e * w % N, G), ec_mul(r * w % N, pub))
    return pt is not None and pt[0] % N == r


# ---- SEV formats and key schedule -------------------------------------------------

CERT_SIZE = 0x824
USAGE = {"OCA": 0x1001, "PEK": 0x1002, "PDH": 0x1003, "CEK": 0x1004, "INVALID": 0x1000}
ECDH_SHA256, ECDSA_SHA256, ECDSA_SHA384 = 0x003, 0x002, 0x102


def hmac256(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def kdf(key, label, ctx, out_len):
    out = b""
    i = 1
    while len(out) < out_len:
        out += hmac256(key, struct.pack("<I", i) + label + b"\0" + ctx +
                       struct.pack("<I", out_len * 8))
        i += 1
    return out[:out_len]


def kek_kik(z, nonce):
    master = kdf(z, b"sev-master-secret", nonce, 16)
    return kdf(master, b"sev-kek", b"", 16), kdf(master, b"sev-kik", b"", 16)


def session_seal(z, tek, tik, nonce, wrap_iv, policy):
    kek, kik = kek_kik(z, nonce)
    wrap_tk = aes128_ctr(kek, wrap_iv, tek + tik)
    return (nonce + wrap_tk + wrap_iv + hmac256(kik, wrap_tk) +
            hmac256(tik, struct.pack("<I", policy)))


def packet_aad(ctx, flags, iv, guest_len, trans_len):
    return bytes([ctx]) + struct.pack("<I", flags) + iv + struct.pack("<II", guest_len, trans_len)


def le(b):
    return int.from_bytes(b, "little")


def cert_parse(cert, name, usage, algo):
    """Check the layout of a model certificate; return (point, sig slots)."""
    check(len(cert) == CERT_SIZE, f"{name}: size {len(cert):#x}")
    ver, major, minor, rsvd, pu, pa = struct.unpack_from("<IBBHII", cert, 0)
    check(ver == 1, f"{name}: version {ver}")
    check((major, minor) == (1, 55), f"{name}: API {major}.{minor}")
    check(rsvd == 0, f"{name}: reserved")
    check(pu == usage, f"{name}: usage {pu:#x}")
    check(pa == algo, f"{name}: algo {pa:#x}")
    curve = struct.unpack_from("<I", cert, 0x10)[0]
    check(curve == 2, f"{name}: curve {curve}")
    qx, qy = cert[0x14:0x14 + 72], cert[0x5C:0x5C + 72]
    check(qx[48:] == bytes(24) and qy[48:] == bytes(24), f"{name}: coordinate padding")
    check(cert[0xA4:0x414] == bytes(0x414 - 0xA4), f"{name}: key area padding")
    pt = (le(qx), le(qy))
    check(on_curve(pt), f"{name}: point not on P-384")
    sigs = []
    for off in (0x414, 0x61C):
        su, sa = struct.unpack_from("<II", cert, off)
        sig = cert[off + 8:off + 8 + 0x200]
        sigs.append((su, sa, le(sig[0:72]), le(sig[72:144]), sig))
    return pt, sigs


def cert_signed_by(cert, name, sigs, signer_usage, signer_pt):
    for su, sa, r, s, raw in sigs:
        if su != signer_usage:
            continue
        # AMD's firmware makes PEK, OCA and CEK as ECDSA_SHA256: P-384 keys,
        # a SHA-256 digest of the body taken whole as the integer e
        check(sa == ECDSA_SHA256, f"{name}: signature algo {sa:#x}")
        check(raw[144:] == bytes(0x200 - 144), f"{name}: signature padding")
        digest = hashlib.sha256(cert[:0x414]).digest()
        check(ecdsa_verify(signer_pt, digest, r, s), f"{name}: signature by {signer_usage:#x}")
        return
    check(False, f"{name}: no signature with usage {signer_usage:#x}")


def chain_check(pdh, chain, who):
    pek, oca, cek = chain[:CERT_SIZE], chain[CERT_SIZE:2 * CERT_SIZE], chain[2 * CERT_SIZE:]
    check(len(cek) == CERT_SIZE, f"{who}: chain size {len(chain):#x}")
    pdh_pt, pdh_sigs = cert_parse(pdh, f"{who} PDH", USAGE["PDH"], ECDH_SHA256)
    pek_pt, pek_sigs = cert_parse(pek, f"{who} PEK", USAGE["PEK"], ECDSA_SHA256)
    oca_pt, oca_sigs = cert_parse(oca, f"{who} OCA", USAGE["OCA"], ECDSA_SHA256)
    cek_pt, cek_sigs = cert_parse(cek, f"{who} CEK", USAGE["CEK"], ECDSA_SHA256)
    check(pdh_sigs[1][:2] == (USAGE["INVALID"], 0), f"{who} PDH: unused slot")
    cert_signed_by(pdh, f"{who} PDH", pdh_sigs, USAGE["PEK"], pek_pt)
    cert_signed_by(pek, f"{who} PEK", pek_sigs, USAGE["OCA"], oca_pt)
    cert_signed_by(pek, f"{who} PEK", pek_sigs, USAGE["CEK"], cek_pt)
    cert_signed_by(oca, f"{who} OCA", oca_sigs, USAGE["OCA"], oca_pt)
    cert_signed_by(cek, f"{who} CEK", cek_sigs, USAGE["CEK"], cek_pt)
    return pdh_pt


# ---- 1. known answers (sev-facts.md 4.4, 4.5) ------------------------------------

def known_answers():
    z16 = bytes(16)
    master = kdf(z16, b"sev-master-secret", z16, 16)
    kek, kik = kek_kik(z16, z16)
    session = session_seal(z16, z16, z16, z16, z16, 0)
    tek, tik, iv = bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48))
    trans = aes128_ctr(tek, iv, bytes(4096))
    mac = hmac256(tik, packet_aad(0x02, 0, iv, 4096, 4096) + trans)
    hdr = struct.pack("<I", 0) + iv + mac
    facts = {
        "master": "ab4d269fcc62bedb4511d56c386ce706",
        "kek": "b6abfbfb75ea1ea74ed8750b8afdb973",
        "kik": "53b524bf5669a363f365c864acba8572",
        "wrap_tk": "2137bc7f9bb8bd7c3e55a576a15d3454b3856b8ba27afadf46dcfee9f02c02c4",
        "wrap_mac": "3176c0752738bd9d5e86689534020f528c088f16238826b000b327dee6aeed7d",
        "policy_mac": "aa7855e13839dd767cd5da7c1ff5036540c9264b7a803029315e55375287b4af",
        "trans32": "5be87e2e5b447c944b21c9af7756c0d84ba41c22228e38a802633ef8709fc8f7",
        "pkt_mac": "3888ca695c0ec7f970bf9a53fbbc323f36a0804381fe7b9bab81d41feecd7c81",
    }
    mine = {"master": master, "kek": kek, "kik": kik, "wrap_tk": session[0x10:0x30],
            "wrap_mac": session[0x40:0x60], "policy_mac": session[0x60:0x80],
            "trans32": trans[:32], "pkt_mac": mac}
    for k, v in facts.items():
        check(mine[k].hex() == v, f"known answer {k}: {mine[k].hex()} != {v}")
    # FIPS 197 C.1 guards the AES code itself.
    rk = aes128_expand(bytes(range(16)))
    check(aes128_encrypt_block(rk, bytes.fromhex("00112233445566778899aabbccddeeff")).hex()
          == "69c4e0d86a7b0430d8cdb78070b4c55a", "AES-128 FIPS 197 C.1")
    check(ec_mul(N, G) is None and on_curve(G), "P-384 generator")
    return {"kat_master": master, "kat_kek": kek, "kat_kik": kik, "kat_session": session,
            "kat_trans": trans, "kat_hdr": hdr}


# ---- 2. the C implementation's output ---------------------------------------------

def run_c():
    bindir = os.environ.get("SEVMIG_BINARY_DIR")
    if not bindir:
        print("SEVMIG_BINARY_DIR is not set (ctest sets it)")
        sys.exit(1)
    exe = os.path.join(bindir, "tests", "test_soft_kat")
    out = subprocess.run([exe, "--print"], check=True, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in out.stdout.splitlines():
        name, value = line.split(" ", 1)
        lines.append((name, value))
    return lines


def check_c(lines, mine):
    fields = {}
    packets = []
    for name, value in lines:
        if name in ("data_plain", "vmsa_plain"):
            packets.append({"vmsa": name == "vmsa_plain", "plain": bytes.fromhex(value)})
        elif name in ("hdr", "trans"):
            packets[-1][name] = bytes.fromhex(value)
        elif name == "policy":
            fields[name] = int(value, 16)
        else:
            fields[name] = bytes.fromhex(value)
    for k, v in mine.items():
        check(fields.get(k) == v, f"C and Python differ on {k}")

    policy = fields["policy"]
    tgt_pt = chain_check(fields["tgt_pdh"], fields["tgt_chain"], "target")
    src_pt = chain_check(fields["src_pdh"], fields["src_chain"], "source")
    d = int.from_bytes(fields["tgt_priv"], "big")
    check(ec_mul(d, G) == tgt_pt, "target PDH certificate holds d*G of the target's key")

    # The target's side of RECEIVE_START, by hand.
    z = ec_mul(d, src_pt)[0].to_bytes(48, "big")
    s = fields["session"]
    nonce, wrap_tk, wrap_iv, wrap_mac, policy_mac = s[0:16], s[16:48], s[48:64], s[64:96], s[96:128]
    kek, kik = kek_kik(z, nonce)
    check(hmac256(kik, wrap_tk) == wrap_mac, "session WRAP_MAC")
    tk = aes128_ctr(kek, wrap_iv, wrap_tk)
    tek, tik = tk[:16], tk[16:]
    check(hmac256(tik, struct.pack("<I", policy)) == policy_mac, "session POLICY_MAC")
    check(hmac256(tik, struct.pack("<I", policy ^ 1)) != policy_mac, "POLICY_MAC binds the policy")
    check(len(packets) == 6 and packets[-1]["vmsa"], "packets printed")
    for i, pk in enumerate(packets):
        hdr, trans, plain = pk["hdr"], pk["trans"], pk["plain"]
        check(len(hdr) == 0x34 and len(trans) == len(plain), f"packet {i}: lengths")
        flags = struct.unpack_from("<I", hdr, 0)[0]
        iv, mac = hdr[4:20], hdr[20:52]
        check(flags == 0, f"packet {i}: flags {flags:#x}")
        aad = packet_aad(0x02, flags, iv, len(trans), len(trans))
        check(hmac256(tik, aad + trans) == mac, f"packet {i}: MAC")
        check(aes128_ctr(tek, iv, trans) == plain, f"packet {i}: plaintext")
    ivs = {pk["hdr"][4:20] for pk in packets}
    check(len(ivs) == len(packets), "a fresh IV per packet")


def main():
    mine = known_answers()
    check_c(run_c(), mine)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("software firmware: known answers and a C session recomputed independently: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
