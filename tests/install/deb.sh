#!/usr/bin/env bash
# The Debian packages (pkgconfig/debian.cmake), built as a packager would:
# a Release tree configured for /usr with dpkg-buildflags, `cpack -G DEB`.
# Checks each package's fields and contents and runs lintian (no errors);
# then, as root, installs them with dpkg -i, runs the installed tools, builds
# and runs consumers against the installed -dev package (pkg-config and
# CMake), and removes them again. The removal runs whatever happens (trap),
# and the test touches nothing that was there before: it skips (77) when a
# package of these names is installed or one of their files exists.
# usage: deb.sh SOURCE_DIR TESTS_INSTALL_DIR
set -eu
src=$1
here=$2
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH
pkgs=(libsevmig0 libsevmig-dev sevmig-tools)
tmp=$(mktemp -d)
installed=0
cleanup() {
	local rc=$?
	if [ $installed = 1 ]; then
		dpkg --purge sevmig-tools libsevmig-dev libsevmig0 >"$tmp/purge.log" 2>&1 ||
			{ echo "FAIL: dpkg --purge: $(cat "$tmp/purge.log")"; rc=1; }
		for f in $(cat "$tmp/files" "$tmp/dirs"); do
			[ ! -e "$f" ] && [ ! -L "$f" ] || { echo "FAIL: $f is left after dpkg --purge"; rc=1; }
		done
		dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | grep -q ' installed$' &&
			{ echo "FAIL: still installed after dpkg --purge"; rc=1; }
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
	echo "FAIL: $*"
	exit 1
}
for t in cmake cpack dpkg-deb dpkg-shlibdeps dpkg-buildflags lintian file readelf; do
	command -v $t >/dev/null || fail "$t is missing (tests/deps.sh installs it)"
done

# Build.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
b=$tmp/build
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	LDFLAGS=$(dpkg-buildflags --get LDFLAGS) \
	cmake -S "$src" -B "$b" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DSEVMIG_BUILD_TESTS=OFF -DSEVMIG_BUILD_EXAMPLES=OFF >"$tmp/configure.log" 2>&1 ||
	fail "configure: $(cat "$tmp/configure.log")"
cmake --build "$b" -j2 >"$tmp/build.log" 2>&1 || fail "build: $(tail -30 "$tmp/build.log")"
(cd "$b" && cpack -G DEB) >"$tmp/cpack.log" 2>&1 || fail "cpack: $(cat "$tmp/cpack.log")"
echo "built the packages in ${SECONDS}s"
version=$(sed -n 's/^#define SEVMIG_VERSION_STRING "\(.*\)"/\1/p' "$b/include/sevmig/version.h")
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
lib=usr/lib/$multiarch
debs=()
for p in "${pkgs[@]}"; do
	d=$b/${p}_${version}_${arch}.deb
	test -f "$d" || fail "no $d: $(ls "$b"/*.deb 2>&1)"
	debs+=("$d")
done

