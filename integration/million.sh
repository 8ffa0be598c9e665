#!/usr/bin/env bash
# The directory at a million contacts (issue 20): builds switchboard,
# starts it on loopback with the embedded store, generates four CSV files
# of 250,000 company contacts, imports them over
# POST /v1/contacts/import.csv?kind=company, and prints import rows/s per
# chunk, RSS and Go heap, and search and caller-ID lookup p50/p99 for a
# fixed list of terms (integration/million/main.go).
#
#   million.sh [chunks] [rows per chunk]     (default 4 × 250000, about 37 MB a file)
#
# Needs: go. Extra server flags can be passed in SWITCHBOARD_FLAGS (for
# example "--redis redis://127.0.0.1:6379/9" to measure the Redis store),
# extra flags of the measuring client in MILLION_FLAGS (for example
# "-during=false" to import without the readers that measure search and
# lookup latency while each chunk imports).
# MILLION_PRETOUCH (GiB, default 6 when the machine has 10 GiB available)
# is memory the client writes and frees before importing: on a VM whose
# host takes back freed guest memory, the first chunk to grow into memory
# the host no longer backs is 3-5 µs a row slower, whichever chunk that
# is (see pretouch in million/main.go); 0 measures without it.
# Takes minutes and about 1-5 GB of memory: not for a shared CI runner.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
chunks=${1:-4}
rows=${2:-250000}
tmp=$(mktemp -d)
sb=
trap '[[ -n "$sb" ]] && kill "$sb" 2>/dev/null; rm -rf "$tmp"' EXIT

go build -o "$tmp/switchboard" "$here/../cmd/switchboard"
go build -o "$tmp/million" "$here/million"
port=$((20000 + RANDOM % 20000))
# shellcheck disable=SC2086
"$tmp/switchboard" --sip-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$((port + 1))" \
	--domain example.com --data-dir "$tmp/data" --bootstrap-key-file "$tmp/key" \
	--log-level error ${SWITCHBOARD_FLAGS:-} >"$tmp/sb.log" 2>&1 &
sb=$!
for _ in $(seq 100); do
	[[ -s "$tmp/key" ]] && curl -fs "http://127.0.0.1:$((port + 1))/metrics" >/dev/null 2>&1 && break
	sleep 0.2
done
[[ -s "$tmp/key" ]] || { echo "switchboard did not start:" >&2; cat "$tmp/sb.log" >&2; exit 1; }

avail=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
touch=${MILLION_PRETOUCH:-$((avail >= 10 ? 6 : 0))}
# shellcheck disable=SC2086
"$tmp/million" -pretouch "$touch" -url "http://127.0.0.1:$((port + 1))" -key-file "$tmp/key" -domain example.com \
	-pid "$sb" -chunks "$chunks" -rows "$rows" ${MILLION_FLAGS:-}
echo "bolt file: $(du -h "$tmp/data"/*.db 2>/dev/null | cut -f1 | paste -sd' ')"
