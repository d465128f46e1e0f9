# Sourced by the tool tests (not a test itself): the tools' paths, a scratch
# directory removed on exit, and bounded waits (every command gets at most a
# minute, so a hung peer fails the test instead of hanging CI).
bin=${SEVMIG_BIN:?SEVMIG_BIN is the directory of the tools}
send=$bin/sevmig-send recv=$bin/sevmig-recv dump=$bin/sevmig-dump
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
t() { timeout --preserve-status -k 5 60 "$@"; }
tb() { exec timeout --preserve-status -k 5 60 "$@"; } # for `tb CMD &`: $! is CMD's
fail() { echo "FAIL: $*" >&2; exit 1; }
# status CMD...: run it with stdout in ./out and stderr in ./err; print its exit status.
status() { local rc=0; "$@" >out 2>err || rc=$?; echo "$rc"; }
# Every migration is keyed: one pre-shared key for the test's source and target.
"$recv" --gen-psk "$work/psk" || fail "sevmig-recv --gen-psk"
psk=(--psk "$work/psk")
