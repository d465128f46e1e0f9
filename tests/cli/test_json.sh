#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The tools' machine interface: every command with JSON output, validated
# against docs/json.md by tests/tools/check_json_schema.py (which must also
# reject what breaks a schema), every documented schema produced; progress
# (--progress=json|bar|none|auto); the exit statuses 0, 1, 2, 130 and 143
# of sevmig-dump; and 'sevmig-dump help'.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "python3 is not installed: skipped"; exit 77; }
src=${SEVMIG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
checker=(python3 "$src/tests/tools/check_json_schema.py" --doc "$src/docs/json.md")
: >seen
# valid FILE [ARGS...]: FILE is valid under docs/json.md (ARGS: --pretty,
# --schema NAME...); its schemas are counted for the coverage check.
valid() {
  local f=$1; shift
  "${checker[@]}" --seen seen "$@" "$f" >check.out 2>&1 || fail "$f: $(cat check.out)"
}
# jq-less field access: py FILE EXPR (d is the document; ls its JSON Lines).
py() {
  python3 - "$1" "$2" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
ls = [json.loads(l) for l in text.splitlines() if l.strip()]
d = ls[-1] if ls else None
if not eval(sys.argv[2]):
    sys.exit("%s: %s" % (sys.argv[2], text[-2000:]))
PY
}

# ---- the checker rejects what breaks a schema ----------------------------------
ok_doc='{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":0,"pages":0}'
echo "$ok_doc" >good.json
"${checker[@]}" good.json >/dev/null || fail "checker: a valid document refused"
bad_docs=(
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":0}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":0,"pages":0,"extra":1}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":1,"ranges":0,"pages":0}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":-1,"pages":0}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":0.5,"pages":0}'
  '{"a_file":"a","schema":"sevmig.pstate-diff/1","b_file":"b","equal":true,"ranges":0,"pages":0}'
  '{"schema":"sevmig.pstate-diff/9","a_file":"a","b_file":"b","equal":true,"ranges":0,"pages":0}'
  '{"schema":"sevmig.pstate-change/1","first_gfn":1,"last_gfn":1,"pages":1,"a_state":"shared","b_state":"gone"}'
  '{"schema":"sevmig.pstate/1","file":"f","page_state":{"memslots":1}}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","a_file":"a","b_file":"b","equal":true,"ranges":0,"pages":0}'
  '{"schema":"sevmig.pstate-diff/1","a_file":"a","b_file":"b","equal":true,"ranges":NaN,"pages":0}'
  '[1]'
  'not json'
)
for b in "${bad_docs[@]}"; do
  printf '%s\n' "$b" >bad.json
  if "${checker[@]}" bad.json >check.out 2>&1; then fail "checker accepted: $b"; fi
done
printf '%s' "$ok_doc" >nonl.json
if "${checker[@]}" nonl.json >/dev/null 2>&1; then fail "checker accepted a line without newline"; fi
if "${checker[@]}" --schema sevmig.verify/1 good.json >/dev/null 2>&1; then
  fail "checker accepted a schema outside --schema"
fi
# A document that does not parse is refused too (the checker reads the tables).
printf '### `sevmig.x/1`\n\n| key | type | unit | meaning |\n|---|---|---|---|\n| `schema` | `"sevmig.x/1"` | | |\n| `k` | object `nowhere` | | |\n' >broken.md
rc=0; python3 "$src/tests/tools/check_json_schema.py" --doc broken.md good.json >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "checker: a doc naming an undescribed object gave $rc, not 2"

# ---- inputs ----------------------------------------------------------------------
head -c 1M /dev/urandom >guest.mem
head -c 1M < <(yes 'text that compresses well') >>guest.mem
head -c 1M /dev/zero >>guest.mem
head -c 1M /dev/urandom >>guest.mem
printf '0x0-0xff private\n0x100-0x2ff shared\n0x100000-0x1000ff private\n' >guest.txt
printf '0x0-0x1ff private\n0x200-0x2ff shared\n0x100000-0x1000ff private\n' >other.txt
t "$recv" --gen-pdh --pdh-key target.key --pdh-cert target.cert
mem=(-m 0:3M:guest.mem -m 4G:1M:guest.mem:3M)

