#!/usr/bin/env bash
# Validate every file in deploy/ with the real tool where there is one.
#
#   bash deploy/check.sh            # from anywhere; exits non-zero on failure
#   DEPLOY_CHECK_NO_INSTALL=1 ...   # never apt-get; missing tools -> FAIL
#   DEPLOY_CHECK_NO_SMOKE=1 ...     # skip starting Kamailio (kamailio -c only)
#
# Prints one line per check: "ok   <file> (<tool>)", "FAIL <file> (<tool>)"
# followed by the tool's output, or "skip <file> (<why>)" when a tool cannot
# run here and a fallback covered the file. Installs missing Debian packages
# (kamailio, kamailio-presence-modules, libxml2-utils, python3-yaml,
# yamllint, systemd) with apt-get when run as root. Idempotent; leaves no
# files behind.
set -uo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3 # Debian's python3, where python3-yaml installs
FAILED=0
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

rel() { if [ "$1" = "$DEPLOY" ]; then echo deploy/; else echo "deploy/${1#"$DEPLOY"/}"; fi; }
ok() { printf 'ok   %s (%s)\n' "$(rel "$1")" "$2"; }
skip() { printf 'skip %s (%s)\n' "$(rel "$1")" "$2"; }
fail() {
	printf 'FAIL %s (%s)\n' "$(rel "$1")" "$2"
	[ -s "$TMP/out" ] && sed 's/^/     /' "$TMP/out"
	FAILED=1
}
# run FILE TOOL CMD...: ok when CMD exits 0 and prints nothing (stdout and
# stderr); ALLOW_OUTPUT=1 run ... accepts output on success.
run() {
	local file=$1 tool=$2
	shift 2
	if "$@" >"$TMP/out" 2>&1 && { [ "${ALLOW_OUTPUT:-0}" = 1 ] || [ ! -s "$TMP/out" ]; }; then
		ok "$file" "$tool"
	else
		fail "$file" "$tool"
	fi
}

