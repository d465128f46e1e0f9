#!/bin/bash
# SPDX-License-Identifier: MIT
# sevmig-dump owners replay, show and project: exact outputs and exit
# statuses, every kind of malformed map or transitions file refused with one
# line naming the file and the line, the JSON of show read back by Python,
# the projection read back by the page-state commands, and a failed run
# leaving the previous output in place.
set -u

. "$(dirname "$0")/dump_lib.sh"

# refused WHERE MESSAGE ARGS...: exit 2, one stderr line, naming WHERE and
# containing MESSAGE, nothing on stdout.
refused() {
	local where=$1 msg=$2
	shift 2
	run "$@"
	expect_rc 2
	local lines
	lines=$(wc -l <err)
	[ "$lines" = 1 ] || fail "stderr has $lines lines: $(cat err)"
	grep -Fq "sevmig-dump: $where: " err || fail "stderr does not name $where: $(cat err)"
	grep -Fq -- "$msg" err || fail "stderr lacks '$msg': $(cat err)"
	[ ! -s out ] || fail "stdout not empty: $(cat out)"
}

cat >host.owners <<'EOF'
# two ranges of host RAM
0x1000-0x1fff host
0x4000-0x43ff host
EOF

cat >boot.ops <<'EOF'
# the hypervisor's pages, a protected guest, a normal guest
host_donate_hyp 0x1000 16
host_donate_guest 0x1100 256 guest:2
guest_share_host 0x1110 4 guest:2
host_share_guest 0x1200 8 guest:3

host_donate_hyp 0x1100 1            # guest:2 owns it
host_share_hyp 0x1ff0 32            # 0x2000 is not covered
guest_donate_host 0x1110 1 guest:2  # the host borrows it
host_share_hyp 0x4000 1
host_unshare_hyp 0x4000 2           # 0x4001 is not borrowed
hyp_donate_host 0x100f 1
EOF

final='0x1000-0x100e hyp
0x100f-0x10ff host
0x1100-0x110f guest:2
0x1110-0x1113 guest:2>host
0x1114-0x11ff guest:2
0x1200-0x1207 host>guest:3
0x1208-0x1fff host
0x4000-0x4000 host>hyp
0x4001-0x43ff host'

results='1 ok
2 ok
3 ok
4 ok
5 refused 0x1100
6 refused 0x2000
7 refused 0x1110
8 ok
9 refused 0x4001
10 ok'

# ---- replay ------------------------------------------------------------------
CASE="replay, results only"
ok owners replay host.owners boot.ops <<<"$results"

CASE="replay -o -: results, then the canonical map"
ok owners replay host.owners boot.ops -o - <<<"$results
$final"

CASE="replay -o FILE, options first"
ok owners replay -o final.owners host.owners boot.ops <<<"$results"
printf '%s\n' "$final" | cmp -s - final.owners || fail "final.owners: $(cat final.owners)"

CASE="replay of the final map again: the refusals stay refused"
printf 'host_donate_hyp 0x1100 1\nhost_donate_guest 0x1208 1 guest:4\n' >two.ops
ok owners replay final.owners two.ops <<'EOF'
1 refused 0x1100
2 ok
EOF

CASE="replay from standard input, an empty OPS"
: >empty.ops
"$DUMP" owners replay - empty.ops -o - <host.owners >out 2>err
rc=$?
expect_rc 0
expect_out <<'EOF'
0x1000-0x1fff host
0x4000-0x43ff host
EOF

CASE="replay: the binary form of the map is read too"
# a map in the binary form, as docs/owners-format.md section 1.5 shows it
printf '\x89SVOW\r\n\x1a\x01\x00\x00\x00\x00\x10\x00\x00\x05\x80\x02\xff\x01\x01\x00\x00\x0f\x00\x00\x00\xef\x01\x01\x03\x80\x1a\xff\x01\x02\x00\x00\x00\x02\x02\x9f\x87\x37\xec' >example.bin
ok owners replay example.bin empty.ops -o - <<'EOF'
0x100-0x1ff host
0x200-0x20f hyp
0x210-0x2ff host>guest:2
0x1000-0x10ff guest:2
0x1100-0x1100 guest:2>host
EOF

