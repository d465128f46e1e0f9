#!/bin/bash
# SPDX-License-Identifier: MIT
# sevmig-dump show, diff, merge and convert on page-state files written here
# and in tests/data/pstate: exact outputs and exit statuses, every malformed
# file refused with one line naming the file and the position, and a failed
# write leaving the previous output in place.
set -u

DATA=${SEVMIG_TEST_DATA:?}/pstate
. "$(dirname "$0")/dump_lib.sh"

# expect_one_error FILE: status 2 and exactly one stderr line naming FILE
# and a position (byte offset or text line).
expect_one_error() {
	expect_rc 2
	local lines
	lines=$(wc -l <err)
	[ "$lines" = 1 ] || fail "stderr has $lines lines: $(cat err)"
	grep -Eq "^sevmig-dump: $1(: byte [0-9]+|:[0-9]+): " err ||
		fail "stderr does not name $1 and a position: $(cat err)"
}

cp "$DATA"/good/example.txt "$DATA"/good/example.bin .

# ---- show ----------------------------------------------------------------
CASE="show text and binary"
for f in example.txt example.bin; do
	ok show "$f" <<'EOF'
memslots:           2
covered pages:      1536
shared pages:       41
private pages:      1495
shared runs:        4
private runs:       3
largest shared run: 16
EOF
done

CASE="show --json"
ok show example.bin --json <<'EOF'
{"schema":"sevmig.pstate/1","file":"example.bin","page_state":{"memslots":2,"covered_pages":1536,"shared_pages":41,"private_pages":1495,"shared_runs":4,"private_runs":3,"largest_shared_run":16}}
EOF

CASE="show --ranges"
run show --ranges example.bin
expect_rc 0
cmp -s out example.txt || fail "--ranges is not the canonical text"

CASE="show from standard input"
"$DUMP" show - --ranges <example.bin >out 2>err
rc=$?
expect_rc 0
cmp -s out example.txt || fail "stdin: $(cat out)"

CASE="show --ranges makes text canonical"
run show "$DATA"/good/lenient.txt --ranges
expect_rc 0
cmp -s out "$DATA"/good/lenient.canonical.txt || fail "$(cat out)"

CASE="show the empty map"
: >empty.txt
ok show empty.txt --json <<'EOF'
{"schema":"sevmig.pstate/1","file":"empty.txt","page_state":{"memslots":0,"covered_pages":0,"shared_pages":0,"private_pages":0,"shared_runs":0,"private_runs":0,"largest_shared_run":0}}
EOF

# ---- convert between the two page-state forms ---------------------------------
CASE="convert text to native: the documented example, byte for byte"
run convert example.txt --to native --zstd 0 -o ex.bin
expect_rc 0
expect_no_err
cmp -s ex.bin "$DATA"/good/example.bin || fail "differs from good/example.bin"
[ "$(od -An -tx1 -v ex.bin | tr -d ' \n')" = \
	"89535650530d0a1a01000000001000000280028008801680040301fe010ec00d16a24955cc" ] ||
	fail "not the bytes of docs/pstate-format.md 1.9: $(od -An -tx1 ex.bin)"
run convert ex.bin --to text -o -
expect_rc 0
cmp -s out example.txt || fail "native to text: $(cat out)"

CASE="convert -o - equals -o FILE"
run convert example.txt --to native -o -
cp out ex_stdout.bin
run convert example.txt --to native -o ex_file.bin
cmp -s ex_stdout.bin ex_file.bin || fail "stdout and file differ"

