#!/usr/bin/env bash
# The bash completion of the three tools: a few completions checked one by
# one, then every option and command the tools' --help lists must be offered
# (derived from the help text, so a new option fails here until the
# completion has it), then a real readline session completes a few lines.
# usage: completion.sh COMPLETION_SCRIPT BINDIR
set -u
script=$(realpath "$1")
bin=$(realpath "$2")
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

bash -n "$script" || {
	echo "FAIL: $script does not parse"
	exit 1
}
# shellcheck source=/dev/null
. "$script"
for t in sevmig-dump sevmig-send sevmig-recv; do
	complete -p "$t" >/dev/null 2>&1 || bad "$script registers no completion for $t"
	test -x "$bin/$t" || {
		echo "FAIL: no $bin/$t"
		exit 1
	}
done
[ $fail = 0 ] || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# comp WORD...: complete the last WORD ('' for a new one) of the command line
# WORD..., with COMP_WORDS split as bash splits them (COMP_WORDBREAKS '=' and
# ':' make words of their own); prints COMPREPLY, one a line.
comp() {
	local w piece rest
	COMP_WORDS=()
	for w in "$@"; do
		[ -z "$w" ] && COMP_WORDS+=("") && continue
		rest=$w
		while [ -n "$rest" ]; do
			if [[ $rest =~ ^([=:]+)(.*)$ || $rest =~ ^([^=:]+)(.*)$ ]]; then
				piece=${BASH_REMATCH[1]}
				rest=${BASH_REMATCH[2]}
				COMP_WORDS+=("$piece")
			fi
		done
	done
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	local fn
	fn=$(complete -p "$1" | sed -E 's/.* -F ([^ ]+) .*/\1/')
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}"
	return 0
}

# expect WORD... -- WANTED...: each WANTED is among the completions.
expect() {
	local words=() want got
	while [ "$1" != "--" ]; do
		words+=("$1")
		shift
	done
	shift
	got=$(comp "${words[@]}")
	for want in "$@"; do
		grep -qxF -- "$want" <<<"$got" ||
			bad "'${words[*]}': '$want' not offered (got: $(echo $got))"
	done
}
# expect_only WORD... -- EXACT...: the completions are exactly these.
expect_only() {
	local words=() got want
	while [ "$1" != "--" ]; do
		words+=("$1")
		shift
	done
	shift
	got=$(comp "${words[@]}" | sort)
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
	[ "$got" = "$want" ] || bad "'${words[*]}': got [$(echo $got)], want [$(echo $want)]"
}

# One by one, in a directory with a file and a subdirectory.
mkdir keys
: >guest.mem
: >keys/target.key
expect_only sevmig-dump h -- help host
expect sevmig-dump '' -- show diff merge convert host stream verify owners help
expect_only sevmig-dump help ve -- verify
expect sevmig-dump owners '' -- replay show project
expect_only sevmig-dump merge a b --to '' -- native text bitmap list
expect_only sevmig-dump show g -- guest.mem
expect_only sevmig-dump verify --pdh-key keys/ -- keys/target.key
expect_only sevmig-dump stream --json= -- pretty
expect_only sevmig-send --prog -- --progress
expect_only sevmig-send --progress '' -- auto bar json none
expect_only sevmig-send --progress=j -- json
expect_only sevmig-send --pstate gu -- guest.mem
expect_only sevmig-send -m 0:1G:gu -- guest.mem
expect_only sevmig-send --memory=4G:1G:g -- guest.mem
expect_only sevmig-send -m 0:1 --
expect_only sevmig-send -o t -- tcp:// tls://
expect_only sevmig-send --threads '' --
expect_only sevmig-recv --pstate-format t -- text
expect_only sevmig-recv --memory-dir '' -- keys
expect_only sevmig-recv -i - -- -
expect_only sevmig-recv --gen- -- --gen-pdh --gen-psk
rm -r keys guest.mem

