#!/bin/sh
# Writes a bulletin source (front matter + one section per language) from the
# shared corpus: corpus-source.sh LANG... > out.md.  samples/*.md are made by
# `make samples` with this script; the corpus is ../shared/corpus by default.
set -eu
CORPUS=${CORPUS:-$(dirname "$0")/../../shared/corpus}
[ $# -ge 1 ] || { echo "usage: $0 LANG [LANG...]" >&2; exit 2; }
title() { head -n 1 "$CORPUS/seed.$1.txt" | sed 's/ *([^()]*[0-9]\{4\})$//'; }
label() { sed -n "${2}p" "$CORPUS/labels.$1.txt"; }
q() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
echo "---"
printf 'languages: [%s]\n' "$(echo "$@" | sed 's/ /, /g')"
echo "date: 2021-11-24"
echo "reference: MOD-2021-117"
echo "classification: UNCLASSIFIED"
echo "issuer:"
for l in "$@"; do printf '  %s: %s\n' "$l" "$(q "$(label "$l" 1)")"; done
echo "title:"
for l in "$@"; do printf '  %s: %s\n' "$l" "$(q "$(title "$l")")"; done
echo "---"
for l in "$@"; do
  echo
  echo "::: $l"
  # Paragraphs after the title; the last one is the quotation.
  n=$(tail -n +2 "$CORPUS/seed.$l.txt" | awk 'NF' | wc -l)
  tail -n +2 "$CORPUS/seed.$l.txt" | awk -v n="$n" 'NF { k++; print (k == n ? "> " : "") $0; print "" }'
  echo ":::"
done
