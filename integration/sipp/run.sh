#!/usr/bin/env bash
# Drive the SIPp scenarios of this folder against a SIP server.
#
#   run.sh TARGET_HOST:PORT [rate] [calls] [transport]
#   run.sh TARGET_HOST:PORT quick [transport]
#
#   rate       new calls per second            (default 200; quick: 50)
#   calls      calls per scenario              (default 2000; quick: 100)
#   transport  u1 (UDP, one socket) | t1 (TCP, one connection)   (default u1)
#
# Prints one line per scenario, e.g.
#   register: rate=195.3/s successful=2000 failed=0 retrans=0 avg_ms=1.0 elapsed=10.24s target=200/s transport=u1
# and exits non-zero if any scenario had a failed (or missing) call.
#
# Environment:
#   SIPP_DOMAIN        domain of the AORs sip:<ext>@<domain>     (example.com)
#   SIPP_SCENARIOS     scenarios to run, in order  (register subscribe publish)
#                      (unregister.xml exists too and may be added)
#   SIPP_TIMEOUT       hard cap per scenario run, seconds        (60)
#   SIPP_RECV_TIMEOUT  per-message receive timeout, ms           (10000)
#   SIPP_LOCAL_IP      local address SIPp binds to               (127.0.0.1)
#   SIPP_USERS         injection CSV (extensions)                (users.csv here)
#   SIPP_BIN           sipp binary                               (sipp)
#   SIPP_EXTRA_ARGS    extra sipp arguments, word-split          (empty)
#   SIPP_KEEP_LOGS=1   keep the temp dir with SIPp's logs and print its path
#   SIPP_ALLOW_NON_LOOPBACK=1  allow a target outside 127.0.0.0/8 / ::1 /
#                      localhost (off by default: load tests stay local)
set -euo pipefail

usage() {
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
case "$1" in -h | --help) usage ;; esac

target=$1
mode=${2:-}
if [[ $mode == quick ]]; then
	rate=50
	calls=100
	transport=${3:-u1}
else
	rate=${2:-200}
	calls=${3:-2000}
	transport=${4:-u1}
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
domain=${SIPP_DOMAIN:-example.com}
scenarios=${SIPP_SCENARIOS:-register subscribe publish}
timeout_s=${SIPP_TIMEOUT:-60}
recv_timeout_ms=${SIPP_RECV_TIMEOUT:-10000}
local_ip=${SIPP_LOCAL_IP:-127.0.0.1}
users=${SIPP_USERS:-$here/users.csv}
sipp_bin=${SIPP_BIN:-sipp}
extra_args=()
if [[ -n ${SIPP_EXTRA_ARGS:-} ]]; then
	read -r -a extra_args <<<"$SIPP_EXTRA_ARGS"
fi

die() {
	echo "run.sh: $*" >&2
	exit 2
}

[[ $rate =~ ^[0-9]+([.][0-9]+)?$ ]] || die "rate must be a number, got '$rate'"
[[ $calls =~ ^[0-9]+$ && $calls -gt 0 ]] || die "calls must be a positive integer, got '$calls'"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "SIPP_TIMEOUT must be an integer (seconds)"
case "$transport" in u1 | t1) ;; *) die "transport must be u1 or t1, got '$transport'" ;; esac
command -v "$sipp_bin" >/dev/null 2>&1 || die "sipp not found (apt-get install sip-tester)"
[[ -r $users ]] || die "injection file $users not readable"

# host part of HOST:PORT / [v6]:PORT
host=${target%:*}
host=${host#[}
host=${host%]}
if [[ ${SIPP_ALLOW_NON_LOOPBACK:-0} != 1 ]]; then
	case "$host" in
	127.* | localhost | ::1) ;;
	*) die "target $host is not a loopback address (set SIPP_ALLOW_NON_LOOPBACK=1 to override)" ;;
	esac
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/sipp-run.XXXXXX")
# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	if [[ ${SIPP_KEEP_LOGS:-0} == 1 ]]; then
		echo "run.sh: SIPp logs kept in $workdir" >&2
	else
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT

