#!/bin/sh
# Installs the Debian packages bulletin needs to build, run and test.
# Idempotent: installs only what dpkg does not already report as installed.
# Uses sudo when not run as root.  Called by make when a check fails.
set -eu
PKGS="make gcc pkg-config libhpdf-dev libharfbuzz-dev libharfbuzz-bin libfreetype-dev
libicu-dev libcmark-dev libyaml-dev libpng-dev libjpeg-dev zlib1g-dev libdeflate-dev libfontconfig-dev
libhyphen-dev hyphen-en-us hyphen-fr hyphen-nl fonts-noto-core unicode-data
poppler-utils qpdf mupdf-tools python3"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "install-deps: all packages present"; exit 0; }
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