# ---- sevmig-dump -------------------------------------------------------------------
t "$dump" show guest.txt --json >show.json; valid show.json --schema sevmig.pstate/1
py show.json 'd["page_state"]["shared_pages"] == 512 and d["file"] == "guest.txt"'
t "$dump" show guest.txt --json=pretty >show.pretty; valid show.pretty --pretty
[ "$(wc -l <show.pretty)" -gt 5 ] || fail "--json=pretty is not indented: $(cat show.pretty)"
py show.pretty 'True' 2>/dev/null && fail "a pretty document parsed as JSON Lines"
python3 -c 'import json,sys; a=json.load(open("show.pretty")); b=json.load(open("show.json")); assert a==b' ||
  fail "pretty and one-line documents differ"

rc=0; t "$dump" diff guest.txt other.txt --json >diff.json || rc=$?
[ "$rc" = 1 ] || fail "diff --json of different maps exited $rc"
valid diff.json --schema sevmig.pstate-change/1 --schema sevmig.pstate-diff/1
py diff.json 'all(l["schema"] == "sevmig.pstate-change/1" for l in ls[:-1]) and not d["equal"] and d["ranges"] == len(ls) - 1 == 1'
t "$dump" diff guest.txt guest.txt --json >same.json; valid same.json
py same.json 'len(ls) == 1 and d["equal"]'

t "$send" "${psk[@]}" "${mem[@]}" -p guest.txt -t target.cert -o s.bin --json >send.json
valid send.json --schema sevmig.migration/1
t "$dump" stream "${psk[@]}" --json s.bin >stream.json
valid stream.json
py stream.json 'ls[0]["schema"] == "sevmig.stream-header/1" and d["schema"] == "sevmig.stream-result/1" and d["complete"] and all(l["schema"] == "sevmig.stream-record/1" for l in ls[1:-1]) and len(ls) - 2 == d["counts"]["records"] + 1'
t "$dump" verify "${psk[@]}" --pdh-key target.key --json s.bin >verify.json
valid verify.json --schema sevmig.verify/1
t "$dump" verify "${psk[@]}" --json=pretty s.bin >verify.pretty; valid verify.pretty --pretty
# damaged, truncated, not a stream: exit 1 with a document naming the fault
size=$(stat -c %s s.bin)
cp s.bin bad.bin
printf '\xff\xff\xff\xff' | dd of=bad.bin bs=1 seek=$((size / 2)) conv=notrunc status=none
head -c $((size / 3)) s.bin >cut.bin
for f in bad.bin cut.bin guest.txt; do
  rc=0; t "$dump" stream "${psk[@]}" --json "$f" >"$f.stream.json" 2>/dev/null || rc=$?
  [ "$rc" = 1 ] || fail "stream --json $f exited $rc"
  valid "$f.stream.json"
  py "$f.stream.json" 'd["schema"] == "sevmig.stream-result/1" and not d["complete"] and d["error"]["message"]'
  rc=0; t "$dump" verify "${psk[@]}" --json "$f" >"$f.verify.json" 2>/dev/null || rc=$?
  [ "$rc" = 1 ] || fail "verify --json $f exited $rc"
  valid "$f.verify.json"
  py "$f.verify.json" 'not d["sound"] and d["verdict"] == "damaged" and d["error"]["message"]'
done
py guest.txt.stream.json 'len(ls) == 1' # no header: the result line alone
# an aborted stream: a sender stopped by SIGTERM while its reader still
# reads writes ABORT; stream lists it (exit 0), verify says incomplete (1).
head -c 64M /dev/urandom >big.mem
mkfifo slow.fifo
"$send" "${psk[@]}" -m 0:64M:big.mem -t target.cert >slow.fifo 2>abort.err &
spid=$!
exec 3<slow.fifo
dd bs=64K count=16 iflag=fullblock status=none <&3 >aborted.bin # exactly 1 MiB
kill -TERM "$spid"
cat <&3 >>aborted.bin
exec 3<&-
rc=0; wait "$spid" || rc=$?
[ "$rc" = 143 ] || fail "the stopped sender exited $rc: $(cat abort.err)"
rc=0; t "$dump" stream "${psk[@]}" --json aborted.bin >aborted.json 2>/dev/null || rc=$?
[ "$rc" = 0 ] || fail "stream of an aborted stream exited $rc: $(tail -1 aborted.json)"
valid aborted.json
py aborted.json 'ls[-2]["type"] == "ABORT" and ls[-2]["reason"] == "cancelled" and d["complete"]'
rc=0; t "$dump" verify "${psk[@]}" --json aborted.bin >aborted.verify.json 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "verify of an aborted stream exited $rc"
valid aborted.verify.json
py aborted.verify.json 'd["verdict"] == "incomplete" and not d["sound"]'
rm -f big.mem