# stat_line SCENARIO CSV: summarise SIPp's -trace_stat file (last row =
# cumulative counters at exit).
stat_line() {
	awk -F';' -v name="$1" -v target_rate="$rate" -v transport="$transport" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ last = $0 }
		END {
			if (last == "") { exit 1 }
			n = split(last, f, ";")
			split(f[col["StartTime"]], st, /[ \t]+/)
			split(f[col["CurrentTime"]], ct, /[ \t]+/)
			elapsed = ct[3] - st[3]
			ok = f[col["SuccessfulCall(C)"]] + 0
			failed = f[col["FailedCall(C)"]] + 0
			retrans = f[col["Retransmissions(C)"]] + 0
			# CallLength(C) is HH:MM:SS:usec
			split(f[col["CallLength(C)"]], cl, ":")
			avg_ms = (cl[1] * 3600 + cl[2] * 60 + cl[3]) * 1000 + cl[4] / 1000
			r = (elapsed > 0) ? ok / elapsed : 0
			printf "%s: rate=%.1f/s successful=%d failed=%d retrans=%d avg_ms=%.1f elapsed=%.2fs target=%s/s transport=%s\n",
				name, r, ok, failed, retrans, avg_ms, elapsed, target_rate, transport
			print ok, failed > "/dev/stderr"
		}' "$2"
}

# summarize_errors FILE: SIPp's error log as "count  kind" lines (entries
# start with a timestamp; Call-IDs and numbers are blanked out to group them)
summarize_errors() {
	sed -E 's/([0-9]{4}-[0-9]{2}-[0-9]{2}	[0-9:.]+	[0-9.]+: )/\n\1/g' "$1" |
		sed -nE 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}	[0-9:.]+	[0-9.]+: //p' |
		sed -E "s/'[^']*@[^']*'/'<call-id>'/g; s/ [0-9]+-[0-9]+@[^ ]+/ <call-id>/g; s/[0-9]+/N/g" |
		cut -c1-150 | sort | uniq -c | sort -rn | head -n 8
}

status=0
for scn in $scenarios; do
	xml=$here/$scn.xml
	[[ -r $xml ]] || die "no scenario $xml"
	dir=$workdir/$scn
	mkdir -p "$dir"
	stats=$dir/stats.csv
	rc=0
	(
		cd "$dir"
		exec "$sipp_bin" "$target" \
			-sf "$xml" \
			-inf "$users" \
			-set domain "$domain" \
			-i "$local_ip" \
			-t "$transport" \
			-r "$rate" -rp 1000 \
			-m "$calls" \
			-timeout "${timeout_s}s" -timeout_error \
			-recv_timeout "$recv_timeout_ms" \
			-nostdin \
			-default_behaviors all,-bye \
			-trace_stat -stf "$stats" -fd 1 \
			-trace_err \
			-trace_screen \
			"${extra_args[@]}" \
			</dev/null >"$dir/sipp.out" 2>&1
	) || rc=$?

	if [[ ! -s $stats ]] || ! counts=$(stat_line "$scn" "$stats" 2>&1 >"$dir/line"); then
		echo "$scn: no statistics (sipp exit $rc); see below" >&2
		tail -n 20 "$dir/sipp.out" >&2 || true
		status=1
		continue
	fi
	cat "$dir/line"
	read -r ok failed <<<"$counts"
	if [[ $rc -ne 0 || $failed -ne 0 || $ok -ne $calls ]]; then
		echo "$scn: FAILED (sipp exit $rc, successful $ok of $calls, failed $failed)" >&2
		for f in "$dir"/*_errors.log; do
			[[ -e $f ]] || continue
			echo "--- SIPp errors by kind ($(basename "$f")):" >&2
			summarize_errors "$f" >&2 || true
		done
		status=1
	fi
done

exit "$status"
