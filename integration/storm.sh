#!/usr/bin/env bash
# A restart storm (issue 13): N held dialog subscriptions, Switchboard
# restarted, then every phone re-SUBSCRIBEs at once; all must succeed.
#
#   integration/storm.sh                 (N = 100,000: 1 to 2 minutes)
#   N=10000 integration/storm.sh
#
# Builds ./cmd/switchboard and runs it on loopback on the embedded default
# (bolt in a fresh data dir) with --rate-limit -1, as integration/perf/
# compare.sh does, then, with SIPp over UDP, one summary line per phase:
#   storm subscribe:   N subscriptions (integration/perf/sipp/subscribe-
#                      storm.xml: SUBSCRIBE Event: dialog, Expires 3600, the
#                      initial NOTIFY answered, no un-SUBSCRIBE) from N
#                      distinct watchers to EXTS extensions at RATE/s; the
#                      server's switchboard_subscriptions gauge must read N.
#   storm restart:     STOP_SIGNAL (TERM) to the server while the phones
#                      answer NOTIFYs (sipp/notify-answer.xml on their port,
#                      kept up to the end): draining, it tells each
#                      subscriber "terminated;reason=deactivated" within
#                      --shutdown-grace GRACE, which is what makes phones
#                      re-subscribe at once. A subscription not told stays in
#                      the subscription store, if there is one: the embedded
#                      default has none (subscriptions live in memory; bolt
#                      keeps none), --redis has one, and the new process
#                      (same data dir) restores its subscriptions and
#                      NOTIFYs them. Fails if the old process does not exit,
#                      the new one does not come up, or a subscription was
#                      neither told nor restored (so STOP_SIGNAL=KILL fails
#                      on the embedded default: a crash loses them silently).
#   storm resubscribe: as soon as the new process answers, every phone
#                      sends a new SUBSCRIBE (a new dialog) at RESUB_RATE/s,
#                      up to RESUB_LIMIT outstanding (from the next port; the
#                      old dialogs' NOTIFYs still reach the answerer);
#                      prints ok/failed (503, 403, other, timeouts), the time
#                      from the first SUBSCRIBE to the last 200 and to the
#                      last initial NOTIFY (SIPp's -trace_rtt dates), server
#                      CPU seconds (/proc/PID/stat), its peak RSS (VmHWM) and
#                      UDP receive-buffer drops (/proc/net/snmp RcvbufErrors,
#                      machine wide, and the server socket's in /proc/net/udp).
#                      Fails unless all N succeed and the server holds them.
# SIPp retransmits an unanswered SUBSCRIBE (500 ms, doubling to 4 s, 5
# times): a datagram dropped is retried, a 503 or 403 fails the call.
# Exit status: 0 when every phase passed, 1 otherwise, 2 on usage errors.
#
# Environment (defaults in brackets):
#   N [100000]            subscriptions (distinct watchers WATCHER_BASE..+N-1)
#   EXTS [1000] BASE [1000]  targets BASE..BASE+EXTS-1 (watcher i -> BASE + i mod EXTS);
#                         --max-subs-per-target is raised when a target would
#                         hold more than the default 1,000 (new + restored)
#   RATE [5000] LIMIT [10000]        first subscriptions: SIPp -r / -l
#   RESUB_RATE [10000] RESUB_LIMIT [N]  the storm: SIPp -r / -l
#   STOP_SIGNAL [TERM]    TERM drains; KILL is a crash (all restored, with --redis)
#   GRACE [10s]           --shutdown-grace
#   RECV_TIMEOUT_MS [32000]  a call waiting longer for a message fails
#   PORT [random]         SIP on 127.0.0.1:PORT, HTTP PORT+1, the phones PORT+2
#                         (their new SUBSCRIBEs PORT+3)
#   SWITCHBOARD_FLAGS []  extra server flags, e.g. "--redis redis://127.0.0.1:6379/9"
#                         (a db of its own: the subscriptions stay there) to
#                         keep subscriptions across the restart (with
#                         STOP_SIGNAL=KILL all N are restored and NOTIFYed
#                         during the storm)
#   SIPP_CPUS []          run sipp under "taskset -c SIPP_CPUS"
#   OUT_DIR []            keep logs, SIPp files and the data dir there (else a
#                         temporary dir, removed at the end)
# Needs: go, sipp (sip-tester), curl. Everything listens on 127.0.0.1;
# processes are stopped by PID; each SIPp run is bounded by -timeout.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
sippdir=$PWD/integration/perf/sipp
command -v sipp >/dev/null && command -v curl >/dev/null ||
	{ echo "storm: needs sipp and curl (apt-get install sip-tester curl)" >&2; exit 2; }

