#!/usr/bin/env bash
# sevmig-dump host: text and JSON shape, on whatever this host has, and on
# device paths that do not exist (everything "not available", exit 0 still).
set -eu
dump=${SEVMIG_DUMP:?SEVMIG_DUMP is not set}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# --help: usage on stdout, exit 0
"$dump" host --help > "$tmp/help" || fail "--help exited $?"
grep -q "usage: sevmig-dump host" "$tmp/help" || fail "--help prints no usage"

# bad arguments: exit 2 with a message
set +e
"$dump" host --bogus > /dev/null 2> "$tmp/err"; rc=$?
set -e
[ "$rc" = 2 ] || fail "an unknown argument exited $rc, not 2"
grep -q "unknown argument '--bogus'" "$tmp/err" || fail "no message for a bad argument"
set +e; "$dump" host --kvm > /dev/null 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "--kvm without a path exited $rc"

# this host, text: every line present, each one "available" or "not available (why)"
"$dump" host > "$tmp/text" || fail "host exited $? on this host"
for item in "SEV in KVM:" "kvm_amd parameters" "hypercall exits (MAP_GPA_RANGE):" \
            "user-space MSR exits:" "MSR filter:" "encryption-context move:" \
            "PLATFORM_STATUS:" "migration through the firmware:" \
            "page-state tracking (mainline):" "moving a guest within this host:"; do
  grep -qF "$item" "$tmp/text" || fail "text output lacks '$item'"
done
grep -Eq '^/dev/kvm: (available \(KVM API [0-9]+\)|not available \(.+\))$' "$tmp/text" ||
  fail "no /dev/kvm line"
grep -Eq '^/dev/sev: (available|not available \(.+\))$' "$tmp/text" || fail "no /dev/sev line"
if [ ! -e /dev/sev ]; then
  grep -q "SEV is not available on this host" "$tmp/text" ||
    fail "without /dev/sev the text does not say SEV is not available"
fi

# this host, JSON: one object with the documented keys and types
"$dump" host --json > "$tmp/json" || fail "host --json exited $?"
python3 - "$tmp/json" <<'PY' || fail "JSON shape"
import json, os, sys
h = json.load(open(sys.argv[1]))
assert list(h) == ["schema", "kvm", "sev", "summary"] and h["schema"] == "sevmig.host/1", h.keys()
k = h["kvm"]
assert isinstance(k["available"], bool)
assert k["error"] is None if k["available"] else isinstance(k["error"], str)
assert isinstance(k["api_version"], int)
assert k["sev"] in (True, False, None)
for c in ("exit_hypercall_map_gpa_range", "user_space_msr", "msr_filter",
          "move_enc_context", "copy_enc_context"):
    assert isinstance(k["capabilities"][c], bool), c
assert isinstance(k["capabilities"]["hypercall_exit_mask"], int)
assert k["capabilities"]["exit_hypercall_map_gpa_range"] == bool(
    k["capabilities"]["hypercall_exit_mask"] & (1 << 12))
s = h["sev"]
assert isinstance(s["available"], bool)
if s["platform_status"] is None:
    assert isinstance(s["platform_error"], str) and s["platform_error"]
else:
    for f in ("api_major", "api_minor", "build", "flags", "guest_count"):
        assert isinstance(s["platform_status"][f], int), f
    assert s["platform_status"]["state"] in ("UNINIT", "INIT", "WORKING", "UNKNOWN")
if not os.path.exists("/dev/sev"):
    assert s["available"] is False and "SEV is not available on this host" in s["platform_error"]
for f in ("firmware_migration", "page_state_tracking", "intra_host_move"):
    assert isinstance(h["summary"][f], bool), f
PY

# nothing there: still exit 0, everything "not available"
"$dump" host --kvm "$tmp/no-kvm" --sev "$tmp/no-sev" > "$tmp/none" ||
  fail "host exited $? with no devices"
grep -q "^$tmp/no-kvm: not available (No such file or directory)" "$tmp/none" ||
  fail "a missing KVM device is not reported"
grep -q "hypercall exits (MAP_GPA_RANGE):   not available (no KVM)" "$tmp/none" ||
  fail "capabilities without KVM are not 'not available'"
grep -q "PLATFORM_STATUS:.*not available (SEV is not available on this host: $tmp/no-sev does not exist)" \
  "$tmp/none" || fail "a missing SEV device is not reported"
[ "$(grep -c ': *available$' "$tmp/none" || true)" = 0 ] || fail "something is available with no devices"
"$dump" host --json --kvm "$tmp/no-kvm" --sev "$tmp/no-sev" > "$tmp/none.json"
python3 - "$tmp/none.json" <<'PY' || fail "JSON with no devices"
import json, sys
h = json.load(open(sys.argv[1]))
assert h["kvm"]["available"] is False and h["kvm"]["error"] == "No such file or directory"
assert h["kvm"]["sev"] is None
assert not any(v for k, v in h["kvm"]["capabilities"].items() if k != "hypercall_exit_mask")
assert h["sev"]["available"] is False and h["sev"]["platform_status"] is None
assert not any(h["summary"].values())
PY
echo "sevmig-dump host: ok"
