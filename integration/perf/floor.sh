#!/usr/bin/env bash
# integration/perf/floor.sh [rounds]   (about 25 s a round)
#
# Kamailio 5.6 with one worker and floor/ (a Go program that answers each
# request with a copied 200 OK and does nothing else) on compare.sh's
# REGISTER load, one after the other, per round: server CPU seconds for
# 30,000 REGISTERs at 3,000/s and the ratio Kamailio/floor. A ratio under
# 1 here bounds what any Go server can reach on compare.sh's CPU figure.
# Needs sipp (sip-tester) and kamailio; listens on 127.0.0.1 only.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
perf=integration/perf
rounds=${1:-2}
tmp=$(mktemp -d -t sb-floor.XXXXXX); pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/floor" ./$perf/floor || exit 1
cpu_of() { sed -n 's/.*server cpu \([0-9.]*\) s.*/\1/p' <<<"$1"; }
for _ in $(seq "$rounds"); do
  k=$(KAM_CHILDREN=1 KAM_PORT=5071 CALLS=30000 RATE=3000 LIMIT=5000 OUT_DIR="$tmp/k" "$perf/run-kamailio.sh" register 2>/dev/null | grep " register:")
  "$tmp/floor" 127.0.0.1:5073 & pid=$!
  sleep 0.3
  f=$(LABEL=floor SERVER_PID=$pid CALLS=30000 RATE=3000 LIMIT=5000 OUT_DIR="$tmp/f" "$perf/run-sipp.sh" 127.0.0.1:5073 register 2>/dev/null | grep " register:")
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  echo "$k"; echo "$f"
  awk -v k="$(cpu_of "$k")" -v f="$(cpu_of "$f")" 'BEGIN{ if (k<=0||f<=0) { print "floor register: no figure"; exit } printf "floor register: CPU per op Kamailio/Go floor = %.2f\n", k/f }'
done