# ---- malformed transitions: exit 2, one line with FILE:LINE ----------------------
CASE="malformed OPS"
bad_op() {
	printf 'host_donate_hyp 0x1000 1\n%s\n' "$1" >bad.ops
	refused bad.ops:2 "$2" owners replay host.owners bad.ops -o -
}
bad_op 'host_give_hyp 0x1000 1' "unknown transition 'host_give_hyp'"
bad_op 'HOST_DONATE_HYP 0x1000 1' "unknown transition"
bad_op 'host_donate_hyp' "missing the first frame"
bad_op 'host_donate_hyp 1000 1' "bad first frame '1000'"
bad_op 'host_donate_hyp 0x10G0 1' "bad first frame"
bad_op 'host_donate_hyp 0x1A00 1' "lowercase hex"
bad_op 'host_donate_hyp 0x10000000000 1' "beyond the 40-bit frame limit"
bad_op 'host_donate_hyp 0x1000' "missing the page count"
bad_op 'host_donate_hyp 0x1000 0x10' "bad page count '0x10'"
bad_op 'host_donate_hyp 0x1000 -1' "bad page count"
bad_op 'host_donate_hyp 0x1000 0' "the page count is 0"
bad_op 'host_donate_hyp 0x1000 99999999999999999999999' "overflows"
bad_op 'host_donate_hyp 0xffffffff00 257' "overflows the 40-bit frame space"
bad_op 'host_donate_guest 0x1000 1' "needs the guest"
bad_op 'host_donate_guest 0x1000 1 guest:1' "guest id 1 is below 2"
bad_op 'host_donate_guest 0x1000 1 guest:0' "below 2"
bad_op 'host_donate_guest 0x1000 1 host' "'host' is not a guest"
bad_op 'host_donate_guest 0x1000 1 guest:abc' "not a decimal number"
bad_op 'host_donate_guest 0x1000 1 guest:2000000' "past 1048575"
bad_op 'host_donate_guest 0x1000 1 guest:2 guest:3' "unexpected 'guest:3'"
bad_op 'host_donate_hyp 0x1000 1 guest:2' "unexpected 'guest:2' (it names no guest)"
[ -e final.owners ] || fail "final.owners vanished"

CASE="a malformed OPS changes nothing: the previous OUT stays"
cp final.owners keep.owners
printf 'host_donate_hyp 0x1000 1\nbogus\n' >bad.ops
refused bad.ops:2 "unknown transition 'bogus'" owners replay host.owners bad.ops -o final.owners
cmp -s keep.owners final.owners || fail "final.owners changed"

# ---- malformed maps ---------------------------------------------------------------
CASE="malformed MAP"
bad_map() {
	printf '0x0-0xff host\n%s\n' "$1" >bad.owners
	refused bad.owners:2 "$2" owners replay bad.owners empty.ops -o -
	refused bad.owners:2 "$2" owners show bad.owners
}
bad_map '0x100-0x1ff private' "unknown entity 'private'"
bad_map '0x100-0x1FF host' "upper-case hex digit 'F'"
bad_map '0x100-0x1ff' "missing owner"
bad_map '0x200-0x1ff host' "backwards"
bad_map '0x80-0x1ff hyp' "overlaps 0x0-0xff on line 1"
bad_map '0x100-0x1ff guest:1' "below 2"
bad_map '0x100-0x1ff hyp>host' "never lent"
bad_map '0x100-0x1ff guest:2>guest:3' "lent to the host only"
bad_map '0x100-0x1ff host>host' "cannot borrow its own"
bad_map '0x100-0x1ff host>' "missing borrower"
printf '0x0-0xff host\n0x100-0x1ff host # ok\n' >good.owners
ok owners replay good.owners empty.ops -o - <<'EOF'
0x0-0x1ff host
EOF
head -c 45 example.bin >trunc.bin
refused 'trunc.bin: byte 41' "ends inside the borrower of run 4" owners show trunc.bin
refused missing.owners "No such file" owners show missing.owners

