#!/usr/bin/env bash
# Rate ladder with the SIPp scenarios of ../sipp against Kamailio (reference
# baseline, started here) or against any other SIP server (e.g. Switchboard).
#
#   bench.sh kamailio              start Kamailio with presence.cfg on a free
#                                  127.0.0.1 port in a temp dir, run the
#                                  ladder, stop it
#   bench.sh target HOST:PORT      run the same ladder against a running server
#
# For every scenario (register, subscribe, publish) and every rate of the
# ladder, ../sipp/run.sh is run with BENCH_CALLS calls; a step passes when all
# calls succeed. A scenario stops climbing at its first failing step. The
# summary gives, per scenario, the highest passing target rate and the rate
# actually achieved there (calls completed / wall time of the run).
#
# Environment:
#   BENCH_RATES      ladder of target rates, calls/s   (250 500 1000 2000 4000)
#   BENCH_CALLS      calls per step and scenario       (5000)
#   BENCH_TRANSPORT  u1 | t1                           (u1)
#   BENCH_SCENARIOS  scenarios to climb                (register subscribe publish)
#   BENCH_PAUSE      seconds of rest between steps     (2)
#   KAMAILIO_BIN     kamailio binary                   (kamailio)
#   KAMAILIO_CHILDREN  Kamailio UDP/TCP workers        (4)
#   KAMAILIO_SHM_MB  Kamailio shared memory, MB        (512)
#   BENCH_KEEP=1     keep the temp dir (Kamailio log, dbtext tables)
#   SIPP_*           passed through to run.sh (SIPP_DOMAIN, SIPP_TIMEOUT, ...)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_sh=$here/../sipp/run.sh
cfg=$here/presence.cfg

rates=${BENCH_RATES:-250 500 1000 2000 4000}
calls=${BENCH_CALLS:-5000}
transport=${BENCH_TRANSPORT:-u1}
scenarios=${BENCH_SCENARIOS:-register subscribe publish}
pause_s=${BENCH_PAUSE:-2}
kamailio_bin=${KAMAILIO_BIN:-kamailio}
children=${KAMAILIO_CHILDREN:-4}
shm_mb=${KAMAILIO_SHM_MB:-512}

