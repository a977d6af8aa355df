#!/bin/sh
# The README's first command: installs what is missing (Debian packages, with
# apt-get; sudo when not root), builds, and renders the sample bulletin; prints
# the PDF's path.  Safe to run again: it installs only what is missing.
set -eu
cd "$(dirname "$0")/.."
# make itself may be missing on a fresh machine; the package script is plain sh.
command -v make >/dev/null 2>&1 && command -v cc >/dev/null 2>&1 || sh tools/install-deps.sh
make -s demo
