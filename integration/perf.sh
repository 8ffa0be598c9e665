#!/usr/bin/env bash
# integration/perf.sh [perf] [fanout] [memory]   (default: all three, about 6 minutes)
#
# Runs Kamailio 5.6 (one worker) and Switchboard (embedded default, --rate-limit -1)
# one after the other on the same SIPp load over UDP loopback and prints, per
# scenario, both servers' CPU seconds per operation and the ratio Kamailio/Switchboard
# (>= 1.00: Switchboard at least as efficient), then the fan-out (time to the last
# NOTIFY of one PUBLISH to 1,000 and 10,000 watchers) and the RSS per held
# subscription at 50,000. The pieces are in integration/perf/ (see compare.sh and the
# header of each script for its knobs). Needs sipp (sip-tester), kamailio and
# kamailio-presence-modules; everything listens on 127.0.0.1 and is stopped by PID.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
exec integration/perf/compare.sh "$@"
