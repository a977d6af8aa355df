#!/bin/sh
# Writes N bulletins that all differ, made from one source: bench/gen.sh SOURCE N DIR
# writes DIR/b0001.md ... DIR/bNNNN.md.  Bulletin k numbers its title and every
# paragraph ("k.j ") and rotates the sentences of each paragraph by k + j, so
# that no paragraph of one bulletin equals a paragraph of another (nothing can be
# cached across bulletins) while the length, and so the page count, stays that
# of SOURCE.  The quotation (the "> " paragraph) is numbered but not rotated.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 SOURCE N DIR" >&2; exit 2; }
src=$1 n=$2 dir=$3
mkdir -p "$dir"
awk -v n="$n" -v dir="$dir" '
function rotate(p, r,    s, m, i, out, k) {
    # sentences end with ". " (the last one with the end of the paragraph)
    m = split(p, s, /\. /)
    if (m < 2) return p
    for (i = 1; i < m; i++) s[i] = s[i] "."
    out = ""
    for (i = 0; i < m; i++) {
        k = (i + r) % m + 1
        out = out (i ? " " : "") s[k]
    }
    return out
}
{ line[NR] = $0 }
END {
    for (k = 1; k <= n; k++) {
        f = sprintf("%s/b%04d.md", dir, k)
        fm = 0; intitle = 0; j = 0
        for (i = 1; i <= NR; i++) {
            l = line[i]
            if (l == "---") { fm++; print l > f; continue }
            if (fm == 1) {
                if (l ~ /^[a-z]/) intitle = (l == "title:")
                else if (intitle && match(l, /^  [a-z-]+: "/))
                    l = substr(l, 1, RLENGTH) k " · " substr(l, RLENGTH + 1)
                print l > f; continue
            }
            if (l ~ /^:::/) { j = 0; print l > f; continue }
            if (l == "") { print l > f; continue }
            j++
            if (substr(l, 1, 2) == "> ") l = "> " k "." j " " substr(l, 3)
            else l = k "." j " " rotate(l, k + j)
            print l > f
        }
        close(f)
    }
}' "$src"