t "$dump" host --json >host.json; valid host.json --schema sevmig.host/1
t "$dump" host --json=pretty --kvm missing --sev missing >host.pretty; valid host.pretty --pretty
py host.pretty 'True' 2>/dev/null && fail "host --json=pretty is one line"

# owners show, where the tools have the command
if "$dump" help owners >/dev/null 2>&1; then
  printf '0x0-0xff host\n0x100-0x1ff guest:2\n0x200-0x20f host>guest:2\n' >map.txt
  t "$dump" owners show map.txt --json >owners.json; valid owners.json --schema sevmig.owners/1
fi

# ---- sevmig-send and sevmig-recv: summaries ----------------------------------------
t "$recv" "${psk[@]}" -k target.key -i s.bin -d out1 --json >recv.json
valid recv.json --schema sevmig.migration/1
python3 - send.json recv.json <<'PY' || fail "summaries differ"
import json, sys
s, r = (json.load(open(f)) for f in sys.argv[1:3])
assert s["counts"] == r["counts"] and s["uuid"] == r["uuid"], (s, r)
assert s["page_state"] == r["page_state"], (s, r)
PY
t "$recv" "${psk[@]}" -k target.key -i s.bin -d out2 --json=pretty >recv.pretty
valid recv.pretty --pretty
# The stream on standard output: the summary goes to standard error.
t "$send" "${psk[@]}" "${mem[@]}" -t target.cert --json --progress=none 2>send2.json >s2.bin
valid send2.json
# Over TCP both summaries say committed.
rm -f port
tb "$recv" "${psk[@]}" -k target.key -i tcp://127.0.0.1:0 --port-file port -d out3 --json \
  --timeout 30 >tcp.recv.json &
rpid=$!
for i in $(seq 100); do [ -s port ] && break; sleep 0.1; done
t "$send" "${psk[@]}" "${mem[@]}" -p guest.txt -t target.cert -o "tcp://127.0.0.1:$(cat port)" \
  --json --timeout 30 >tcp.send.json
wait "$rpid" || fail "receiver over TCP"
valid tcp.send.json; valid tcp.recv.json
py tcp.send.json 'd["delivery"] == "committed"'
py tcp.recv.json 'd["delivery"] == "committed" and d["stream"].startswith("tcp://")'

# ---- progress ------------------------------------------------------------------------
# json: events on standard error, phases in order, counters that only grow,
# the last one "done" with the same summary --json printed.
t "$send" "${psk[@]}" "${mem[@]}" -p guest.txt -t target.cert -o p.bin --json --progress=json \
  >p.send.json 2>p.send.events
t "$recv" "${psk[@]}" -k target.key -i p.bin -d out4 --json --progress=json \
  >p.recv.json 2>p.recv.events
for tool in send recv; do
  valid "p.$tool.events" --schema sevmig.progress/1
  python3 - "p.$tool.events" "p.$tool.json" "$tool" <<'PY' || fail "progress of sevmig-$tool"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
summary = json.load(open(sys.argv[2]))
order = ["connecting", "memory", "vcpus", "committing", "done"]
phases = [e["phase"] for e in ev]
assert all(e["tool"] == "sevmig-" + sys.argv[3] for e in ev), ev
assert phases[0] == "connecting" and phases[-1] == "done", phases
assert [order.index(p) for p in phases] == sorted(order.index(p) for p in phases), phases
assert {"memory", "committing"} <= set(phases), phases
for a, b in zip(ev, ev[1:]):
    assert b["done_pages"] >= a["done_pages"] and b["stream_bytes"] >= a["stream_bytes"], (a, b)
    assert b["seconds"] >= a["seconds"], (a, b)
last = ev[-1]
assert last["summary"] == summary, (last["summary"], summary)
assert last["done_pages"] == last["guest_pages"] == 1024 and last["eta_seconds"] == 0, last
assert last["done_bytes"] == 1024 * 4096 and last["guest_bytes"] == last["done_bytes"], last
assert "error" not in last
PY
done
# one event per interval while records move: a reader slower than the
# sender (16 MiB at 10 MiB/s) makes the memory phase last over a second.
head -c 16M /dev/urandom >slow.mem
t "$send" "${psk[@]}" -m 0:16M:slow.mem -t target.cert -T 1 --progress=json 2>slow.events |
  python3 -c 'import sys, time