# help_opts [WORDS]: the options a help text defines: those in its usage lines and
# those that open a definition line (indented at most 8 columns; a line is
# cut into columns at runs of 2+ spaces, and each column that starts with
# '-' counts, for "-h, --help   this help;  -V, --version"). Descriptions
# and examples may name other tools' options; they are not read. With
# WORDS ("owners show"), a help text that has usage lines for WORDS gives
# only those usage lines' options (one text may describe several
# subcommands, each usage line naming one).
help_opts() {
	local text
	text=$(cat)
	local only=0
	[ -n "${1:-}" ] && awk -v w=" $1( |$)" '/^usage:/ { u = 1 } u && /^[ \t]*$/ { u = 0 }
		u && $0 ~ w { f = 1 } END { exit !f }' <<<"$text" && only=1
	# Plain POSIX awk (mawk has no {m,n} intervals).
	awk -v only=$only -v w=" ${1:-}( |\$)" '
	/^usage:/ { u = 1 }
	u && /^[ \t]*$/ { u = 0 }
	{
		line = ""
		if (u) {
			if (!only || $0 ~ w)
				line = $0
		} else if (!only && match($0, /^ +-/) && RLENGTH <= 9) {
			n = split($0, col, /  +/)
			for (i = 1; i <= n; i++)
				if (col[i] ~ /^-/)
					line = line " " col[i]
		}
		while (match(line, /(^|[ ,[(|])--?[A-Za-z0-9][A-Za-z0-9-]*/)) {
			tok = substr(line, RSTART, RLENGTH)
			sub(/^[ ,[(|]/, "", tok)
			print tok
			line = substr(line, RSTART + RLENGTH)
		}
	}' <<<"$text" | sort -u
}

# offered_at WORD...: every option offered after WORD... ('-' completed).
offered_at() { comp "$@" -; }

# check_opts WHAT HELP LEVELS...: each option of WHAT's help text is offered
# at one of the LEVELS (a level: a command line, words split by '/'). WHAT
# "sevmig-dump CMD SUB" reads only SUB's usage lines where there are some.
check_opts() {
	local what=$1 helptext=$2 sub=""
	shift 2
	local opts o lvl all=""
	case $what in "sevmig-dump "*" "*) sub=${what#sevmig-dump } ;; esac
	opts=$(help_opts "$sub" <<<"$helptext")
	[ -n "$opts" ] || {
		bad "$what: no option found in its --help (has its format changed?)"
		return
	}
	for lvl in "$@"; do
		local words
		IFS=/ read -r -a words <<<"$lvl"
		all+=$(offered_at "${words[@]}")$'\n'
	done
	for o in $opts; do
		grep -qxF -- "$o" <<<"$all" || bad "$what --help lists $o; completion does not offer it"
	done
	nopts=$((nopts + $(wc -l <<<"$opts")))
}

nopts=0
for t in sevmig-send sevmig-recv; do
	h=$("$bin/$t" --help) || bad "$t --help failed"
	check_opts "$t" "$h" "$t"
done

# sevmig-dump: its commands, then each command's options. A command with
# subcommands (owners) may define its options under any of them.
h=$("$bin/sevmig-dump" --help) || bad "sevmig-dump --help failed"
cmds=$(awk '/^commands:/ { c = 1; next } c && /^[ \t]*$/ { c = 0 }
	c && /^  [a-z]/ && !seen[$1]++ { print $1 }' <<<"$h")
[ -n "$cmds" ] || bad "sevmig-dump --help lists no commands (has its format changed?)"
offered=$(comp sevmig-dump '')
for c in $cmds; do
	grep -qxF "$c" <<<"$offered" || bad "sevmig-dump --help lists '$c'; completion does not offer it"
done
helpable=$(comp sevmig-dump help '')
for c in $cmds; do
	[ "$c" = help ] && continue
	grep -qxF "$c" <<<"$helpable" || bad "'sevmig-dump help' does not complete '$c'"
	ch=$("$bin/sevmig-dump" "$c" --help 2>&1) || bad "sevmig-dump $c --help failed: $ch"
	# The completion's words after the command, in this empty directory,
	# are its subcommands (if any; else nothing, there being no files).
	subs=$(comp sevmig-dump "$c" '')
	levels=("sevmig-dump/$c")
	for s in $subs; do
		levels+=("sevmig-dump/$c/$s")
		sh=$("$bin/sevmig-dump" "$c" "$s" --help 2>/dev/null) &&
			check_opts "sevmig-dump $c $s" "$sh" "sevmig-dump/$c/$s"
	done
	check_opts "sevmig-dump $c" "$ch" "${levels[@]}"
done
extra=""
for c in $offered; do
	grep -qxF "$c" <<<"$cmds" || extra+=" $c"
done
[ -z "$extra" ] || echo "note: completion offers commands sevmig-dump --help does not list:$extra"

# A real readline session, where what matters is the text readline puts on
# the line (the part after '=' or ':' being replaced).
if command -v python3 >/dev/null; then
	python3 - "$script" <<'EOF' || fail=1
import os, pty, select, sys, time

script = sys.argv[1]
cases = [
    ("sevmig-send --progress=j", "sevmig-send --progress=json "),
    ("sevmig-send -m 0:1G:gues", "sevmig-send -m 0:1G:guest.mem "),
    ("sevmig-dump ow", "sevmig-dump owners "),
    ("sevmig-recv --pstate-format b", "sevmig-recv --pstate-format binary "),
]
open("guest.mem", "w").close()
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "dumb"
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])

def read(until, timeout=5.0):
    out = b""
    end = time.time() + timeout
    while time.time() < end and until not in out:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out

# Ctrl-T prints the line being edited between markers (bind -x sees it as
# READLINE_LINE); Ctrl-U then clears it for the next case.
os.write(fd, b"bind 'set bell-style none'; PS1='>'\n")
os.write(fd, b"bind -x '\"\\C-t\": printf \"@@%s@@\\n\" \"$READLINE_LINE\"'\n")
os.write(fd, b". '" + script.encode() + b"'; echo ready\n")
read(b"ready\r\n>")
bad = 0
for typed, want in cases:
    os.write(fd, typed.encode() + b"\t")
    time.sleep(0.2)
    os.write(fd, b"\x14")
    out = read(b"@@\r\n").decode(errors="replace")
    os.write(fd, b"\x15")
    parts = out.split("@@")
    line = parts[-2] if len(parts) >= 3 else None
    if line != want:
        print("FAIL: readline: typed %r<TAB>, got %r, want %r" % (typed, line, want))
        bad = 1
os.write(fd, b"exit\n")
os.waitpid(pid, 0)
sys.exit(bad)
EOF
else
	echo "note: no python3, the readline session was not run"
fi

[ $fail = 0 ] || exit 1
echo "completion ok: $nopts options from the tools' --help all offered"
