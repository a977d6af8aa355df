#!/bin/sh
# The benchmark behind `make bench`: bench/run.sh BUILD_DIR (build/bench, which
# holds the optimised bulletin, runner and floor).  Generates its inputs under
# BUILD_DIR/in, runs every case after a warm-up (the two cases compared with a
# floor by turns with it, see paired), prints a table and checks the targets of
# issue 5.  A missed target is reported, never an error: the exit
# status is 0 unless something could not run at all.
#
# Environment: RUNS (timed runs per case, default 11; the 2,000-page slope
# runs use fewer), SAMPLE (the bulletin, default the English + Hebrew sample).
set -eu
B=${1:-build/bench}
BIN=$B/bulletin
RUNS=${RUNS:-11}
SAMPLE=${SAMPLE:-samples/mod-2021-11-24.en-he.md}
LATIN=fonts/NotoSerif-Regular.ttf
HEBREW=fonts/NotoSerifHebrew-Regular.ttf
IN=$B/in OUT=$B/out
for t in "$BIN" "$B/runner" "$B/floor"; do
  [ -x "$t" ] || { echo "bench: $t is missing (run 'make bench')" >&2; exit 2; }
done
command -v pdfinfo >/dev/null || { echo "bench: pdfinfo (poppler-utils) is needed" >&2; exit 2; }

# ---- inputs: regenerated when the sample or the generator changes ----------
mkdir -p "$IN" "$OUT"
stamp=$IN/.stamp
if [ ! -f "$stamp" ] || [ "$SAMPLE" -nt "$stamp" ] || [ bench/gen.sh -nt "$stamp" ]; then
  rm -rf "$IN/packet" "$IN/slope"
  sh bench/gen.sh "$SAMPLE" 100 "$IN/packet"
  sh bench/gen.sh "$SAMPLE" 1000 "$IN/slope"
  touch "$stamp"
