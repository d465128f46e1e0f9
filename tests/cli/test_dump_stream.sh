#!/usr/bin/env bash
# sevmig-dump stream and verify: the listing (text and JSON) agrees with the
# stream's own counters; verify answers 0 for a sound stream, 1 for a damaged,
# truncated or wrong-key one (naming the record and byte offset), 2 for what
# is not a stream problem (no file, unusable key).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# A guest with every path: random private, text and zero shared pages.
head -c 1M /dev/urandom >guest.mem
head -c 1M < <(yes 'text that compresses well') >>guest.mem
head -c 1M /dev/zero >>guest.mem
head -c 1M /dev/urandom >>guest.mem
printf '0x0-0xff private\n0x100-0x2ff shared\n0x100000-0x1000ff private\n' >guest.txt
t "$recv" "${psk[@]}" --gen-pdh --pdh-key target.key --pdh-cert target.cert
t "$recv" "${psk[@]}" --gen-pdh --pdh-key other.key --pdh-cert other.cert
t "$send" "${psk[@]}" -m 0:3M:guest.mem -m 4G:1M:guest.mem:3M -p guest.txt -t target.cert -o s.bin \
  --json >send.json

# stream: text.
[ "$(status t "$dump" stream "${psk[@]}" s.bin)" = 0 ] || fail "stream: $(cat err)"
grep -q '^stream s.bin$' out || fail "stream: no title"
grep -q 'memory layout: 2 memslots' out || fail "stream: no layout"
grep -q 'gpa 0x100000000-0x1000fffff, gfns 0x100000-0x1000ff, 256 pages' out ||
  fail "stream: memslot 1 missing: $(cat out)"
grep -Eq '^ +0 +0x[0-9a-f]+  SESSION ' out || fail "stream: record 0 is not SESSION"
grep -Eq '  END +64 .* tag [0-9a-f]{16}... \(verified\)' out || fail "stream: no END"
grep -Eq '  ZERO .*0x200-0x2ff +256 ' out || fail "stream: ZERO run missing: $(cat out)"
grep -Eq '  PLAIN .*0x100-0x1ff +256  zstd' out || fail "stream: PLAIN zstd missing"

# stream: JSON Lines, from standard input, checked against the sender's
# summary: a header line, a line per record, a result line.
t "$dump" stream "${psk[@]}" --json - <s.bin >s.json
python3 - s.json send.json <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
s = json.load(open(sys.argv[2]))
h, recs, d = lines[0], lines[1:-1], lines[-1]
assert h["schema"] == "sevmig.stream-header/1" and d["schema"] == "sevmig.stream-result/1"
assert all(r["schema"] == "sevmig.stream-record/1" for r in recs)
assert d["complete"] and d["error"] is None, d["error"]
assert h["uuid"] == s["uuid"] and h["soft"] and h["file"] == "-"
assert [m["gpa"] for m in h["memslots"]] == [0, 1 << 32]
assert [r["index"] for r in recs] == list(range(len(recs)))
assert all(a["offset"] + 40 + a["payload_bytes"] == b["offset"] for a, b in zip(recs, recs[1:]))
assert recs[0]["type"] == "SESSION" and recs[-1]["type"] == "END"
pages = {t: sum(r["pages"] for r in recs if r["type"] == t) for t in ("ENC", "PLAIN", "ZERO")}
assert pages == {"ENC": 512, "PLAIN": 256, "ZERO": 256}, pages
c = d["counts"]
assert (c["encrypted_pages"], c["plain_pages"], c["zero_pages"]) == (512, 256, 256), c
assert c == s["counts"], (c, s["counts"])
assert c["stream_bytes"] == recs[-1]["offset"] + 40 + 64
assert c["records"] == len(recs) - 1
PY

# verify: sound, with and without the key; JSON; quiet.
[ "$(status t "$dump" verify "${psk[@]}" s.bin)" = 0 ] || fail "verify: $(cat out err)"
grep -q '^s.bin: sound (framing, checksums, tags, completeness, order, counters)' out || fail "verify: $(cat out)"
[ "$(status t "$dump" verify "${psk[@]}" --pdh-key target.key s.bin)" = 0 ] || fail "verify key: $(cat out err)"
grep -q 'session and packet MACs' out || fail "verify key: $(cat out)"
[ "$(status t "$dump" verify "${psk[@]}" --json --pdh-key target.key - <s.bin)" = 0 ] || fail "verify json"
python3 - out send.json <<'PY' || fail "verify json: $(cat out)"
import json, sys
d, s = (json.load(open(f)) for f in sys.argv[1:3])
assert d["sound"] and d["verdict"] == "sound" and d["error"] is None, d
assert d["checks"][-2:] == ["session", "packet MACs"] and "tags" in d["checks"], d
assert d["counts"]["encrypted_pages"] == s["counts"]["encrypted_pages"] == 512, d
PY
[ "$(status t "$dump" verify "${psk[@]}" -q s.bin)" = 0 ] && [ ! -s out ] || fail "verify -q printed"

