#!/usr/bin/env bash
# Install the build into a temporary prefix, then build and run a consumer
# through pkg-config and through find_package(sevmig), shared and static.
set -eu
build=$1; here=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name sevmig.pc | head -1)")/..
libdir=$(cd "$libdir" && pwd)
test -f "$prefix/include/sevmig/sevmig.h"
test -f "$prefix/include/sevmig/version.h"
for m in sevmig-dump sevmig-send sevmig-recv; do
  test -f "$prefix/share/man/man1/$m.1" || { echo "man page $m.1 not installed"; exit 1; }
  test -x "$prefix/bin/$m" || { echo "$m not installed"; exit 1; }
done

export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -std=c11 $(pkg-config --cflags sevmig) "$here/consumer.c" -o "$tmp/consumer_pc" $(pkg-config --libs sevmig)
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc"
cc -std=c11 $(pkg-config --cflags sevmig) "$here/consumer.c" -o "$tmp/consumer_pc_static" \
   "$libdir/libsevmig.a" $(pkg-config --libs --static sevmig | sed 's/-lsevmig//')
"$tmp/consumer_pc_static"

cmake -S "$here" -B "$tmp/cbuild" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cbuild" >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/cbuild/consumer_cmake"
"$tmp/cbuild/consumer_cmake_static"
echo "install consumers ok"
