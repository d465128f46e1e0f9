#!/usr/bin/env bash
# Install what building and testing libsevmig needs on Debian 12, when it is
# missing. Runs apt-get as root, or through sudo.
set -euo pipefail
# clang and libclang-rt-dev (libFuzzer and clang's sanitizer runtimes, only
# recommended by clang) build the fuzz targets.
# dpkg-dev (dpkg-shlibdeps), file and lintian build and check the Debian
# packages (tests/install/deb.sh). openssl (the command) makes the TLS
# tests' and the demo's certificates.
pkgs=(gcc g++ make cmake ninja-build pkg-config binutils python3 openssl
      libssl-dev uuid-dev libzstd-dev libcmocka-dev clang libclang-rt-dev
      dpkg-dev file lintian)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing build dependencies: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