while sys.stdin.buffer.read(1 << 20):
    time.sleep(0.1)'
valid slow.events
python3 - slow.events <<'PY' || fail "no progress during the memory phase: $(cat slow.events)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
mid = [e for e in ev if e["phase"] == "memory" and 0 < e["done_pages"] < e["guest_pages"]]
assert mid, "no event between the start and the end of the memory phase"
assert all(e["eta_seconds"] is not None and e["eta_seconds"] > 0 and e["guest_bytes_per_second"] > 0
           for e in mid), mid
mem = [e for e in ev if e["phase"] == "memory"]
# at most one a second: events of one phase are spaced by the interval
assert all(b["seconds"] - a["seconds"] >= 0.9 for a, b in zip(mem, mem[1:])), mem
PY
rm -f slow.mem
# auto on a terminal draws the bar (script(1) gives the tool a terminal)
if command -v script >/dev/null; then
  script -qec "$send --psk $work/psk ${mem[*]} -t target.cert -o tty.bin" /dev/null >tty.out ||
    fail "sevmig-send on a terminal: $(cat tty.out)"
  grep -aq $'\r'"sevmig-send: memory" tty.out || fail "auto on a terminal drew no bar: $(cat -A tty.out)"
  grep -aq 'sevmig-send: 1024 pages (' tty.out || fail "auto on a terminal: no summary"
else
  echo "script(1) is not installed: --progress=auto on a terminal not checked"
fi
# a failure after the start: the last event says failed, with the message
rc=0; t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o nodir/x.bin --progress=json \
  2>fail.events >/dev/null || rc=$?
[ "$rc" = 2 ] || fail "a failing send exited $rc"
grep '^{' fail.events >fail.jsonl || fail "no event: $(cat fail.events)"
valid fail.jsonl
py fail.jsonl 'd["phase"] == "failed" and "nodir" in d["error"] and "summary" not in d'
# none, auto without a terminal: nothing on standard error
for mode in none auto; do
  t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o n.bin --progress=$mode 2>n.err
  [ ! -s n.err ] || fail "--progress=$mode printed: $(cat n.err)"
  t "$recv" "${psk[@]}" -k target.key -i n.bin -d "out.$mode" --progress=$mode 2>n.err
  [ ! -s n.err ] || fail "sevmig-recv --progress=$mode printed: $(cat n.err)"
done
t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o q.bin -q --progress=json 2>q.err
valid q.err # --progress wins over --quiet
# bar, forced without a terminal: lines redrawn with \r, then the text summary
t "$send" "${psk[@]}" "${mem[@]}" -t target.cert -o b.bin --progress=bar 2>bar.err
grep -q $'\r' bar.err || fail "--progress=bar draws no \\r line: $(od -c bar.err | head)"
grep -aq 'memory\|committing' bar.err || fail "--progress=bar shows no phase"
grep -aq 'round 0' bar.err || fail "--progress=bar shows no round"
grep -aq '100%' bar.err || fail "--progress=bar never reaches 100%"
grep -aq "sevmig-send: 1024 pages (" bar.err || fail "--progress=bar has no summary: $(cat -A bar.err)"
t "$recv" "${psk[@]}" -k target.key -i b.bin -d out.bar --progress=bar 2>bar.err
grep -q $'\r' bar.err || fail "sevmig-recv --progress=bar draws no line"
rc=0; "$send" --progress=sometimes -m 0:4K:guest.mem -t target.cert >/dev/null 2>err || rc=$?
[ "$rc" = 2 ] && grep -q "auto, bar, json or none" err || fail "a bad --progress: $rc $(cat err)"

# ---- JSON strings: escapes and file names that are not UTF-8 ---------------------------
name=$'we"ird\\ na\tme\nwith\x01ctl-\xff-\xc3\xa9.txt'
cp guest.txt "$name"
t "$dump" show "$name" --json >esc.json; valid esc.json
python3 - esc.json <<'PY' || fail "escaped file name: $(cat esc.json)"
import json, sys
raw = open(sys.argv[1], "rb").read()
assert raw.count(b"\n") == 1, raw  # the newline in the name is escaped
d = json.loads(raw)
assert d["file"] == 'we"ird\\ na\tme\nwith\x01ctl-\ufffd-\u00e9.txt', repr(d["file"])
PY

