#!/usr/bin/env bash
# Plots trolley-bench per-second series (--series FILE, TSV): throughput
# (ok operations/s) on top, p99 latency (ms, log scale) below, one line
# per series, as one PNG. A series written by a fault-mode run carries the
# kill and restart times; they are drawn as vertical lines.
# With --intervals, plots ok operations/s per 10 s instead (--intervals
# FILE, CSV), one line per run, for the long-run stability figure.
#
#   bash bench/plot.sh OUT.png SERIES.tsv [SERIES.tsv ...]
#   bash bench/plot.sh --intervals OUT.png RUN.intervals.csv [...]
#
# Needs gnuplot with the pngcairo terminal (Debian: gnuplot-nox). Without
# it, says so and exits 0: plots are optional, the tables are the result.
set -euo pipefail
intervals=0
if [ "${1:-}" = --intervals ]; then intervals=1; shift; fi
if [ $# -lt 2 ]; then sed -n '2,12p' "$0"; exit 2; fi
out="$1"; shift
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plot: gnuplot is not installed (apt-get install gnuplot-nox); skipping $out" >&2
  exit 0
fi
for f in "$@"; do [ -f "$f" ] || { echo "plot: no such series $f" >&2; exit 2; }; done

if [ "$intervals" = 1 ]; then
  plots=""
  for f in "$@"; do
    # Each point at the middle of its interval.
    plots+="'$f' using ((\$1 + \$2) / 2):3 with linespoints lw 2 title '$(basename "$f" .intervals.csv)', "
  done
  gnuplot <<GNUPLOT
set terminal pngcairo size 1000,500 font ',10'
set output '$out'
set datafile separator ','
set key outside right
set grid
set title 'Ok operations per second, per 10 s of the measured window'
set ylabel 'ops/s'
set xlabel 'seconds into the measured window'
set yrange [0:*]
plot ${plots%, }
GNUPLOT
  echo "plot: wrote $out"
  exit 0
fi

marks=""
for f in "$@"; do
  # "# fault killed_at_s=12.0 restarted_at_s=24.0" (seconds from the window start)
  line="$(grep -m1 '^# fault ' "$f" || true)"
  [ -n "$line" ] || continue
  for kv in $line; do
    case "$kv" in
      killed_at_s=*) marks+="set arrow from ${kv#*=}, graph 0 to ${kv#*=}, graph 1 nohead dt 2 lc rgb 'red';"$'\n' ;;
      restarted_at_s=*) marks+="set arrow from ${kv#*=}, graph 0 to ${kv#*=}, graph 1 nohead dt 2 lc rgb 'dark-green';"$'\n' ;;
    esac
  done
done

tput_plots="" p99_plots=""
for f in "$@"; do
  title="$(basename "$f" .tsv)"
  tput_plots+="'$f' using 1:5 with lines lw 2 title '$title', "
  # p99 of 0 means an empty second: skip it (log scale).
  p99_plots+="'$f' using 1:(\$8 > 0 ? \$8 : 1/0) with lines lw 2 title '$title', "
done

gnuplot <<GNUPLOT
set terminal pngcairo size 1000,700 font ',10'
set output '$out'
set datafile commentschars '#'
set multiplot layout 2,1
set grid
set key outside right
$marks
set title 'Throughput (ok operations per second)'
set ylabel 'ops/s'
set yrange [0:*]
plot ${tput_plots%, }
set title 'p99 latency of ok operations, per second (ms; red: node killed, green: restarted)'
set ylabel 'ms'
set xlabel 'seconds into the measured window'
set logscale y
set yrange [*:*]
plot ${p99_plots%, }
unset multiplot
GNUPLOT
echo "plot: wrote $out"