# A damaged stream: every byte of a record matters.
size=$(stat -c %s s.bin)
cp s.bin bad.bin
printf '\xff\xff\xff\xff' | dd of=bad.bin bs=1 seek=$((size / 2)) conv=notrunc status=none
[ "$(status t "$dump" verify "${psk[@]}" bad.bin)" = 1 ] || fail "verify damaged: $(cat out err)"
grep -Eq '^bad.bin: damaged: record [0-9]+ \([A-Z]+\) at byte [0-9]+: .*CRC' out ||
  fail "verify damaged: $(cat out)"
[ "$(status t "$dump" stream "${psk[@]}" bad.bin)" = 1 ] || fail "stream damaged"
grep -Eq 'record [0-9]+ .*at byte [0-9]+' err || fail "stream damaged: $(cat err)"
grep -q 'SESSION' out || fail "stream damaged: nothing listed before the fault"
[ "$(status t "$dump" verify "${psk[@]}" --json bad.bin)" = 1 ] || fail "verify damaged json"
python3 -c 'import json; d=json.load(open("out")); assert not d["sound"] and d["verdict"] == "damaged" and d["error"]["offset"] > 0' ||
  fail "verify damaged json: $(cat out)"
[ "$(status t "$dump" stream "${psk[@]}" --json bad.bin)" = 1 ] || fail "stream damaged json"
python3 -c 'import json; d=json.loads(open("out").readlines()[-1]); assert not d["complete"] and d["error"]["index"] > 0' ||
  fail "stream damaged json: $(cat out)"

# Truncated, at a record boundary and inside one.
head -c $((size - 40 - 64)) s.bin >cut.bin
[ "$(status t "$dump" verify "${psk[@]}" cut.bin)" = 1 ] || fail "verify cut"
grep -q 'truncated stream.*before record .*no END' out || fail "verify cut: $(cat out)"
head -c $((size / 3)) s.bin >cut2.bin
[ "$(status t "$dump" verify "${psk[@]}" cut2.bin)" = 1 ] || fail "verify cut2"
grep -q 'truncated stream.*inside record' out || fail "verify cut2: $(cat out)"

# Bytes after END.
{ cat s.bin; printf 'x'; } >trail.bin
[ "$(status t "$dump" verify "${psk[@]}" trail.bin)" = 1 ] || fail "verify trailing: $(cat out err)"

# The wrong key: the session does not open (1); an unusable key (2).
[ "$(status t "$dump" verify "${psk[@]}" --pdh-key other.key s.bin)" = 1 ] || fail "verify wrong key"
grep -q 'record 0 (SESSION) at byte [0-9]*: RECEIVE_START refused the session' out ||
  fail "verify wrong key: $(cat out)"
[ "$(status t "$dump" verify "${psk[@]}" --pdh-key guest.txt s.bin)" = 2 ] || fail "verify bad key"
[ "$(status t "$dump" verify "${psk[@]}" --pdh-key missing.key s.bin)" = 2 ] || fail "verify missing key"
grep -q 'missing.key' err || fail "verify missing key: $(cat err)"

# Not a stream problem: exit 2.
[ "$(status t "$dump" verify "${psk[@]}" missing.bin)" = 2 ] || fail "verify missing file"
[ "$(status t "$dump" stream "${psk[@]}" missing.bin)" = 2 ] || fail "stream missing file"
[ "$(status t "$dump" stream "${psk[@]}" a.bin b.bin)" = 2 ] || fail "stream two files"
[ "$(status t "$dump" verify "${psk[@]}" --bogus s.bin)" = 2 ] || fail "verify bad option"
grep -q 'unknown option' err || fail "verify bad option: $(cat err)"
# Not a stream at all is damage of the stream (1).
[ "$(status t "$dump" verify "${psk[@]}" guest.txt)" = 1 ] || fail "verify text file"
grep -q 'not a migration stream' out || fail "verify text: $(cat out)"

for c in stream verify; do
  "$dump" "$c" --help | grep -q '^Exit status' || fail "$c --help"
done

# The manual page documents every option of every command.
page=${SEVMIG_SOURCE_DIR:-$(dirname "$0")/../..}/docs/man/sevmig-dump.1
for c in show diff merge convert host stream verify; do
  "$dump" "$c" --help >help 2>/dev/null || continue
  grep -q "^\.B sevmig-dump $c" "$page" || fail "sevmig-dump.1 does not show '$c'"
  for opt in $(sed -nE 's/^ {2,}(-[A-Za-z], )?(--[a-z][a-z-]*).*/\2/p' help); do
    grep -qF -- "${opt//-/\\-}" "$page" || fail "sevmig-dump.1 does not document $c $opt"
  done
done
echo "ok"
