#!/usr/bin/env bash
# compare.sh [perf] [fanout] [memory]   (default: all three)
#
# The measuring stick for Switchboard's cost (issue 13), run from the project root:
#   integration/perf.sh            (runs this)
# It builds ./cmd/switchboard and, in one run, puts it beside Kamailio 5.6 with ONE worker
# (its most efficient setting on a 2-core machine) on the same load over UDP loopback:
#   perf    SIPp REGISTER (30,000 at 3,000/s), SUBSCRIBE cycle (6,000 at 600/s: SUBSCRIBE,
#           NOTIFY, un-SUBSCRIBE, NOTIFY) and PUBLISH + removal (12,000 at 1,200/s); the
#           figure is server CPU seconds per operation, as the ratio Kamailio / Switchboard
#           (>= 1.00: Switchboard is at least as efficient), and failed calls;
#   fanout  W = 1,000 and 10,000 dialog watchers of one extension, one PUBLISH, time to the
#           last NOTIFY, as the ratio Kamailio / Switchboard;
#   memory  50,000 held dialog subscriptions over 1,000 extensions, RSS growth per
#           subscription after 30 s (Kamailio: 0.69 KB of shared memory per subscription).
# Switchboard runs on the embedded default with --rate-limit -1 (and --max-subs-per-target
# 20000 when the binary has that flag). Needs sipp (sip-tester), kamailio and
# kamailio-presence-modules. Everything listens on 127.0.0.1 and is stopped by PID.
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
[[ -d cmd/switchboard ]] || { echo "compare: run from the project root" >&2; exit 2; }
command -v sipp >/dev/null && command -v kamailio >/dev/null ||
  { echo "compare: needs sipp and kamailio (apt-get install sip-tester kamailio kamailio-presence-modules)" >&2; exit 2; }
what=("$@"); [[ ${#what[@]} -gt 0 ]] || what=(perf fanout memory)
tmp=$(mktemp -d -t sb-compare.XXXXXX); sb_pid=
stop_sb() { [[ -n "$sb_pid" ]] && { kill -KILL "$sb_pid" 2>/dev/null; wait "$sb_pid" 2>/dev/null; }; sb_pid=; }
trap 'stop_sb; rm -rf "$tmp"' EXIT
go build -o "$tmp/switchboard" ./cmd/switchboard || exit 1
extra=(--rate-limit -1)
"$tmp/switchboard" --help 2>&1 | grep -q -- '--max-subs-per-target' && extra+=(--max-subs-per-target 20000)
start_sb() { # port
  rm -rf "$tmp/data"; mkdir -p "$tmp/data"
  "$tmp/switchboard" "${extra[@]}" --sip-listen "127.0.0.1:$1" --http-listen "127.0.0.1:$((1$1 % 60000 + 1024))" \
    --data-dir "$tmp/data" --domain 127.0.0.1 >"$tmp/sb.log" 2>&1 &
  sb_pid=$!; sleep 1.5
}
cpu_of() { sed -n 's/.*server cpu \([0-9.]*\) s.*/\1/p' <<<"$1"; }
for w in "${what[@]}"; do case $w in
perf)
  declare -A load=([register]="30000 3000" [subscribe]="6000 600" [publish]="12000 1200")
  for s in register subscribe publish; do
    read -r calls rate <<<"${load[$s]}"
    k=$(KAM_CHILDREN=1 KAM_PORT=5071 CALLS=$calls RATE=$rate LIMIT=5000 OUT_DIR="$tmp/k-$s" "$bench/run-kamailio.sh" "$s" 2>/dev/null | grep " $s:")
    start_sb 5072
    o=$(LABEL=switchboard SERVER_PID=$sb_pid CALLS=$calls RATE=$rate LIMIT=5000 OUT_DIR="$tmp/s-$s" "$bench/run-sipp.sh" 127.0.0.1:5072 "$s" 2>/dev/null | grep " $s:")
    stop_sb
    kc=$(cpu_of "$k"); sc=$(cpu_of "$o")
    echo "$k"; echo "$o"
    awk -v s="$s" -v k="$kc" -v c="$sc" 'BEGIN{ if (c<=0||k<=0) { print "perf " s ": no figure"; exit } printf "perf %s: CPU per op Kamailio/Switchboard = %.2f\n", s, k/c }'
  done ;;
fanout)
  go build -o "$tmp/fanout" ./integration/perf/fanout || exit 1
  for W in 1000 10000; do
    k=$(LABEL=kamailio "$bench/run-kamailio-anchors.sh" fanout "$W" 2>/dev/null | grep -E "^fanout [^ ]+: ")
    start_sb 5074
    o=$("$tmp/fanout" -target 127.0.0.1:5074 -domain 127.0.0.1 -watchers "$W" -ext "15$W" -label switchboard 2>/dev/null | grep -E "^fanout [^ ]+: ")
    stop_sb
    echo "$k"; echo "$o"
    kl=$(sed -n 's/.*last \([0-9.]*\) ms.*/\1/p' <<<"$k"); sl=$(sed -n 's/.*last \([0-9.]*\) ms.*/\1/p' <<<"$o")
    awk -v w="$W" -v k="${kl:-0}" -v s="${sl:-0}" 'BEGIN{ if (s<=0||k<=0) { print "fanout W=" w ": no figure"; exit } printf "fanout W=%s: last NOTIFY Kamailio/Switchboard = %.1f\n", w, k/s }'
  done ;;
memory)
  start_sb 5075
  SETTLE_S=30 LABEL=switchboard "$bench/measure-subs-memory.sh" 127.0.0.1:5075 "$sb_pid" 50000 2>&1 | grep '^subs-memory'
  stop_sb ;;
*) echo "compare: unknown '$w' (perf, fanout, memory)" >&2; exit 2 ;;
esac; done