# ---- every documented schema was produced and validated --------------------------------
"${checker[@]}" --list-schemas >schemas
"$dump" help owners >/dev/null 2>&1 || sed -i '/^sevmig.owners\//d' schemas
sort -u seen >seen.sorted
missing=$(comm -23 schemas seen.sorted)
[ -z "$missing" ] || fail "documented but never produced here: $missing"

# ---- exit statuses of sevmig-dump, and help ----------------------------------------------
st() { local rc=0; "$@" >out 2>err || rc=$?; echo "$rc"; }
[ "$(st "$dump" diff guest.txt guest.txt)" = 0 ] || fail "diff equal"
[ "$(st "$dump" diff guest.txt other.txt)" = 1 ] || fail "diff different"
[ "$(st "$dump" diff guest.txt missing.txt)" = 2 ] || fail "diff missing file"
[ "$(st "$dump" verify "${psk[@]}" s.bin)" = 0 ] || fail "verify sound"
[ "$(st "$dump" verify "${psk[@]}" bad.bin)" = 1 ] || fail "verify damaged"
[ "$(st "$dump" verify "${psk[@]}" missing.bin)" = 2 ] || fail "verify missing"
[ "$(st "$dump" bogus)" = 2 ] && grep -q "unknown command 'bogus'" err || fail "unknown command"
[ "$(st "$dump")" = 2 ] || fail "no command"
[ "$(st "$dump" help)" = 0 ] && grep -q '^  verify ' out && grep -q '^  help ' out || fail "help: $(cat out)"
cmds=$(sed -nE 's/^  ([a-z]+) .*/\1/p' out | grep -v '^help$')
[ -n "$cmds" ] || fail "help lists no commands"
for c in $cmds; do
  [ "$(st "$dump" help "$c")" = 0 ] || fail "help $c: $(cat err)"
  grep -q "usage: sevmig-dump $c" out || fail "help $c prints no usage: $(cat out)"
  cp out help.out
  "$dump" "$c" --help >cmd.out || fail "$c --help"
  cmp -s help.out cmd.out || fail "help $c and $c --help differ"
done
[ "$(st "$dump" help nope)" = 2 ] && grep -q "unknown command 'nope'" err || fail "help nope"
[ "$(st "$dump" help show diff)" = 2 ] || fail "help with two commands"
[ "$(st "$dump" help help)" = 0 ] || fail "help help"

# A stop signal while stream or verify waits on a pipe: 130 and 143, after
# saying so (the tool caught it: it did not die of it).
for cmd in stream verify; do
  for sig in INT:130 TERM:143; do
    rm -f wait.fifo; mkfifo wait.fifo
    exec 4<>wait.fifo # a writer that never writes
    "$dump" "$cmd" "${psk[@]}" --json wait.fifo >sig.out 2>sig.err &
    dpid=$!
    sleep 0.3
    kill -"${sig%:*}" "$dpid"
    rc=0
    for i in $(seq 50); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$dpid" 2>/dev/null && { kill -KILL "$dpid"; fail "$cmd: still running after SIG${sig%:*}"; }
    wait "$dpid" || rc=$?
    exec 4>&-
    [ "$rc" = "${sig#*:}" ] || fail "$cmd: exit $rc after SIG${sig%:*}, not ${sig#*:}"
    grep -q 'interrupted' sig.err || fail "$cmd: no message after SIG${sig%:*}: $(cat sig.err)"
    if [ "$cmd" = verify ]; then [ ! -s sig.out ] || fail "verify printed a verdict: $(cat sig.out)"; fi
  done
done

# The exit statuses are documented in every manual page.
for page in sevmig-dump sevmig-send sevmig-recv; do
  f=$src/docs/man/$page.1
  grep -q '^\.SH EXIT STATUS' "$f" || fail "$page.1 has no EXIT STATUS"
  for code in 0 2 130 143; do
    sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$f" | grep -qE "^\.B(R)? \"?$code\b|^\.BR .*\"?$code\"?" ||
      fail "$page.1's EXIT STATUS does not give $code"
  done
  sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$f" | grep -q '^\.B 1$' || fail "$page.1: no status 1"
  grep -q 'docs/json.md' "$f" || fail "$page.1 does not point to docs/json.md"
done
echo "json: all passed"
