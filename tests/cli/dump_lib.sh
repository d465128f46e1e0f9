# Shared by the sevmig-dump tests (sourced): each check counts a failure and
# the script goes on, so that one run reports every broken case; finish()
# ends with the count. Runs in a scratch folder removed at exit.
#   CASE=NAME       names the checks that follow in failure lines
#   run ARGS...     the tool's stdout in out, stderr in err, status in $rc
#   ok ARGS... <<EOF  success, exactly the text on stdin on stdout, no stderr
#   expect_rc N, expect_out <<EOF, expect_no_err, fail MESSAGE
DUMP=${SEVMIG_DUMP:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
CASE=

fail() {
	echo "FAIL [$CASE]: $*" >&2
	fails=$((fails + 1))
}

run() {
	"$DUMP" "$@" >out 2>err
	rc=$?
}

expect_rc() {
	[ "$rc" = "$1" ] || fail "exit $rc, expected $1; stderr: $(cat err)"
}

# stdout equals the text on stdin, byte for byte.
expect_out() {
	cat >want
	cmp -s want out || fail "stdout differs: $(diff want out | head -20)"
}

expect_no_err() {
	[ ! -s err ] || fail "unexpected stderr: $(cat err)"
}

ok() {
	run "$@"
	expect_rc 0
	expect_no_err
	expect_out
}

# finish WHAT: exit 1 with the count if any check failed.
finish() {
	if [ "$fails" != 0 ]; then
		echo "$fails failure(s)" >&2
		exit 1
	fi
	echo "all sevmig-dump $1 checks passed"
}