# Fields and contents.
field() { dpkg-deb -f "$1" "$2"; }
has() { # has DEB PATH...: the package holds each PATH (./ relative)
	local d=$1 f
	shift
	for f in "$@"; do
		grep -qxF "./$f" "$tmp/$(basename "$d").list" || fail "$(basename "$d") lacks /$f"
	done
}
for d in "${debs[@]}"; do
	dpkg-deb -c "$d" | awk '{ print $6 }' >"$tmp/$(basename "$d").list"
	p=$(field "$d" Package)
	[ "$(field "$d" Version)" = "$version" ] || fail "$p: version $(field "$d" Version), not $version"
	has "$d" "usr/share/doc/$p/copyright" "usr/share/doc/$p/changelog.gz"
	dpkg-deb --fsys-tarfile "$d" | tar -xO "./usr/share/doc/$p/changelog.gz" | gzip -dc | head -1 |
		grep -q "^sevmig ($version) " || fail "$p: the changelog's first entry is not version $version"
	dpkg-deb --fsys-tarfile "$d" | tar -xO "./usr/share/doc/$p/copyright" |
		grep -q '^License: Expat' || fail "$p: copyright has no License: Expat"
	syn=$(field "$d" Description | head -1)
	[ -n "$syn" ] && [ ${#syn} -le 80 ] || fail "$p: synopsis '$syn'"
done
d_lib=${debs[0]} d_dev=${debs[1]} d_tools=${debs[2]}
[ "$(field "$d_lib" Section)" = libs ] || fail "libsevmig0: section $(field "$d_lib" Section)"
[ "$(field "$d_dev" Section)" = libdevel ] || fail "libsevmig-dev: section $(field "$d_dev" Section)"
[ "$(field "$d_tools" Section)" = admin ] || fail "sevmig-tools: section $(field "$d_tools" Section)"
# dpkg-shlibdeps found the library's own dependencies.
dep_lib=$(field "$d_lib" Depends)
for p in libc6 libssl3 libuuid1 libzstd1; do
	[[ $dep_lib == *"$p "* ]] || fail "libsevmig0 Depends lacks $p: $dep_lib"
done
[[ $(field "$d_tools" Depends) == *"libsevmig0 (= $version)"* ]] ||
	fail "sevmig-tools Depends: $(field "$d_tools" Depends)"
[[ $(field "$d_tools" Depends) == *"libc6 "* ]] || fail "sevmig-tools Depends: $(field "$d_tools" Depends)"
[[ $(field "$d_dev" Depends) == *"libsevmig0 (= $version)"* ]] ||
	fail "libsevmig-dev Depends: $(field "$d_dev" Depends)"
dpkg-deb -I "$d_lib" shlibs | grep -qx "libsevmig 0 libsevmig0 (>= $version)" ||
	fail "libsevmig0 shlibs: $(dpkg-deb -I "$d_lib" shlibs)"
dpkg-deb -I "$d_lib" triggers | grep -qx "activate-noawait ldconfig" || fail "libsevmig0 has no ldconfig trigger"
has "$d_lib" "$lib/libsevmig.so.0"
! grep -qE '\.a$|/include/|\.pc$|libsevmig\.so$|/bin/' "$tmp/$(basename "$d_lib").list" ||
	fail "libsevmig0 holds development files or tools"
has "$d_dev" usr/include/sevmig/sevmig.h usr/include/sevmig/version.h "$lib/libsevmig.a" \
	"$lib/libsevmig.so" "$lib/pkgconfig/sevmig.pc" "$lib/cmake/sevmig/sevmigConfig.cmake" \
	"$lib/cmake/sevmig/sevmigSharedTargets.cmake" "$lib/cmake/sevmig/sevmigStaticTargets.cmake" \
	usr/share/doc/sevmig/stream-format.md usr/share/doc/sevmig/examples/pstate_basics.c
! grep -qE 'libsevmig\.so\.0|/bin/|ToolsTargets' "$tmp/$(basename "$d_dev").list" ||
	fail "libsevmig-dev holds the run-time library or the tools"
for m in sevmig-dump sevmig-send sevmig-recv; do
	has "$d_tools" "usr/bin/$m" "usr/share/man/man1/$m.1.gz" "usr/share/bash-completion/completions/$m"
done
has "$d_tools" "$lib/cmake/sevmig/sevmigToolsTargets.cmake"

lintian --tag-display-limit 0 "${debs[@]}" >"$tmp/lintian.log" 2>&1 || true
grep -q '^E: ' "$tmp/lintian.log" && fail "lintian errors:
$(cat "$tmp/lintian.log")"
if grep -q '^W: ' "$tmp/lintian.log"; then
	grep '^W: ' "$tmp/lintian.log" | sed 's/^/lintian: /'
fi
echo "built and checked: ${pkgs[*]}; lintian: no errors (${SECONDS}s)"

# Install, use and remove.
if [ "$(id -u)" != 0 ]; then
	echo "skipped: installing the packages needs root (dpkg -i)"
	exit 77
fi
# One run at a time on this machine, and nothing of ours there already.
lockdir=/run/lock
[ -d $lockdir ] || lockdir=/tmp
exec 9>"$lockdir/sevmig-deb-test.lock"
flock -w 600 9 || fail "another run holds $lockdir/sevmig-deb-test.lock"
for p in "${pkgs[@]}"; do
	if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$'; then
		echo "skipped: $p is installed already; this test does not touch it"
		exit 77
	fi
done
cat "$tmp"/*.deb.list | sed -n 's|^\./|/|p' | grep -v '/$' | sort -u >"$tmp/files"
for f in $(cat "$tmp/files"); do
	if [ -e "$f" ] || [ -L "$f" ]; then
		echo "skipped: $f exists (an earlier install?); dpkg -i would replace it"
		exit 77
	fi
done
# The directories the packages would make, to see them go again.
cat "$tmp"/*.deb.list | sed -n 's|^\./\(.*[^/]\)/$|/\1|p' | sort -u | while read -r dir; do
	[ -e "$dir" ] || echo "$dir"
done >"$tmp/dirs"
installed=1
for try in 1 2 3 4 5 6; do
	dpkg -i "${debs[@]}" >"$tmp/dpkg.log" 2>&1 && break
	grep -qi 'lock' "$tmp/dpkg.log" || fail "dpkg -i: $(cat "$tmp/dpkg.log")"
	sleep 5 # apt or dpkg busy elsewhere
done
dpkg-query -W -f='${Status}\n' sevmig-tools | grep -q ' installed$' || fail "dpkg -i: $(cat "$tmp/dpkg.log")"

# The tools, from /usr/bin, on the system's library.
w=$tmp/work
mkdir "$w"
for m in sevmig-dump sevmig-send sevmig-recv; do
	out=$("/usr/bin/$m" --version) || fail "/usr/bin/$m --version: $out"
	[ "$out" = "$m $version" ] || fail "/usr/bin/$m --version: '$out'"
done
where=$(LD_TRACE_LOADED_OBJECTS=1 /usr/bin/sevmig-dump | awk '$1 == "libsevmig.so.0" { print $3 }')
[ "$(realpath "$where")" = "$(realpath "/$lib/libsevmig.so.0")" ] || fail "sevmig-dump loads '$where'"
printf '0x0-0xf private\n0x10-0x1f shared\n0x20-0xff private\n' >"$w/g.txt"
/usr/bin/sevmig-dump convert "$w/g.txt" --to native -o "$w/g.pst"
/usr/bin/sevmig-dump show "$w/g.pst" | grep -q 256 || fail "sevmig-dump show"
/usr/bin/sevmig-recv --gen-pdh --pdh-key "$w/t.key" --pdh-cert "$w/t.cert" >/dev/null
/usr/bin/sevmig-recv --gen-psk "$w/s.psk" >/dev/null
head -c 1048576 /dev/urandom >"$w/g.mem"
/usr/bin/sevmig-send -q -m 0:1M:"$w/g.mem" -p "$w/g.pst" -t "$w/t.cert" --psk "$w/s.psk" |
	/usr/bin/sevmig-recv -q -k "$w/t.key" --psk "$w/s.psk" -m 0:1M:"$w/copy.mem"
cmp -s "$w/g.mem" "$w/copy.mem" || fail "installed send | recv: the copy differs"
bash -c '. /usr/share/bash-completion/completions/sevmig-dump && complete -p sevmig-recv' >/dev/null ||
	fail "the installed completion does not load"
if command -v man >/dev/null; then
	man -w sevmig-send >/dev/null 2>&1 || fail "man -w sevmig-send finds no page"
fi

# Consumers of the installed -dev package, with no path given.
cflags=$(pkg-config --cflags sevmig)
[[ $cflags != *uuid* ]] || fail "pkg-config --cflags sevmig: $cflags"
cc -std=c11 $cflags "$here/consumer.c" -o "$w/consumer" $(pkg-config --libs sevmig)
"$w/consumer" >/dev/null || fail "the pkg-config consumer failed"
cc -std=c11 $cflags "$here/consumer.c" -o "$w/consumer_static" -Wl,-Bstatic -lsevmig -Wl,-Bdynamic \
	$(pkg-config --static --libs sevmig | sed 's/-lsevmig//')
"$w/consumer_static" >/dev/null || fail "the static pkg-config consumer failed"
cmake -S "$here" -B "$w/cmake" >"$w/cmake.log" 2>&1 || fail "find_package(sevmig): $(cat "$w/cmake.log")"
grep -q "shared TRUE, static TRUE, tools TRUE" "$w/cmake.log" || fail "find_package(sevmig): $(cat "$w/cmake.log")"
cmake --build "$w/cmake" >"$w/cmake-build.log" 2>&1 || fail "consumer build: $(cat "$w/cmake-build.log")"
"$w/cmake/consumer_cmake" >/dev/null && "$w/cmake/consumer_cmake_static" >/dev/null ||
	fail "the CMake consumers failed"
echo "deb packages ok: built, lintian-clean, installed, used and removed (${SECONDS}s)"