APT_UPDATED=0
# need CMD PKG: make sure CMD exists, installing PKG from Debian if not.
need() {
	local cmd=$1 pkg=$2
	if [ "$cmd" = "yaml" ]; then
		$PY -c 'import yaml' 2>/dev/null && return 0
	elif command -v "$cmd" >/dev/null 2>&1; then
		return 0
	fi
	[ "${DEPLOY_CHECK_NO_INSTALL:-0}" = 1 ] && return 1
	[ "$(id -u)" = 0 ] || return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	if [ $APT_UPDATED = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkg >/dev/null 2>&1 || return 1
	if [ "$cmd" = "yaml" ]; then $PY -c 'import yaml' 2>/dev/null; else command -v "$cmd" >/dev/null 2>&1; fi
}

nothing() { : >"$TMP/out"; }

# ---------------------------------------------------------------- YAML
need python3 python3 || true
if need yaml python3-yaml; then
	YAML_FILES=("$DEPLOY/compose.yaml" "$DEPLOY"/kubernetes/*.yaml)
	for f in "${YAML_FILES[@]}"; do
		run "$f" "yaml.safe_load_all" $PY -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$f"
	done
	if need yamllint yamllint; then
		for f in "${YAML_FILES[@]}"; do
			run "$f" "yamllint" yamllint -s -d '{extends: relaxed, rules: {line-length: disable}}' "$f"
		done
	else
		nothing
		fail "$DEPLOY/compose.yaml" "yamllint not installable"
	fi
	run "$DEPLOY/compose.yaml" "lint.py compose: services, ports, healthchecks" $PY "$DEPLOY/lint.py" compose "$DEPLOY/compose.yaml"
	run "$DEPLOY/kubernetes" "lint.py k8s: kinds, probes, ports, affinity, securityContext" \
		$PY "$DEPLOY/lint.py" k8s "$DEPLOY"/kubernetes/*.yaml
else
	nothing
	fail "$DEPLOY/compose.yaml" "python3-yaml not installable"
fi

# docker compose: only where the plugin works (not in CI here).
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
	run "$DEPLOY/compose.yaml" "docker compose config" docker compose -f "$DEPLOY/compose.yaml" --profile pbx config -q
else
	skip "$DEPLOY/compose.yaml" "docker compose not available; lint.py compose covered it"
fi

# kubeconform / kubectl kustomize where present (not in Debian).
if command -v kubeconform >/dev/null 2>&1; then
	run "$DEPLOY/kubernetes" "kubeconform" kubeconform -strict -summary=false -skip Kustomization "$DEPLOY"/kubernetes/*.yaml
else
	skip "$DEPLOY/kubernetes" "kubeconform not available; lint.py k8s covered it"
fi
if command -v kubectl >/dev/null 2>&1; then
	ALLOW_OUTPUT=1 run "$DEPLOY/kubernetes/kustomization.yaml" "kubectl kustomize" kubectl kustomize "$DEPLOY/kubernetes"
fi

# ---------------------------------------------------------------- Dockerfiles
for f in "$DEPLOY/Dockerfile" "$DEPLOY/kamailio/Dockerfile"; do
	if command -v hadolint >/dev/null 2>&1; then
		run "$f" "hadolint" hadolint --ignore DL3008 "$f"
	else
		run "$f" "lint.py dockerfile: stages, non-root USER, entrypoint" $PY "$DEPLOY/lint.py" dockerfile "$f"
	fi
done

# The builder stage's command, run here (no Docker engine needed).
if command -v go >/dev/null 2>&1 && [ -f "$DEPLOY/../go.mod" ]; then
	run "$DEPLOY/Dockerfile" "builder command: CGO_ENABLED=0 go build -trimpath, --check-config" \
		bash -c 'cd "$1/.." && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$2/switchboard" ./cmd/switchboard && "$2/switchboard" --check-config --data-dir "$2" >"$2/cc.out" 2>&1; grep -qx "configuration ok" "$2/cc.out" || { cat "$2/cc.out"; exit 1; }' _ "$DEPLOY" "$TMP"
fi

# ---------------------------------------------------------------- systemd
UNIT="$DEPLOY/systemd/switchboard.service"
if need systemd-analyze systemd; then
	# verify needs the ExecStart binary to exist: point it at a stand-in.
	mkdir -p "$TMP/unit"
	printf '#!/bin/sh\nexit 0\n' >"$TMP/unit/switchboard" && chmod +x "$TMP/unit/switchboard"
	sed "s|/usr/local/bin/switchboard|$TMP/unit/switchboard|g" "$UNIT" >"$TMP/unit/switchboard.service"
	if systemd-analyze verify "$TMP/unit/switchboard.service" >"$TMP/out" 2>&1 && [ ! -s "$TMP/out" ]; then
		ok "$UNIT" "systemd-analyze verify"
	elif grep -qiE 'failed to (initialize|connect|create)|not been booted|System has not' "$TMP/out"; then
		skip "$UNIT" "systemd-analyze cannot run here: $(head -1 "$TMP/out")"
	else
		sed -i "s|$TMP/unit/|deploy/systemd/|g" "$TMP/out"
		fail "$UNIT" "systemd-analyze verify"
	fi
	# exposure score (0 safest .. 10); 3.0 or more fails.
	if systemd-analyze security --offline=yes --threshold=30 "$TMP/unit/switchboard.service" >"$TMP/out" 2>&1; then
		ok "$UNIT" "systemd-analyze security: $(grep -o 'exposure level[^:]*: [0-9.]*' "$TMP/out" | sed 's/.*: //') <= 3.0"
	else
		fail "$UNIT" "systemd-analyze security --threshold=30"
	fi
else
	skip "$UNIT" "systemd-analyze not installable"
fi
run "$UNIT" "lint.py unit: required keys" $PY "$DEPLOY/lint.py" unit "$UNIT"
run "$DEPLOY/systemd/switchboard.env.example" "lint.py envfile" $PY "$DEPLOY/lint.py" envfile "$DEPLOY/systemd/switchboard.env.example"
# every SWITCHBOARD_* named in the env file is a flag twin the binary knows
# (or one of the announced ones); cheap guard against typos.
KNOWN="SIP_LISTEN HTTP_LISTEN DATA_DIR DOMAIN LOG_FORMAT LOG_LEVEL SHUTDOWN_GRACE BLF_SINGLE_DIALOG CHECK_CONFIG REDIS NATS INSTANCE_ID TRUSTED_CIDR PUBLISH_MAX_EXPIRES"
: >"$TMP/out"
for f in "$DEPLOY/systemd/switchboard.env.example" "$DEPLOY/compose.yaml" "$DEPLOY/kubernetes/configmap.yaml" "$DEPLOY/Dockerfile" "$UNIT" "$DEPLOY"/kubernetes/deployment.yaml; do
	for v in $(grep -oE 'SWITCHBOARD_[A-Z0-9]+(_[A-Z0-9]+)*' "$f" | sort -u); do
		case " $KNOWN " in *" ${v#SWITCHBOARD_} "*) ;; *) echo "$(rel "$f"): unknown variable $v" >>"$TMP/out" ;; esac
	done
done
if [ -s "$TMP/out" ]; then fail "$DEPLOY" "SWITCHBOARD_* names"; else ok "$DEPLOY" "SWITCHBOARD_* names match the flags"; fi

# ---------------------------------------------------------------- Kamailio
KCFG="$DEPLOY/kamailio/kamailio.cfg"
if need kamailio "kamailio kamailio-presence-modules"; then
	# pua/pua_dialoginfo come from kamailio-presence-modules
	if ! find /usr/lib*/ -path '*kamailio/modules/pua_dialoginfo.so' 2>/dev/null | grep -q .; then
		[ "${DEPLOY_CHECK_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio-presence-modules >/dev/null 2>&1
	fi
	# http_client and json (WITH_CALLERID) come from kamailio-utils-modules and kamailio-json-modules
	if ! find /usr/lib*/ -path '*kamailio/modules/http_client.so' 2>/dev/null | grep -q .; then
		[ "${DEPLOY_CHECK_NO_INSTALL:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kamailio-utils-modules kamailio-json-modules >/dev/null 2>&1
	fi
	ALLOW_OUTPUT=1 run "$KCFG" "kamailio -c" kamailio -c -f "$KCFG"
	ALLOW_OUTPUT=1 run "$KCFG" "kamailio -c, compose defines" \
		kamailio -c -f "$KCFG" -A LISTEN_IP=lo -A 'SELF="kamailio:5060"' -A WITH_CTL -A WITH_CALLERID -A WITH_AUTH -A WITH_STDERR
	if [ "${DEPLOY_CHECK_NO_SMOKE:-0}" = 1 ]; then
		skip "$KCFG" "smoke test disabled by DEPLOY_CHECK_NO_SMOKE"
	elif $PY "$DEPLOY/kamailio/smoke.py" "$KCFG" >"$TMP/out" 2>&1; then
		ok "$KCFG" "smoke.py: REGISTER replicated, SUBSCRIBE/NOTIFY relayed, pua_dialoginfo PUBLISH"
	else
		fail "$KCFG" "smoke.py"
	fi
else
	nothing
	fail "$KCFG" "kamailio not installable"
fi

# ---------------------------------------------------------------- Asterisk
# Asterisk is not packaged in Debian bookworm: structural parse instead.
for f in "$DEPLOY/asterisk/pjsip.conf" "$DEPLOY/asterisk/extensions.conf"; do
	if command -v asterisk >/dev/null 2>&1; then
		skip "$f" "asterisk installed but a config load needs a full instance; using lint.py"
	fi
	run "$f" "lint.py asterisk: sections, key=value, dialplan priorities" $PY "$DEPLOY/lint.py" asterisk "$f"
done

# ---------------------------------------------------------------- FreeSWITCH
if need xmllint libxml2-utils; then
	for f in "$DEPLOY"/freeswitch/*.xml "$DEPLOY"/freeswitch/dialplan/*.xml; do
		run "$f" "xmllint --noout" xmllint --noout "$f"
	done
else
	nothing
	fail "$DEPLOY/freeswitch" "xmllint not installable"
fi

# ---------------------------------------------------------------- shell
if command -v shellcheck >/dev/null 2>&1; then
	run "$DEPLOY/check.sh" "shellcheck" shellcheck -S warning "$DEPLOY/check.sh"
fi
run "$DEPLOY/check.sh" "bash -n" bash -n "$DEPLOY/check.sh"
run "$DEPLOY/lint.py" "py_compile" $PY -c 'import ast,sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' "$DEPLOY/lint.py" "$DEPLOY/kamailio/smoke.py"

exit $FAILED