# ---- show -------------------------------------------------------------------------
CASE="show"
ok owners show final.owners <<'EOF'
coverage ranges:  2
covered frames:   5120
runs:             9
borrowed frames:  13
entity               owned shared_owned shared_borrowed
hyp                     15            0               1
host                  4840            9               4
guest:2                252            4               0
guest:3                  0            0               8
EOF

CASE="show --json"
run owners show final.owners --json
expect_rc 0
python3 - out <<'EOF' || fail "JSON: $(cat out)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "sevmig.owners/1", d
assert d["file"] == "final.owners"
assert (d["coverage_ranges"], d["covered_frames"], d["runs"], d["borrowed_frames"]) == (2, 5120, 9, 13), d
e = {x["entity"]: (x["id"], x["owned"], x["shared_owned"], x["shared_borrowed"]) for x in d["entities"]}
assert e == {"hyp": (0, 15, 0, 1), "host": (1, 4840, 9, 4), "guest:2": (2, 252, 4, 0),
             "guest:3": (3, 0, 0, 8)}, e
assert [x["id"] for x in d["entities"]] == [0, 1, 2, 3]
EOF

CASE="show of an empty map"
: >empty.owners
ok owners show empty.owners <<'EOF'
coverage ranges:  0
covered frames:   0
runs:             0
borrowed frames:  0
entity               owned shared_owned shared_borrowed
hyp                      0            0               0
host                     0            0               0
EOF

# ---- project ------------------------------------------------------------------------
CASE="project guest:2, read back by the page-state commands"
run owners project final.owners guest:2 -o g2.pstate
expect_rc 0
[ ! -s out ] && [ ! -s err ] || fail "project printed: $(cat out err)"
ok show g2.pstate --ranges <<'EOF'
0x1100-0x110f private
0x1110-0x1113 shared
0x1114-0x11ff private
EOF
ok show g2.pstate <<'EOF'
memslots:           1
covered pages:      256
shared pages:       4
private pages:      252
shared runs:        1
private runs:       2
largest shared run: 4
EOF

CASE="project guest:3 (it borrows from the host), --to text"
ok owners project final.owners guest:3 --to text -o - <<'EOF'
0x1200-0x1207 shared
EOF
run owners project final.owners guest:3 -o g3.pstate
expect_rc 0
# the binary projection equals the text one
run diff g3.pstate - <<<'0x1200-0x1207 shared'
expect_rc 0

CASE="project a guest the map does not name: an empty page-state map"
ok owners project final.owners guest:9 --to text -o - </dev/null

CASE="project refusals"
refused "owners project" "'host' is not a guest" owners project final.owners host -o x.pstate
refused "owners project" "below 2" owners project final.owners guest:1 -o x.pstate
refused "owners project" "-o PSTATE is required" owners project final.owners guest:2
[ ! -e x.pstate ] || fail "x.pstate written"

# ---- arguments ------------------------------------------------------------------------
CASE="arguments"
run owners --help
expect_rc 0
grep -q "sevmig-dump owners replay MAP OPS" out || fail "no usage: $(cat out)"
refused "owners" "give replay, show or project" owners
refused "owners" "unknown command 'list'" owners list x
refused "owners replay" "expected 2 arguments" owners replay host.owners
refused "owners replay" "unexpected argument" owners replay host.owners boot.ops extra
refused "owners show" "unknown option '--ranges'" owners show host.owners --ranges
refused "owners replay" "-o needs a value" owners replay host.owners boot.ops -o

finish owners
