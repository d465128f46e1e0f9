# Bash completion for sevmig-dump, sevmig-send and sevmig-recv.
# SPDX-License-Identifier: MIT
#
# One file for the three tools: it is installed under each tool's name in
# share/bash-completion/completions, where bash-completion loads it the first
# time one of them is completed, and it registers all three. It needs only
# bash itself, not the bash-completion package's helpers.
#
# tests/install/completion.sh checks that every option each tool's --help
# lists is offered here: a new option fails that test until it is added.

# bash splits a word at the characters of COMP_WORDBREAKS ('=' and ':' among
# them), so --json=pretty and 0:1G:guest.mem arrive in pieces. Join them
# back: a piece made only of '=' and ':' glues its neighbours together.
# Sets _sevmig_w (the words), _sevmig_cw (the current word's index): locals
# of the completion function (_sevmig_dump, ...), as is _sevmig_c.
_sevmig_words()
{
	_sevmig_w=()
	_sevmig_cw=0
	local i w glue=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		if ((i > 0)) && [[ -n $w && $w != *[!=:]* ]]; then
			_sevmig_w[${#_sevmig_w[@]} - 1]+=$w
			glue=1
		elif ((glue)); then
			_sevmig_w[${#_sevmig_w[@]} - 1]+=$w
			glue=0
		else
			_sevmig_w+=("$w")
		fi
		((i == COMP_CWORD)) && _sevmig_cw=$((${#_sevmig_w[@]} - 1))
	done
	# The cursor after the last word: a new, empty word.
	if ((COMP_CWORD >= ${#COMP_WORDS[@]})); then
		_sevmig_w+=("")
		_sevmig_cw=$((${#_sevmig_w[@]} - 1))
	fi
}

# Replies are built as whole words; readline replaces only the text after the
# last word-break character, so drop what comes before it.
# _sevmig_reply WORD CANDIDATE...
_sevmig_reply()
{
	local cur=$1 pre="" c
	shift
	local breaks=""
	[[ $COMP_WORDBREAKS == *=* ]] && breaks+="="
	[[ $COMP_WORDBREAKS == *:* ]] && breaks+=":"
	if [[ -n $breaks && $cur == *["$breaks"]* ]]; then
		pre=${cur%"${cur##*["$breaks"]}"}
	fi
	COMPREPLY=()
	for c in "$@"; do
		[[ $c == "$cur"* ]] && COMPREPLY+=("${c#"$pre"}")
	done
}

# _sevmig_values KIND PREFIX VALUE: candidates for an option's value, as
# PREFIX followed by the value, in the array _sevmig_c.
#   file, dir        paths
#   memspec          GPA:SIZE:FILE[:OFFSET], paths for FILE
#   endpoint         '-', paths, tcp://, tls://
#   "word word ..."  one of those words
#   none             nothing (a number, a name)
_sevmig_values()
{
	local kind=$1 pre=$2 val=$3 line
	_sevmig_c=()
	case $kind in
	file | dir | endpoint)
		compopt -o filenames 2>/dev/null
		local flag=-f
		[[ $kind == dir ]] && flag=-d
		if [[ $kind == endpoint ]]; then
			local e
			for e in - tcp:// tls://; do
				[[ $e == "$val"* ]] && _sevmig_c+=("$pre$e")
			done
			[[ $val == tcp:* || $val == tls:* ]] && compopt -o nospace 2>/dev/null
			[[ $val == tcp:* || $val == tls:* ]] && return
		fi
		while IFS= read -r line; do
			_sevmig_c+=("$pre$line")
		done < <(compgen "$flag" -- "$val")
		;;
	memspec)
		# Only FILE, the third field, is completed.
		local fields=${val//[!:]/}
		if ((${#fields} == 2)); then
			compopt -o filenames 2>/dev/null
			local head=${val%:*}:
			while IFS= read -r line; do
				_sevmig_c+=("$pre$head$line")
			done < <(compgen -f -- "${val##*:}")
		fi
		;;
	none) ;;
	*)
		local w
		for w in $kind; do
			[[ $w == "$val"* ]] && _sevmig_c+=("$pre$w")
		done
		;;
	esac
}

# _sevmig_complete FLAGS VALUED POSITIONAL: the usual option-or-value logic
# over _sevmig_w. FLAGS: the options without a value. VALUED: lines
# "OPTION KIND" for the options that take one (KIND as for _sevmig_values).
# OPTIONAL: "OPTION:VALUE,VALUE" for the options whose value, if any, is
# attached with '=' ("--json:pretty"). POSITIONAL: the KIND of the operands.
_sevmig_complete()
{
	local flags=$1 valued=$2 optional=$3 positional=$4
	local cur=${_sevmig_w[_sevmig_cw]} prev="" kind="" opt o k o2
	((_sevmig_cw > 0)) && prev=${_sevmig_w[_sevmig_cw - 1]}

	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		while read -r o k; do
			[[ $o == "$opt" ]] && kind=$k
		done <<<"$valued"
		for o2 in $optional; do
			[[ ${o2%%:*} == "$opt" ]] && kind=${o2#*:} && kind=${kind//,/ }
		done
		_sevmig_values "${kind:-none}" "$opt=" "${cur#*=}"
		_sevmig_reply "$cur" "${_sevmig_c[@]}"
		return
	fi
	if [[ $prev == -* ]]; then
		while read -r o k; do
			[[ -n $o && $o == "$prev" ]] && kind=${k:-none}
		done <<<"$valued"
		if [[ -n $kind ]]; then
			_sevmig_values "$kind" "" "$cur"
			_sevmig_reply "$cur" "${_sevmig_c[@]}"
			return
		fi
	fi
	if [[ $cur == -* ]]; then
		local all=()
		for o in $flags; do all+=("$o"); done
		while read -r o k; do
			[[ -n $o ]] && all+=("$o")
		done <<<"$valued"
		for o2 in $optional; do all+=("${o2%%:*}"); done
		_sevmig_reply "$cur" "${all[@]}"
		return
	fi
	_sevmig_values "${positional:-none}" "" "$cur"
	_sevmig_reply "$cur" "${_sevmig_c[@]}"
}

_sevmig_dump_commands="show diff merge convert host stream verify owners help"

_sevmig_dump()
{
	local -a _sevmig_w _sevmig_c
	local _sevmig_cw
	_sevmig_words
	local cmd="" sub="" i
	for ((i = 1; i < _sevmig_cw; i++)); do
		if [[ -z $cmd && ${_sevmig_w[i]} != -* ]]; then
			cmd=${_sevmig_w[i]}
		elif [[ $cmd == owners && -z $sub && ${_sevmig_w[i]} != -* ]]; then
			sub=${_sevmig_w[i]}
		fi
	done
	local cur=${_sevmig_w[_sevmig_cw]}
	local forms="native text bitmap list"
	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			_sevmig_reply "$cur" --help -h --version
		else
			_sevmig_values "$_sevmig_dump_commands" "" "$cur"
			_sevmig_reply "$cur" "${_sevmig_c[@]}"
		fi
		;;
	help)
		if ((_sevmig_cw == 2)); then
			_sevmig_values "${_sevmig_dump_commands% help}" "" "$cur"
			_sevmig_reply "$cur" "${_sevmig_c[@]}"
		fi
		;;
	show) _sevmig_complete "--ranges --help -h" "" "--json:pretty" file ;;
	diff) _sevmig_complete "--quiet -q --help -h" "" "--json:pretty" file ;;
	merge)
		_sevmig_complete "--union --intersect --overlay --help -h" \
			"-o file
--output file
--to $forms
--zstd none" "" file
		;;
	convert)
		_sevmig_complete "--list --help -h" \
			"-o file
--output file
--to $forms
--base-gfn none
--pages none
--zstd none" "" file
		;;
	host)
		_sevmig_complete "--help -h" "--kvm file
--sev file" "--json:pretty" none
		;;
	stream) _sevmig_complete "--help -h" "--psk file" "--json:pretty" file ;;
	verify)
		_sevmig_complete "--quiet -q --help -h" \
			"--pdh-key file
--psk file
--threads none" "--json:pretty" file
		;;
	owners)
		case $sub in
		"")
			if [[ $cur == -* ]]; then
				_sevmig_reply "$cur" --help -h
			else
				_sevmig_values "replay show project" "" "$cur"
				_sevmig_reply "$cur" "${_sevmig_c[@]}"
			fi
			;;
		replay)
			_sevmig_complete "--help -h" "-o file
--output file" "" file
			;;
		show) _sevmig_complete "--json --help -h" "" "" file ;;
		project)
			# MAP, then the guest (guest:N), then -o PSTATE.
			_sevmig_complete "--help -h" "-o file
--output file
--to native text" "" file
			;;
		*) _sevmig_complete "--help -h" "" "" file ;;
		esac
		;;
	*) _sevmig_complete "--help -h" "" "" file ;;
	esac
}