N=${N:-100000}
EXTS=${EXTS:-1000}
BASE=${BASE:-1000}
WATCHER_BASE=${WATCHER_BASE:-100000}
RATE=${RATE:-5000}
LIMIT=${LIMIT:-10000}
RESUB_RATE=${RESUB_RATE:-10000}
RESUB_LIMIT=${RESUB_LIMIT:-$N}
STOP_SIGNAL=${STOP_SIGNAL:-TERM}
GRACE=${GRACE:-10s}
RECV_TIMEOUT_MS=${RECV_TIMEOUT_MS:-32000}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
SWITCHBOARD_FLAGS=${SWITCHBOARD_FLAGS:-}
SIPP_CPUS=${SIPP_CPUS:-}
[[ "$N" =~ ^[0-9]+$ && "$N" -gt 0 && "$EXTS" =~ ^[0-9]+$ && "$EXTS" -gt 0 ]] ||
	{ echo "storm: N and EXTS must be positive integers" >&2; exit 2; }
case $STOP_SIGNAL in TERM | INT | KILL) ;; *) echo "storm: STOP_SIGNAL is TERM, INT or KILL" >&2; exit 2 ;; esac
sip=$PORT http=$((PORT + 1)) phones=$((PORT + 2))

if [[ -n "${OUT_DIR:-}" ]]; then
	dir=$OUT_DIR keep=1
	mkdir -p "$dir"
else
	dir=$(mktemp -d -t sb-storm.XXXXXX) keep=0
