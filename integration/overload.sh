#!/usr/bin/env bash
# Overload run: SIPp offers REGISTERs at several times what one source may
# send, against a switchboard binary started here on loopback. Prints the
# rate offered, the rate served (200) and refused (503), the peak RSS, and
# whether a request from another source is still served during and after.
#
#   overload.sh [rate] [seconds]      (default 4000/s for 10 s, at most 60 s)
#
# Needs: go, sipp, sipsak. Targets 127.0.0.1 only; bounded in count and time.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rate=${1:-4000}
secs=${2:-10}
((secs <= 60)) || { echo "at most 60 s" >&2; exit 2; }
calls=$((rate * secs))
tmp=$(mktemp -d)
trap 'kill "$sb" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/switchboard" "$here/../cmd/switchboard"
port=$((20000 + RANDOM % 20000))
"$tmp/switchboard" --sip-listen "127.0.0.1:$port" --http-listen "127.0.0.1:$((port + 1))" \
	--domain example.com --data-dir "$tmp/data" --log-level error >"$tmp/sb.log" 2>&1 &
sb=$!
sleep 1.5

cat >"$tmp/register.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register-any-answer">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:[call_number]@example.com>;tag=[pid]SIPpTag00[call_number]
To: <sip:[call_number]@example.com>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[call_number]@[local_ip]:[local_port]>
Expires: 300
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="503" optional="true" next="done"/>
  <recv response="200"/>
  <label id="done"/>
</scenario>
EOF

peak() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$sb/status"; }
echo "offering $rate REGISTER/s for ${secs}s ($calls calls) from one source"
sipp -sf "$tmp/register.xml" "127.0.0.1:$port" -i 127.0.0.1 -r "$rate" -m "$calls" \
	-timeout "$((secs + 30))" -trace_stat -stf "$tmp/stat.csv" -bg >/dev/null 2>&1 || true
# A phone at another source address: 5 REGISTERs, each must get a 200.
other() {
	if sipp -sf "$here/sipp/register.xml" "127.0.0.1:$port" -i 127.0.0.2 -p 0 -inf "$here/sipp/users.csv" \
		-set domain example.com -r 5 -m 5 -timeout 20 -nostdin >/dev/null 2>&1; then
		echo "served (5 of 5 REGISTERs got 200)"
	else
		echo "NOT served"
	fi
}
sleep 2
during=$(other)
sleep "$((secs + 3))"
pkill -f "$tmp/register.xml" 2>/dev/null || true
after=$(other)
metrics=$(curl -s "127.0.0.1:$((port + 1))/metrics")
total=$(awk '/^switchboard_sip_requests_total\{method="REGISTER"\}/ {print $2}' <<<"$metrics")
failed=$(awk '/^switchboard_sip_requests_failed_total\{method="REGISTER"\}/ {print $2}' <<<"$metrics")
echo "answered REGISTER: $total, of which refused (503): $failed, served: $((${total%.*} - ${failed%.*}))"
echo "served rate: $(((${total%.*} - ${failed%.*}) / secs))/s over the offered ${secs}s"
echo "peak RSS: $(peak)"
echo "another source during the load: $during"
echo "after the load: $after"
kill -0 "$sb" && echo "switchboard still running"