for f in "$DATA"/good/*.bin; do
	CASE="round trip $(basename "$f")"
	run convert "$f" --to text -o t.txt
	expect_rc 0
	run convert t.txt --to native -o t.bin
	expect_rc 0
	run diff "$f" t.bin
	expect_rc 0
	[ ! -s out ] || fail "diff printed: $(cat out)"
done

# ---- diff -------------------------------------------------------------------------
cat >b.txt <<'EOF'
0x100-0x4ff private
0x1000-0x10ff shared
0x2000-0x2000 shared
EOF
CASE="diff"
run diff example.bin b.txt
expect_rc 1
expect_no_err
expect_out <<'EOF'
0x100-0x100 shared -> private
0x180-0x18f shared -> private
0x4f0-0x4ff shared -> private
0x1008-0x10ff private -> shared
0x1100-0x11ff private -> absent
0x2000-0x2000 absent -> shared
EOF
CASE="diff --json"
run diff example.bin b.txt --json
expect_rc 1
expect_no_err
expect_out <<'EOF'
{"schema":"sevmig.pstate-change/1","first_gfn":256,"last_gfn":256,"pages":1,"a_state":"shared","b_state":"private"}
{"schema":"sevmig.pstate-change/1","first_gfn":384,"last_gfn":399,"pages":16,"a_state":"shared","b_state":"private"}
{"schema":"sevmig.pstate-change/1","first_gfn":1264,"last_gfn":1279,"pages":16,"a_state":"shared","b_state":"private"}
{"schema":"sevmig.pstate-change/1","first_gfn":4104,"last_gfn":4351,"pages":248,"a_state":"private","b_state":"shared"}
{"schema":"sevmig.pstate-change/1","first_gfn":4352,"last_gfn":4607,"pages":256,"a_state":"private","b_state":"absent"}
{"schema":"sevmig.pstate-change/1","first_gfn":8192,"last_gfn":8192,"pages":1,"a_state":"absent","b_state":"shared"}
{"schema":"sevmig.pstate-diff/1","a_file":"example.bin","b_file":"b.txt","equal":false,"ranges":6,"pages":538}
EOF
CASE="diff --json of equal maps"
run diff example.txt example.bin --json
expect_rc 0
expect_out <<'EOF'
{"schema":"sevmig.pstate-diff/1","a_file":"example.txt","b_file":"example.bin","equal":true,"ranges":0,"pages":0}
EOF
CASE="diff --quiet"
run diff -q example.bin b.txt
expect_rc 1
expect_out </dev/null
CASE="diff of equal maps"
run diff example.txt example.bin
expect_rc 0
expect_out </dev/null

# ---- merge -----------------------------------------------------------------------
CASE="merge --union (default)"
ok merge example.bin b.txt --to text -o - <<'EOF'
0x100-0x100 shared
0x101-0x17f private
0x180-0x18f shared
0x190-0x4ef private
0x4f0-0x4ff shared
0x1000-0x10ff shared
0x1100-0x11ff private
0x2000-0x2000 shared
EOF
CASE="merge --intersect"
ok merge --intersect example.bin b.txt --to text -o - <<'EOF'
0x100-0x4ff private
0x1000-0x1007 shared
0x1008-0x11ff private
0x2000-0x2000 private
EOF
CASE="merge --overlay"
run merge example.bin b.txt --overlay -o merged.bin
expect_rc 0
expect_no_err
ok show merged.bin --ranges <<'EOF'
0x100-0x4ff private
0x1000-0x10ff shared
0x1100-0x11ff private
0x2000-0x2000 shared
EOF

# ---- the kernel's raw forms -----------------------------------------------------------
cat >small.txt <<'EOF'
0x10-0x11 shared
0x12-0x1c private
0x1d-0x1d shared
# a gap: read as private in a bitmap
0x20-0x23 private
EOF
CASE="convert to a raw bitmap of the coverage span"
run convert small.txt --to bitmap -o small.bm
expect_rc 0
expect_out </dev/null
grep -qx 'sevmig-dump: small.bm: bitmap of gfns 0x10-0x23 (--base-gfn 0x10 --pages 20)' err ||
	fail "stderr: $(cat err)"
[ "$(od -An -tx1 small.bm | tr -d ' \n')" = "fcdf0f" ] || fail "bitmap: $(od -An -tx1 small.bm)"
CASE="convert to a raw bitmap of a given window"
run convert small.txt --to bitmap --base-gfn 0x8 --pages 12 -o small2.bm
expect_rc 0
expect_no_err
[ "$(od -An -tx1 small2.bm | tr -d ' \n')" = "ff0c" ] || fail "bitmap: $(od -An -tx1 small2.bm)"
CASE="a raw bitmap too big to write"
printf '0x0-0x0 shared\n0xffffffffff-0xffffffffff private\n' >far.txt
run convert far.txt --to bitmap -o far.bm
expect_rc 2
[ "$(wc -l <err)" = 1 ] || fail "$(cat err)"
grep -q 'choose a window with --base-gfn and --pages' err || fail "$(cat err)"
[ ! -e far.bm ] || fail "far.bm written"
CASE="convert from a raw bitmap"
ok convert small.bm --base-gfn 0x10 --pages 20 --to text -o - <<'EOF'
0x10-0x11 shared
0x12-0x1c private
0x1d-0x1d shared
0x1e-0x23 private
EOF
CASE="a raw bitmap padded to unsigned longs"
printf '\xfc\xdf\x0f\x00\x00\x00\x00\x00' >padded.bm
run convert padded.bm --base-gfn 0x10 --pages 20 --to text -o p.txt
expect_rc 0
ok show p.txt --json <<'EOF'
{"schema":"sevmig.pstate/1","file":"p.txt","page_state":{"memslots":1,"covered_pages":20,"shared_pages":3,"private_pages":17,"shared_runs":2,"private_runs":2,"largest_shared_run":2}}
EOF
CASE="convert to a region array"
run convert small.txt --to list -o small.list
expect_rc 0
[ "$(od -An -tx1 small.list | tr -d ' \n')" = \
	"100000000000000012000000000000001d000000000000001e00000000000000" ] ||
	fail "list: $(od -An -tx1 small.list)"
CASE="convert from a region array"
ok convert small.list --list --base-gfn 0x10 --pages 0x14 --to text -o - <<'EOF'
0x10-0x11 shared
0x12-0x1c private
0x1d-0x1d shared
0x1e-0x23 private
EOF

# ---- malformed input: one line, the file and the position ---------------------------
for f in "$DATA"/bad/*; do
	CASE="bad $(basename "$f")"
	cp "$f" .
	b=$(basename "$f")
	run show "$b"
	expect_one_error "$b"
	run convert "$b" --to text -o should-not-exist
	expect_one_error "$b"
	[ ! -e should-not-exist ] || fail "an output was written"
	run diff example.bin "$b"
	expect_one_error "$b"
done
CASE="not a page-state file says so"
run show not_pstate_elf.bin
grep -q 'not a page-state file' err || fail "$(cat err)"

CASE="raw inputs of the wrong size or shape"
run convert small.bm --base-gfn 0x10 --pages 30 --to text -o -
expect_rc 2
grep -qx 'sevmig-dump: small.bm: a raw bitmap of 30 pages is 4 bytes (8 in whole unsigned longs); this file has 3' err ||
	fail "$(cat err)"
head -c 20 small.list >cut.list
run convert cut.list --list --base-gfn 0x10 --pages 20 --to text -o -
expect_one_error cut.list
run convert small.list --list --base-gfn 0x10 --pages 10 --to text -o -
expect_rc 2
grep -q '^sevmig-dump: small.list' err || fail "$(cat err)"

CASE="usage errors"
for args in "show" "show a b" "show --bogus example.bin" "show example.bin --ranges --json" \
	"show example.bin --json=bogus" "diff example.bin example.txt --json -q" \
	"diff example.bin example.txt --json=pretty" \
	"diff example.bin" "merge example.bin b.txt" "merge example.bin b.txt --union --intersect -o x" \
	"convert example.bin -o x" "convert example.bin --to nope -o x" \
	"convert example.bin --to text -o - --base-gfn 1" \
	"convert example.bin --to text -o - --base-gfn 0 --pages 10" \
	"convert small.list --list --to text -o x" "convert example.bin --to native --zstd 20 -o x" \
	"convert example.bin --to native --zstd -o x" "show missing-file"; do
	run $args
	expect_rc 2
	[ "$(wc -l <err)" = 1 ] || fail "$args: $(cat err)"
	[ ! -s out ] || fail "$args: stdout: $(cat out)"
done

CASE="--help"
for c in show diff merge convert; do
	run "$c" --help
	expect_rc 0
	grep -q '^examples:' out || fail "$c --help has no examples"
	grep -q "^usage: sevmig-dump $c" out || fail "$c --help has no usage line"
done

# ---- a failed write leaves the previous file --------------------------------------
CASE="failed write keeps the old output"
cp "$DATA"/good/bitmap_zstd.bin big.bin
echo "previous content" >out.txt
# The text of big.bin is ~100 KiB; the file size limit stops it at 1 KiB.
(
	ulimit -f 1
	trap '' XFSZ
	exec "$DUMP" convert big.bin --to text -o out.txt
) >out 2>err
rc=$?
expect_rc 2
[ "$(wc -l <err)" = 1 ] || fail "$(cat err)"
grep -q '^sevmig-dump: out.txt: .*unchanged' err || fail "$(cat err)"
[ "$(cat out.txt)" = "previous content" ] || fail "out.txt changed"
ls out.txt.tmp.* >/dev/null 2>&1 && fail "a temporary file was left behind"
if [ "$(id -u)" != 0 ]; then
	CASE="unwritable directory"
	mkdir ro && echo old >ro/o.bin && chmod a-w ro
	run convert example.txt --to native -o ro/o.bin
	expect_rc 2
	[ "$(cat ro/o.bin)" = old ] || fail "ro/o.bin changed"
	chmod u+w ro
fi
CASE="a failed command writes nothing"
echo "previous content" >out.txt
run merge example.bin bad_hex.txt -o out.txt
expect_one_error bad_hex.txt
[ "$(cat out.txt)" = "previous content" ] || fail "out.txt changed"

finish page-state