# The options sevmig-send and sevmig-recv share (cli/common/xfer.h).
_sevmig_xfer_flags="--insecure --quiet -q --help -h --version -V"
_sevmig_xfer_valued="-m memspec
--memory memspec
-T none
--threads none
--timeout none
--progress auto bar json none
--psk file
--tls-cert file
--tls-key file
--tls-ca file
--tls-peer-name none
--tls-pin none"

_sevmig_send()
{
	local -a _sevmig_w _sevmig_c
	local _sevmig_cw
	_sevmig_words
	_sevmig_complete "$_sevmig_xfer_flags" "$_sevmig_xfer_valued
-p file
--pstate file
-t file
--target-pdh file
--policy none
--vmsa file
--pdh-key file
-o endpoint
--output endpoint
-z none
--zstd-level none" "--json:pretty" none
}

_sevmig_recv()
{
	local -a _sevmig_w _sevmig_c
	local _sevmig_cw
	_sevmig_words
	_sevmig_complete "$_sevmig_xfer_flags --gen-pdh --export-pdh --force" "$_sevmig_xfer_valued
-i endpoint
--input endpoint
-k file
--pdh-key file
-c file
--pdh-cert file
-d dir
--memory-dir dir
-s file
--pstate-out file
--pstate-format binary text
--vmsa-dir dir
--port-file file
--gen-psk file
--max-attempts none
--auth-timeout none" "--json:pretty" none
}

complete -F _sevmig_dump sevmig-dump
complete -F _sevmig_send sevmig-send
complete -F _sevmig_recv sevmig-recv