usage() {
	sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "bench.sh: $*" >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
mode=$1
target=
case "$mode" in
kamailio) [[ $# -eq 1 ]] || usage ;;
target)
	[[ $# -eq 2 ]] || usage
	target=$2
	;;
*) usage ;;
esac

[[ -x $run_sh ]] || die "$run_sh missing or not executable"

workdir=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
kpid=

# shellcheck disable=SC2317 # invoked via trap
cleanup() {
	if [[ -n $kpid ]] && kill -0 "$kpid" 2>/dev/null; then
		kill "$kpid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$kpid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$kpid" 2>/dev/null; then
			kill -9 "$kpid" 2>/dev/null || true
		fi
		wait "$kpid" 2>/dev/null || true
		echo "bench.sh: kamailio (pid $kpid) stopped" >&2
	fi
	if [[ ${BENCH_KEEP:-0} == 1 ]]; then
		echo "bench.sh: work dir kept: $workdir" >&2
	else
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() {
	ss -Hlnu "sport = :$1" 2>/dev/null | grep -q . ||
		ss -Hlnt "sport = :$1" 2>/dev/null | grep -q .
}

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

start_kamailio() {
	command -v "$kamailio_bin" >/dev/null 2>&1 || die "kamailio not found"
	local port db
	port=$(free_port)
	db=$workdir/dbtext
	mkdir -p "$db"
	# db_text tables the presence modules check at start-up (their content
	# stays empty: subs_db_mode 0 and publ_cache 2 keep everything in memory)
	local t src=/usr/share/kamailio/dbtext/kamailio
	for t in version presentity active_watchers watchers xcap; do
		if [[ -r $src/$t ]]; then
			cp "$src/$t" "$db/$t"
		fi
	done
	[[ -r $db/version ]] || die "db_text schema not found in $src (package kamailio)"

	local defs=(-A "SB_PORT=$port" -A "SB_DBURL=\"text://$db\"" -A "SB_CHILDREN=$children")
	echo "bench.sh: checking $cfg" >&2
	if ! "$kamailio_bin" -c -f "$cfg" "${defs[@]}" >"$workdir/check.log" 2>&1; then
		cat "$workdir/check.log" >&2
		die "kamailio -c rejected $cfg"
	fi

	(cd "$workdir" && exec "$kamailio_bin" -f "$cfg" "${defs[@]}" \
		-P "$workdir/kamailio.pid" -w "$workdir" -DD -E \
		-m "$shm_mb" -M 32 >"$workdir/kamailio.log" 2>&1) &
	kpid=$!

	for _ in $(seq 1 100); do
		if ! kill -0 "$kpid" 2>/dev/null; then
			tail -n 30 "$workdir/kamailio.log" >&2
			die "kamailio exited during start-up"
		fi
		if port_in_use "$port"; then
			target=127.0.0.1:$port
			echo "bench.sh: kamailio $("$kamailio_bin" -v | head -n1 | awk '{print $3}') pid $kpid listening on $target (udp+tcp), children=$children" >&2
			return 0
		fi
		sleep 0.1
	done
	die "kamailio did not open port $port"
}

if [[ $mode == kamailio ]]; then
	start_kamailio
fi

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; other processes skew the figures)"
echo "== functional pass (run.sh quick, $transport) against $target"
if ! "$run_sh" "$target" quick "$transport"; then
	die "functional pass failed against $target; not climbing"
fi

declare -A best_target best_line
declare -A stopped
for scn in $scenarios; do
	best_target[$scn]=-
	best_line[$scn]="(no passing step)"
done

for rate in $rates; do
	echo "== step: target $rate calls/s, $calls calls per scenario, $transport"
	for scn in $scenarios; do
		if [[ -n ${stopped[$scn]:-} ]]; then
			continue
		fi
		sleep "$pause_s"
		out=$(SIPP_SCENARIOS=$scn "$run_sh" "$target" "$rate" "$calls" "$transport" 2>"$workdir/$scn-$rate.err") && ok=1 || ok=0
		line=$(grep "^$scn: " <<<"$out" || true)
		echo "${line:-$scn: no result}"
		if [[ $ok == 1 ]]; then
			best_target[$scn]=$rate
			best_line[$scn]=$line
		else
			stopped[$scn]=$rate
			head -n 5 "$workdir/$scn-$rate.err" | sed 's/^/    /' | cut -c1-300
		fi
	done
done

echo
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== summary: $target, $transport, $calls calls per step, ladder: $rates"
printf '%-10s %-14s %-12s %s\n' scenario max_ok_target achieved first_failure
for scn in $scenarios; do
	achieved=$(sed -n 's/.* rate=\([0-9.]*\/s\).*/\1/p' <<<"${best_line[$scn]}")
	printf '%-10s %-14s %-12s %s\n' "$scn" "${best_target[$scn]}" "${achieved:--}" "${stopped[$scn]:-none}"
done
if [[ $mode == kamailio ]]; then
	errs=$(grep -c -E 'ERROR|CRITICAL' "$workdir/kamailio.log" || true)
	echo "kamailio log: $errs ERROR/CRITICAL lines"
	if [[ $errs -gt 0 ]]; then
		grep -E 'ERROR|CRITICAL' "$workdir/kamailio.log" |
			sed -E 's/^[^E]*(ERROR|CRITICAL)/\1/; s/\[[^]]*(slot|ci):[^]]*\]/[...]/; s/[0-9]+/N/g' |
			cut -c1-160 | sort | uniq -c | sort -rn | head -n 5
	fi
fi