fi
sb= answerer=
stop_pid() { # pid: TERM, then KILL after 5 s
	[[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	[[ -n "$sb" ]] && { kill -KILL "$sb" 2>/dev/null; wait "$sb" 2>/dev/null; }
	stop_pid "$answerer"
	((keep)) || rm -rf "$dir"
}
trap cleanup EXIT
pin=()
[[ -n "$SIPP_CPUS" ]] && pin=(taskset -c "$SIPP_CPUS")
# GNU time (package "time") reports SIPp's own CPU use, if installed.
timer=()
[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f "%U %S" -o sipp.time)

go build -o "$dir/switchboard" ./cmd/switchboard || exit 1
flags=(--rate-limit -1 --shutdown-grace "$GRACE")
per_target=$(((N + EXTS - 1) / EXTS * 2)) # new and restored dialogs
((per_target > 1000)) && flags+=(--max-subs-per-target "$per_target")
# shellcheck disable=SC2206
flags+=($SWITCHBOARD_FLAGS)

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
kb() { awk -v k="$2:" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# udp_errors: "RcvbufErrors SndbufErrors" of /proc/net/snmp (machine wide)
udp_errors() { awk '/^Udp:/ { n++; if (n == 1) for (i = 1; i <= NF; i++) c[$i] = i; else print $c["RcvbufErrors"], $c["SndbufErrors"] }' /proc/net/snmp; }
# sock_drops PORT: datagrams dropped by the UDP socket bound to 127.0.0.1:PORT (/proc/net/udp)
sock_drops() { awk -v p="$(printf '0100007F:%04X' "$1")" '$2 == p { d += $NF } END { print d + 0 }' /proc/net/udp; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# busy_ticks: CPU ticks used machine wide (user nice system irq softirq steal), to tell other work's share
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
now() { date +%s.%N; }
# metric NAME: the value of a sample on /metrics (as an integer), -1 if none
metric() {
	curl -fsS --max-time 5 "http://127.0.0.1:$http/metrics" 2>/dev/null |
		awk -v k="$1" '$1 == k { printf "%d\n", $2; f = 1 } END { if (!f) print -1 }'
}

n_start=0
start_sb() { # waits until /metrics answers (at most 30 s); returns 1 if not
	n_start=$((n_start + 1))
	"$dir/switchboard" "${flags[@]}" --sip-listen "127.0.0.1:$sip" --http-listen "127.0.0.1:$http" \
		--data-dir "$dir/data" --domain 127.0.0.1 >"$dir/sb$n_start.log" 2>&1 &
	sb=$!
	for _ in $(seq 300); do
		[[ $(metric switchboard_subscriptions) -ge 0 ]] && return 0
		kill -0 "$sb" 2>/dev/null || break
		sleep 0.1
	done
	echo "storm: switchboard did not start:" >&2
	tail -5 "$dir/sb$n_start.log" >&2
	return 1
}

# sipp_uac NAME RATE LIMIT PORT: N calls of subscribe-storm.xml from
# 127.0.0.1:PORT into $dir/NAME; sets rc and sippcpu.
csv=$dir/phones.csv
awk -v n="$N" -v b="$BASE" -v e="$EXTS" -v w="$WATCHER_BASE" 'BEGIN {
	print "SEQUENTIAL"
	for (i = 0; i < n; i++) print (w + i) ";" (b + i % e) ";"
}' >"$csv"
rttf=1
for f in 1000 500 100 50 10; do ((N % f == 0)) && { rttf=$f; break; }; done
sipp_uac() {
	local d=$dir/$1 tmax=$((N / $2 + 90))
	rm -rf "$d"
	mkdir -p "$d"
	(
		cd "$d" || exit 2
		exec "${pin[@]}" "${timer[@]}" timeout -k 5 $((tmax + 30)) sipp "127.0.0.1:$sip" \
			-sf "$sippdir/subscribe-storm.xml" -inf "$csv" \
			-i 127.0.0.1 -bind_local -p "$4" -t u1 \
			-m "$N" -r "$2" -l "$3" \
			-recv_timeout "$RECV_TIMEOUT_MS" -timeout "${tmax}s" \
			-buff_size 4194304 -max_recv_loops 5000 -max_sched_loops 5000 \
			-aa -deadcall_wait 0 \
			-nostdin -trace_stat -stf stat.csv -fd 1 \
			-trace_rtt -rtt_freq "$rttf" \
			-trace_err -error_file errors.log
	) >"$d/sipp.stdout" 2>"$d/sipp.stderr" </dev/null
	rc=$?
	sippcpu=$(awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { printf "%.1f s", $1 + $2 }' "$d/sipp.time" 2>/dev/null)
	sippcpu=${sippcpu:--}
}
# sipp_stat DIR COLUMN...: the columns of the last line of DIR/stat.csv
sipp_stat() {
	local d=$1
	shift
	awk -F';' -v cols="$*" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { last = $0 }
		END { n = split(cols, k, " "); split(last, f, ";")
			for (i = 1; i <= n; i++) printf "%d%s", f[c[k[i]]], (i < n ? " " : "\n") }' "$d/stat.csv" 2>/dev/null ||
		echo "0 0 0 0 0 0 0 0"
}
# rtt_times DIR: "first last200 lastnotify lastsent" from the rtt trace (ms
# since SIPp started; a call's SUBSCRIBE left at the date of its 200 less
# its response time)
rtt_times() {
	cat "$1"/*_rtt.csv 2>/dev/null | awk -F';' '
		$3 == 1 { s = $1 - $2; if (first == "" || s < first) first = s; if (s > lastsent) lastsent = s
			if ($1 > l1) l1 = $1; print $2 > "/dev/stderr" }
		$3 == 2 { if ($1 > l2) l2 = $1 }
		END { printf "%.3f %.3f %.3f %.3f\n", first, l1, l2, lastsent }' 2>"$1/rtd1.txt"
}
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
	i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; print v[i] }'; }

status=0
echo "storm: N=$N over $EXTS extensions, switchboard ${flags[*]}, files in $dir$( ((keep)) || echo ' (removed at exit)'), load average $(loadavg)"

# --- phase 1: the subscriptions -------------------------------------------
start_sb || exit 1
c0=$(cpu_ticks "$sb") t0=$(now)
read -r rcv0 snd0 < <(udp_errors)
sipp_uac subscribe "$RATE" "$LIMIT" "$phones"
t1=$(now)
read -r rcv1 snd1 < <(udp_errors)
sleep 1 # last 200s to the initial NOTIFYs settle
read -r ok failed retrans < <(sipp_stat "$dir/subscribe" "SuccessfulCall(C)" "FailedCall(C)" "Retransmissions(C)")
held=$(metric switchboard_subscriptions)
line="storm subscribe: $ok ok, $failed failed, $N in $(secs "$t0" "$t1") s at ${RATE}/s asked, server holds $held"
line+=" (switchboard_subscriptions), retrans $retrans, udp drops $((rcv1 - rcv0)) (server socket $(sock_drops "$sip"), send $((snd1 - snd0))),"
line+=" server cpu $(awk -v a="$c0" -v b="$(cpu_ticks "$sb")" -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) / hz }') s,"
line+=" rss $(($(kb "$sb" VmRSS) / 1024)) MB, sipp cpu $sippcpu, sipp rc $rc, load average $(loadavg)"
echo "$line"
[[ $ok -eq $N && $failed -eq 0 && $held -eq $N ]] || status=1

# --- phase 2: the restart -------------------------------------------------
# The phones' old dialogs go on being answered by the answerer on their
# port until the end; their new SUBSCRIBEs come from the next port.
mkdir -p "$dir/answer"
(
	cd "$dir/answer" || exit 2
	exec "${pin[@]}" sipp -sf "$sippdir/notify-answer.xml" -i 127.0.0.1 -bind_local -p "$phones" -t u1 \
		-buff_size 4194304 -max_recv_loops 5000 -max_sched_loops 5000 \
		-nostdin -trace_stat -stf stat.csv -fd 1 -trace_err -error_file errors.log
) >"$dir/answer/sipp.stdout" 2>&1 </dev/null &
answerer=$!
sleep 0.5
grace_s=$(awk -v g="$GRACE" 'BEGIN { if (g ~ /ms$/) print int(g / 1000) + 1; else if (g ~ /m$/) print int(g * 60) + 1; else print int(g) + 1 }')
t0=$(now)
exited=0
{ # (no "Killed" job notice on stderr)
	c0=$(cpu_ticks "$sb") c1=$c0
	kill -"$STOP_SIGNAL" "$sb"
	for _ in $(seq $(((grace_s + 30) * 10))); do
		kill -0 "$sb" 2>/dev/null || { exited=1; break; }
		c=$(cpu_ticks "$sb")
		((c > c1)) && c1=$c # the last reading before it is gone
		sleep 0.1
	done
	t1=$(now)
	((exited)) || kill -KILL "$sb"
	wait "$sb"
} 2>/dev/null
sb=
sleep 1.2 # the answerer writes its statistics every second
read -r told answered0 < <(sipp_stat "$dir/answer" "GenericCounter1(C)" "IncomingCall(C)")
t2=$(now)
up=0
start_sb && up=1
t3=$(now)
restored=-1
if ((up)); then
	# restore runs before SIP is served: wait until the gauge stops moving
	prev=-2
	for _ in $(seq 100); do
		restored=$(metric switchboard_subscriptions)
		[[ $restored -eq $prev ]] && break
		prev=$restored
		sleep 0.1
	done
fi
lost=$((N - told - restored))
line="storm restart: SIG$STOP_SIGNAL -> exited in $(secs "$t0" "$t1") s$( ((exited)) || echo ' (NOT within grace + 30 s: killed)'),"
line+=" $told of $N phones got 'terminated' while draining (grace $GRACE, server cpu"
line+=" $(awk -v a="$c0" -v b="$c1" -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) / hz }') s), $restored restored by the new process"
line+=" (up in $(secs "$t2" "$t3") s), $lost neither told nor kept"
((lost > 0 && restored == 0)) && line+=" (no subscription store: only --redis keeps them)"
line+=", load average $(loadavg)"
echo "$line"
((exited && up && lost == 0)) || status=1
((up)) || exit 1

# --- phase 3: the storm ---------------------------------------------------
sbpid=$sb
c0=$(cpu_ticks "$sb") b0=$(busy_ticks) t0=$(now)
read -r rcv0 snd0 < <(udp_errors)
sipp_uac resubscribe "$RESUB_RATE" "$RESUB_LIMIT" "$((PORT + 3))"
t1=$(now)
c1=$(cpu_ticks "$sb") b1=$(busy_ticks)
read -r rcv1 snd1 < <(udp_errors)
sleep 1.2
read -r ok failed retrans unexp maxretrans torecv aa < <(sipp_stat "$dir/resubscribe" "SuccessfulCall(C)" "FailedCall(C)" \
	"Retransmissions(C)" "FailedUnexpectedMessage(C)" "FailedMaxUDPRetrans(C)" "FailedTimeoutOnRecv(C)" "AutoAnswered(C)")
read -r answered1 < <(sipp_stat "$dir/answer" "IncomingCall(C)")
stop_pid "$answerer"
answerer=
e=$dir/resubscribe/errors.log
n503=$(grep -c "received 'SIP/2.0 503" "$e" 2>/dev/null)
n403=$(grep -c "received 'SIP/2.0 403" "$e" 2>/dev/null)
read -r first last200 lastnotify lastsent < <(rtt_times "$dir/resubscribe")
p99=$(pct "$dir/resubscribe/rtd1.txt" 99)
held=$(metric switchboard_subscriptions)
sfail=$(metric 'switchboard_sip_requests_failed_total{method="SUBSCRIBE"}')
line="storm resubscribe: $ok ok, $failed failed (503 ${n503:-0}, 403 ${n403:-0}, other unexpected $((unexp - ${n503:-0} - ${n403:-0})),"
line+=" unanswered $maxretrans, no NOTIFY $torecv),"
line+=" $(awk -v a="$first" -v b="$last200" 'BEGIN { printf "%.2f", (b - a) / 1000 }') s to last 200,"
line+=" $(awk -v a="$first" -v b="$lastnotify" 'BEGIN { printf "%.2f", (b - a) / 1000 }') s to last initial NOTIFY"
line+=" (first SUBSCRIBEs sent over $(awk -v a="$first" -v b="$lastsent" 'BEGIN { printf "%.1f", (b - a) / 1000 }') s,"
line+=" ${RESUB_RATE}/s asked, -l $RESUB_LIMIT; p99 200 $p99 ms), retrans $retrans, server cpu"
line+=" $(awk -v a="$c0" -v b="$c1" -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) / hz }') s, peak rss $(($(kb "$sbpid" VmHWM) / 1024)) MB,"
line+=" udp drops $((rcv1 - rcv0)) (server socket $(sock_drops "$sip"), send $((snd1 - snd0))),"
line+=" NOTIFY retransmissions auto-answered $aa, restored dialogs' NOTIFYs answered $((answered1 - answered0)),"
line+=" server holds $held, SUBSCRIBEs refused $sfail, sipp cpu $sippcpu, sipp rc $rc,"
line+=" machine busy $(awk -v a="$b0" -v b="$b1" -v hz="$clk" 'BEGIN { printf "%.1f", (b - a) / hz }') cpu-s of $(nproc) x $(secs "$t0" "$t1") s,"
line+=" load average $(loadavg)"
echo "$line"
[[ $ok -eq $N && $failed -eq 0 && $held -ge $N ]] || status=1
exit $status
