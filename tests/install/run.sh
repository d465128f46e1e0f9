#!/usr/bin/env bash
# Install the build into a fresh prefix and use it as a distribution's user
# would: the installed tools run at once (no LD_LIBRARY_PATH, no ldconfig),
# also after the prefix is moved; everything is where the GNU dirs say;
# consumers build through pkg-config (whose flags leak no dependency's
# include path) and through each component of find_package(sevmig), and a
# missing component is refused with a message.
# usage: run.sh BUILD_DIR TESTS_INSTALL_DIR SOURCE_DIR
set -eu
build=$1
here=$2
src=$3
unset LD_LIBRARY_PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
libdir_rel=$(cache CMAKE_INSTALL_LIBDIR)
case $libdir_rel in /*) fail "CMAKE_INSTALL_LIBDIR is absolute ($libdir_rel): this test installs into a temporary prefix" ;; esac
version=$(sed -n 's/^#define SEVMIG_VERSION_STRING "\(.*\)"/\1/p' "$build/include/sevmig/version.h")
[ -n "$version" ] || fail "no SEVMIG_VERSION_STRING in $build/include/sevmig/version.h"

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$prefix/$libdir_rel
doc=$prefix/share/doc/sevmig

# The layout.
for f in include/sevmig/sevmig.h include/sevmig/version.h \
	"$libdir_rel/libsevmig.so.0" "$libdir_rel/libsevmig.so" "$libdir_rel/libsevmig.a" \
	"$libdir_rel/pkgconfig/sevmig.pc" "$libdir_rel/cmake/sevmig/sevmigConfig.cmake" \
	"$libdir_rel/cmake/sevmig/sevmigConfigVersion.cmake" \
	"$libdir_rel/cmake/sevmig/sevmigSharedTargets.cmake" \
	"$libdir_rel/cmake/sevmig/sevmigStaticTargets.cmake" \
	"$libdir_rel/cmake/sevmig/sevmigToolsTargets.cmake" \
	share/doc/sevmig/LICENSE share/doc/sevmig/README.md; do
	test -e "$prefix/$f" || fail "$f not installed"
done
for m in sevmig-dump sevmig-send sevmig-recv; do
	test -x "$prefix/bin/$m" || fail "$m not installed"
	test -f "$prefix/share/man/man1/$m.1" || fail "man page $m.1 not installed"
	cmp -s "$src/cli/completion/sevmig.bash" "$prefix/share/bash-completion/completions/$m" ||
		fail "share/bash-completion/completions/$m is not cli/completion/sevmig.bash"
done
for f in "$src"/docs/*.md; do
	test -f "$doc/${f##*/}" || fail "docs/${f##*/} not installed in share/doc/sevmig"
done
for f in "$src"/examples/*.c; do
	test -f "$doc/examples/${f##*/}" || fail "examples/${f##*/} not installed in share/doc/sevmig/examples"
done
# What only the Debian packages carry stays out of a plain install.
for d in libsevmig0 libsevmig-dev sevmig-tools; do
	test ! -e "$prefix/share/doc/$d" || fail "a plain install has share/doc/$d (a package-only file)"
done
test ! -e "$prefix/share/man/man1/sevmig-dump.1.gz" || fail "a plain install has the packages' gzipped man pages"

# The installed tools find the installed library through their RUNPATH.
if command -v readelf >/dev/null; then
	rel=$(realpath --relative-to="$prefix/bin" "$libdir")
	for m in sevmig-dump sevmig-send sevmig-recv; do
		dyn=$(readelf -d "$prefix/bin/$m")
		grep -qF "Library runpath: [\$ORIGIN/$rel]" <<<"$dyn" ||
			fail "$m: no RUNPATH \$ORIGIN/$rel: $(grep -E 'R(UN)?PATH' <<<"$dyn")"
	done
fi
run_tools() { # run_tools PREFIX: the installed tools, run for real
	local p=$1 w=$tmp/work
	rm -rf "$w"
	mkdir "$w"
	for m in sevmig-dump sevmig-send sevmig-recv; do
		out=$("$p/bin/$m" --version) || fail "$p/bin/$m --version failed: $out"
		[ "$out" = "$m $version" ] || fail "$p/bin/$m --version says '$out', not '$m $version'"
		where=$(LD_TRACE_LOADED_OBJECTS=1 "$p/bin/$m" | awk '$1 == "libsevmig.so.0" { print $3 }')
		case $where in "$p"/*) ;; *) fail "$p/bin/$m loads libsevmig.so.0 from '$where'" ;; esac
	done
	printf '0x0-0xf private\n0x10-0x1f shared\n0x20-0xff private\n' >"$w/guest.txt"
	"$p/bin/sevmig-dump" convert "$w/guest.txt" --to native -o "$w/guest.pst"
	"$p/bin/sevmig-dump" show "$w/guest.pst" >"$w/show.txt"
	grep -q 256 "$w/show.txt" || fail "sevmig-dump show: $(cat "$w/show.txt")"
	"$p/bin/sevmig-recv" --gen-pdh --pdh-key "$w/t.key" --pdh-cert "$w/t.cert" >/dev/null
	"$p/bin/sevmig-recv" --gen-psk "$w/s.psk" >/dev/null
	head -c 1048576 /dev/urandom >"$w/guest.mem"
	"$p/bin/sevmig-send" -q -m 0:1M:"$w/guest.mem" -p "$w/guest.pst" -t "$w/t.cert" --psk "$w/s.psk" |
		"$p/bin/sevmig-recv" -q -k "$w/t.key" --psk "$w/s.psk" -m 0:1M:"$w/copy.mem"
	cmp -s "$w/guest.mem" "$w/copy.mem" || fail "send | recv with the tools in $p: the copy differs"
}
run_tools "$prefix"
# Moved elsewhere, the tree still works: RUNPATH and the .pc are relative.
mv "$prefix" "$tmp/moved"
prefix=$tmp/moved
libdir=$prefix/$libdir_rel
doc=$prefix/share/doc/sevmig
run_tools "$prefix"

bash "$here/completion.sh" "$prefix/share/bash-completion/completions/sevmig-send" "$prefix/bin" |
	tail -1

# pkg-config: no dependency's include path; the private ones for static links.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cflags=$(pkg-config --cflags sevmig)
set -- $cflags
[ $# = 1 ] && [ "${1#-I}" != "$1" ] && [ "$(realpath "${1#-I}")" = "$prefix/include" ] ||
	fail "pkg-config --cflags sevmig: '$cflags', want -I$prefix/include only"
static_libs=" $(pkg-config --static --libs sevmig) "
for l in -lsevmig -luuid -lssl -lcrypto -lzstd; do
	[[ $static_libs == *" $l "* ]] || fail "pkg-config --static --libs sevmig lacks $l: $static_libs"
done
reqs=$(pkg-config --print-requires-private sevmig | awk '{ print $1 }' | sort | tr '\n' ' ')
[ "$reqs" = "libcrypto libssl libzstd " ] || fail "Requires.private: '$reqs'"
cc -std=c11 $cflags "$here/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --libs sevmig)
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc"
cc -std=c11 $cflags "$here/consumer.c" -o "$tmp/consumer_pc_static" \
	"$libdir/libsevmig.a" $(pkg-config --libs --static sevmig | sed 's/-lsevmig//')
"$tmp/consumer_pc_static"
# An installed example builds against the installed library.
cc -std=c11 $cflags "$doc/examples/pstate_basics.c" -o "$tmp/pstate_basics" $(pkg-config --libs sevmig)
LD_LIBRARY_PATH=$libdir "$tmp/pstate_basics" >/dev/null || fail "the installed examples/pstate_basics.c failed"
unset PKG_CONFIG_PATH

# find_package(sevmig): each component, and none.
consumer() { # consumer NAME PREFIX COMPONENT: configure the consumer project
	cmake -S "$here" -B "$tmp/$1" -DCMAKE_PREFIX_PATH="$2" -DSEVMIG_COMPONENT="$3" \
		-DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$tmp/$1.log" 2>&1
}
for comp in "" shared static tools; do
	name=cmake_${comp:-none}
	consumer "$name" "$prefix" "$comp" || fail "find_package(sevmig COMPONENTS $comp): $(cat "$tmp/$name.log")"
	cmake --build "$tmp/$name" >"$tmp/$name.build.log" 2>&1 || fail "building $name: $(cat "$tmp/$name.build.log")"
	b=$tmp/$name
	case $comp in
	shared) LD_LIBRARY_PATH=$libdir "$b/consumer_cmake" ;;
	static)
		"$b/consumer_cmake_static"
		# The static library's dependencies are linked, not compiled with.
		! grep -q 'include/uuid' "$b/compile_commands.json" ||
			fail "sevmig::sevmig_static passes libuuid's include path to its consumers"
		;;
	tools)
		[ "$(wc -l <"$b/tool_version.txt")" = 3 ] || fail "tools component: $(cat "$b/tool_version.txt")"
		;;
	"")
		LD_LIBRARY_PATH=$libdir "$b/consumer_cmake"
		"$b/consumer_cmake_static"
		grep -q "shared TRUE, static TRUE, tools TRUE" "$tmp/$name.log" ||
			fail "find_package(sevmig) without components: $(grep 'sevmig ' "$tmp/$name.log")"
		;;
	esac
done
! consumer cmake_bogus "$prefix" bogus || fail "find_package(sevmig COMPONENTS bogus) succeeded"
# (CMake wraps the message's lines.)
flat() { tr -s ' \n' '  ' <"$1"; }
flat "$tmp/cmake_bogus.log" | grep -q "component 'bogus': there is no such component" ||
	fail "COMPONENTS bogus: $(cat "$tmp/cmake_bogus.log")"

# A prefix with the library packages' files but not the tools'.
part=$tmp/part
cmake --install "$build" --prefix "$part" --component libs >/dev/null
cmake --install "$build" --prefix "$part" --component dev >/dev/null
test ! -e "$part/bin/sevmig-dump" || fail "--component dev installed the tools"
! consumer cmake_part_tools "$part" tools || fail "COMPONENTS tools found without the tools installed"
flat "$tmp/cmake_part_tools.log" | grep -q "component 'tools': not installed: .*install sevmig-tools" ||
	fail "COMPONENTS tools without them: $(cat "$tmp/cmake_part_tools.log")"
consumer cmake_part_shared "$part" shared || fail "COMPONENTS shared in $part: $(cat "$tmp/cmake_part_shared.log")"
consumer cmake_part_none "$part" "" || fail "no COMPONENTS in $part: $(cat "$tmp/cmake_part_none.log")"
grep -q "shared TRUE, static TRUE, tools FALSE" "$tmp/cmake_part_none.log" ||
	fail "without components in $part: $(grep 'sevmig ' "$tmp/cmake_part_none.log")"
echo "install consumers ok"