fi
PACKET=$(ls "$IN"/packet/*.md)

# ---- helpers --------------------------------------------------------------
pages() { pdfinfo "$1" 2>/dev/null | awk '/^Pages:/{print $2}'; }
bytes() { wc -c < "$1" | tr -d ' '; }
# The page content streams' uncompressed size, so that the floor deflates as
# much as we do (qpdf's QDF mode marks them "%% Contents for page N"; without
# --normalize-content=n it would rewrite our binary strings as hex, twice the
# bytes, and the floor would deflate twice as much as we do).
content_bytes() {
  command -v qpdf >/dev/null || { echo 0; return; }
  qpdf --qdf --normalize-content=n --object-streams=disable "$1" "$OUT/qdf.pdf" 2>/dev/null || [ $? -eq 3 ] || { echo 0; return; }
  LC_ALL=C awk '/^%% Contents for page/ { c = 1 }
    c && /^stream$/ { s = 1; next }
    s && /^endstream$/ { s = 0; c = 0; next }
    s { n += length($0) + 1 } END { print n + 0 }' "$OUT/qdf.pdf"
  rm -f "$OUT/qdf.pdf"
}
# time NAME WARMUP RUNS CMD... -> sets T_MED T_MIN T_MAX RSS_KB CPU_MS
time_case() {
  name=$1 w=$2 n=$3; shift 3
  set -- $("$B/runner" -w "$w" -n "$n" -- "$@" 2>"$OUT/$name.err" </dev/null) || true
  if [ $# -ne 5 ]; then
    echo "bench: case '$name' failed:" >&2; head -n 20 "$OUT/$name.err" >&2; exit 1
  fi
  T_MED=$1 T_MIN=$2 T_MAX=$3 RSS_KB=$4 CPU_MS=$5
}
# Our case and its floor, run by turns (one run of each, N times, after the
# warm-ups), so that both see the same moments of a shared machine; then
# medians.  paired NAME WARMUP RUNS "FLOOR ARGS" CMD... -> as time_case, and
# F_MED F_SHAPE F_ZIP F_GLYPHS F_CPU for the floor.
median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
paired() {
  name=$1 w=$2 n=$3 fargs=$4; shift 4
  "$B/runner" -w "$w" -n 1 -- "$@" >/dev/null 2>"$OUT/$name.err" </dev/null || true
  "$B/floor" -w "$w" -n 1 $fargs >/dev/null
  : > "$OUT/$name.ours"; : > "$OUT/$name.floor"
  k=0
  while [ $k -lt "$n" ]; do
    "$B/runner" -w 0 -n 1 -- "$@" 2>"$OUT/$name.err" </dev/null >> "$OUT/$name.ours" || true
    "$B/floor" -w 0 -n 1 $fargs >> "$OUT/$name.floor"
    k=$((k + 1))
  done
  if [ "$(awk 'NF == 5' "$OUT/$name.ours" | wc -l)" -ne "$n" ]; then
    echo "bench: case '$name' failed:" >&2; head -n 20 "$OUT/$name.err" >&2; exit 1
  fi
  T_MED=$(awk '{print $1}' "$OUT/$name.ours" | median)
  T_MIN=$(awk '{print $1}' "$OUT/$name.ours" | sort -n | head -n 1)
  T_MAX=$(awk '{print $1}' "$OUT/$name.ours" | sort -n | tail -n 1)
  RSS_KB=$(awk '{print $4}' "$OUT/$name.ours" | sort -n | tail -n 1)
  CPU_MS=$(awk '{print $5}' "$OUT/$name.ours" | median)
  F_MED=$(awk '{print $1}' "$OUT/$name.floor" | median)
  F_SHAPE=$(awk '{print $4}' "$OUT/$name.floor" | median)
  F_ZIP=$(awk '{print $5}' "$OUT/$name.floor" | median)
  F_GLYPHS=$(awk 'NR == 1 {print $6}' "$OUT/$name.floor")
  F_CPU=$(awk '{print $10}' "$OUT/$name.floor" | median)
}
ROWS=$OUT/rows.txt; : > "$ROWS"
# row CASE PAGES OUTPUT_BYTES FLOOR_MS
row() {
  echo "$1|$2|$T_MED|$T_MIN|$T_MAX|$RSS_KB|$3|$4|$CPU_MS" >> "$ROWS"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
echo "bench: $(uname -m), $(nproc) processors; $RUNS timed runs per case after a warm-up" >&2

# ---- cases ----------------------------------------------------------------
time_case startup 3 "$RUNS" "$BIN" --version
row "start-up (bulletin --version)" 0 0 0

# The output's pages and content bytes first (the floor deflates as many).
"$BIN" "$SAMPLE" -o "$OUT/one.pdf" 2>/dev/null
P1=$(pages "$OUT/one.pdf") S1=$(bytes "$OUT/one.pdf") C1=$(content_bytes "$OUT/one.pdf")
paired one 3 $((RUNS * 2 + 1)) "-p $P1 -c $C1 $LATIN $HEBREW $SAMPLE" "$BIN" "$SAMPLE" -o "$OUT/one.pdf"
F1=$F_MED F1_SHAPE=$F_SHAPE F1_ZIP=$F_ZIP G1=$F_GLYPHS F1_CPU=$F_CPU
row "1 bulletin" "$P1" "$S1" "$F1"
ONE_MED=$T_MED

# -j 1: every part of the work on the one thread (no helper threads).
"$BIN" -j 1 $PACKET -o "$OUT/packet.pdf" 2>/dev/null
PP=$(pages "$OUT/packet.pdf") SP=$(bytes "$OUT/packet.pdf") CP=$(content_bytes "$OUT/packet.pdf")
paired packet 1 "$RUNS" "-p $PP -c $CP $LATIN $HEBREW $PACKET" "$BIN" -j 1 $PACKET -o "$OUT/packet.pdf"
FP=$F_MED FP_SHAPE=$F_SHAPE FP_ZIP=$F_ZIP GP=$F_GLYPHS FP_CPU=$F_CPU
row "packet, 1 PDF, 1 thread (-j 1)" "$PP" "$SP" "$FP"
PACKET_MED=$T_MED PACKET_RSS=$RSS_KB PACKET_CPU=$CPU_MS

# The same with helper threads (the default): a second core's worth at most.
time_case packet2 1 "$RUNS" "$BIN" $PACKET -o "$OUT/packet2.pdf"
row "packet, 1 PDF, default threads" "$PP" "$(bytes "$OUT/packet2.pdf")" "$FP"

for j in 1 2; do
  rm -rf "$OUT/j$j"
  time_case "j$j" 1 "$RUNS" "$BIN" -j $j --outdir "$OUT/j$j" $PACKET
  pj=0 sj=0
  for f in "$OUT/j$j"/*.pdf; do pj=$((pj + $(pages "$f"))) sj=$((sj + $(bytes "$f"))); done
  row "packet, 100 PDFs, -j $j" "$pj" "$sj" "$FP"
  eval "J${j}_MED=\$T_MED J${j}_PAGES=\$pj"
done

# Memory slope: one PDF from the first N of 1,000 bulletins.
SLOPE=""
for nb in 100 250 500 1000; do
  files=$(ls "$IN"/slope/*.md | head -n $nb)
  r=$(( RUNS / 4 > 1 ? RUNS / 4 : 1 ))
  time_case "slope$nb" 0 $r "$BIN" $files -o "$OUT/slope.pdf"
  ps=$(pages "$OUT/slope.pdf")
  row "$nb bulletins, 1 PDF (memory slope)" "$ps" "$(bytes "$OUT/slope.pdf")" 0
  SLOPE="$SLOPE $ps $RSS_KB"
done
rm -f "$OUT/slope.pdf"

# ---- the table ----------------------------------------------------------------
echo
echo "load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")" \
  "(other work on the machine slows the wall times; the CPU times suffer less)"
echo "| case | pages | median ms | min ms | max ms | CPU ms | pages/s | peak RSS MB | output KB | floor ms | × floor |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
awk -F'|' '{
  pps = $2 > 0 ? sprintf("%.0f", $2 / ($3 / 1000)) : "-"
  fl = $8 > 0 ? sprintf("%.1f", $8) : "-"
  x = $8 > 0 ? sprintf("%.1f", $3 / $8) : "-"
  out = $7 > 0 ? sprintf("%.1f", $7 / 1024) : "-"
  pg = $2 > 0 ? $2 : "-"
  printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %s | %.1f | %s | %s | %s |\n", $1, pg, $3, $4, $5, $9, pps, $6 / 1024, out, fl, x
}' "$ROWS"
echo
echo "floor = HarfBuzz shaping of all the text ($G1 glyphs per bulletin, $GP per packet; $LATIN +"
echo "$HEBREW) + libdeflate (level 6, as ours) of as many content bytes as our PDF holds"
echo "($C1 / $CP); 1 bulletin: shape $F1_SHAPE ms + deflate $F1_ZIP ms; packet: shape $FP_SHAPE ms + deflate $FP_ZIP ms."
echo "In CPU time: packet $PACKET_CPU ms, floor $FP_CPU ms."

# ---- targets (issue 5) ------------------------------------------------------
echo
# target NAME VALUE OP LIMIT UNIT: prints PASS/MISS and the margin
target() {
  awk -v name="$1" -v v="$2" -v op="$3" -v lim="$4" -v unit="$5" 'BEGIN {
    ok = op == "<=" ? v <= lim : v >= lim
    by = op == "<=" ? (v - lim) / lim * 100 : (lim - v) / lim * 100
    if (ok) printf "PASS  %-46s %10.1f %s (target %s %g; %.0f%% to spare)\n", name, v, unit, op, lim, -by
    else    printf "MISS  %-46s %10.1f %s (target %s %g; off by %.0f%%, %.2fx)\n", name, v, unit, op, lim, by, op == "<=" ? v / lim : lim / v
  }'
}
target "1 bulletin, whole process, median" "$ONE_MED" "<=" 10 ms
target "packet, 1 thread (-j 1)" "$(awk -v p="$PP" -v t="$PACKET_MED" 'BEGIN{print p / (t / 1000)}')" ">=" 1000 pages/s
target "packet, -j 2, separate outputs" "$(awk -v p="$J2_PAGES" -v t="$J2_MED" 'BEGIN{print p / (t / 1000)}')" ">=" 1800 pages/s
target "packet time / floor (wall, medians)" "$(awk -v a="$PACKET_MED" -v b="$FP" 'BEGIN{print a / b}')" "<=" 2.5 x
target "packet time / floor (CPU, medians)" "$(awk -v a="$PACKET_CPU" -v b="$FP_CPU" 'BEGIN{print a / b}')" "<=" 2.5 x
target "packet, peak RSS" "$(awk -v k="$PACKET_RSS" 'BEGIN{print k / 1024}')" "<=" 40 MB
# least-squares slope of peak RSS over pages
slope=$(echo $SLOPE | awk '{ n = NF / 2; for (i = 1; i <= NF; i += 2) { x = $i; y = $(i + 1); sx += x; sy += y; sxx += x * x; sxy += x * y }
  print (n * sxy - sx * sy) / (n * sxx - sx * sx) }')
target "RSS growth per page (200 to 2,000 pages)" "$slope" "<=" 20 KB/page
target "1 bulletin, PDF size" "$(awk -v b="$S1" 'BEGIN{print b / 1024}')" "<=" 40 KB
target "packet (100 bulletins), PDF size" "$(awk -v b="$SP" 'BEGIN{print b / 1024}')" "<=" 500 KB
echo
echo "(pages/s counts pages over whole-process wall time; rerun with 'make bench', RUNS=N for more runs)"
