#!/usr/bin/python3
"""Structural checks for deploy/ files that have no real validator here.

Usage: lint.py KIND FILE...   KIND: compose | k8s | dockerfile | asterisk |
                                    envfile | unit
Prints nothing and exits 0 when the files pass; prints one line per problem
and exits 1 otherwise. compose and k8s need PyYAML (Debian python3-yaml).
"""

import re
import sys


def load_yaml_docs(path):
    import yaml  # python3-yaml

    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def check_compose(path):
    errs = []
    (doc,) = load_yaml_docs(path)
    services = doc.get("services") or {}
    for name in ("redis", "nats", "switchboard-a", "switchboard-b"):
        if name not in services:
            errs.append("service %s missing" % name)
    host_ports = {}
    for name, svc in services.items():
        if not svc.get("image") and not svc.get("build"):
            errs.append("%s: neither image nor build" % name)
        if "restart" not in svc:
            errs.append("%s: no restart policy" % name)
        for p in svc.get("ports", []):
            m = re.match(r"^(?:\$\{[^}]+\}:|[\d.]+:)?(\d+):(\d+)(?:/(udp|tcp))?$", str(p))
            if not m:
                errs.append("%s: bad port mapping %r" % (name, p))
                continue
            key = (m.group(1), m.group(3) or "tcp")
            if key in host_ports:
                errs.append("%s: host port %s/%s also used by %s" % (name, key[0], key[1], host_ports[key]))
            host_ports[key] = name
        deps = svc.get("depends_on") or {}
        for dep in deps:
            if dep not in services:
                errs.append("%s: depends on unknown service %s" % (name, dep))
    for name in ("redis", "nats"):
        if name in services and "healthcheck" not in services[name]:
            errs.append("%s: no healthcheck" % name)
    nats_cmd = " ".join(map(str, services.get("nats", {}).get("command", [])))
    if "-js" not in nats_cmd.split() and "--jetstream" not in nats_cmd:
        errs.append("nats: JetStream not enabled (-js)")
    for name in ("switchboard-a", "switchboard-b"):
        svc = services.get(name, {})
        env = svc.get("environment") or {}
        for var in ("SWITCHBOARD_REDIS", "SWITCHBOARD_NATS", "SWITCHBOARD_INSTANCE_ID"):
            if var not in env:
                errs.append("%s: %s not set" % (name, var))
        for dep in ("redis", "nats"):
            cond = (svc.get("depends_on") or {}).get(dep, {})
            if not isinstance(cond, dict) or cond.get("condition") != "service_healthy":
                errs.append("%s: does not wait for %s to be healthy" % (name, dep))
        sip = {(k, proto) for (k, proto), n in host_ports.items() if n == name}
        if not any(p == "udp" for _, p in sip) or not any(p == "tcp" for _, p in sip):
            errs.append("%s: SIP not published on both UDP and TCP" % name)
    return errs


def check_k8s(paths):
    errs = []
    docs = []
    for path in paths:
        for d in load_yaml_docs(path):
            docs.append((path, d))
    kinds = {}
    for path, d in docs:
        if not isinstance(d, dict):
            errs.append("%s: document is not a mapping" % path)
            continue
        for key in ("apiVersion", "kind"):
            if not d.get(key):
                errs.append("%s: %s missing" % (path, key))
        if d.get("kind") != "Kustomization" and not (d.get("metadata") or {}).get("name"):
            errs.append("%s: metadata.name missing" % path)
        kinds.setdefault(d.get("kind"), []).append((path, d))
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "Kustomization"):
        if kind not in kinds:
            errs.append("no %s" % kind)

    for path, k in kinds.get("Kustomization", []):
        import os

        base = os.path.dirname(path)
        listed = set(k.get("resources", []))
        present = {os.path.basename(p) for p, d in docs if d.get("kind") != "Kustomization"}
        for r in listed - present:
            errs.append("%s: resource %s not found" % (path, r))
        for r in present - listed:
            errs.append("%s: %s not listed in resources" % (path, r))

    cm_keys = set()
    for path, cm in kinds.get("ConfigMap", []):
        for key, val in (cm.get("data") or {}).items():
            cm_keys.add(key)
            if not key.startswith("SWITCHBOARD_"):
                errs.append("%s: ConfigMap key %s is not SWITCHBOARD_*" % (path, key))
            if not isinstance(val, str):
                errs.append("%s: ConfigMap value of %s is not a string" % (path, key))

    for path, dep in kinds.get("Deployment", []):
        spec = dep["spec"]
        if spec.get("replicas") != 2:
            errs.append("%s: replicas is not 2" % path)
        sel = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in sel.items()):
            errs.append("%s: selector does not match the pod labels" % path)
        pod = spec["template"]["spec"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        sgrace = None
        for _, cm in kinds.get("ConfigMap", []):
            g = (cm.get("data") or {}).get("SWITCHBOARD_SHUTDOWN_GRACE")
            if g:
                m = re.match(r"^(\d+)s$", g)
                sgrace = int(m.group(1)) if m else None
        if sgrace is not None and grace <= sgrace:
            errs.append("%s: terminationGracePeriodSeconds %s not above shutdown grace %ss" % (path, grace, sgrace))
        psc = pod.get("securityContext") or {}
        for c in pod["containers"]:
            csc = c.get("securityContext") or {}
            if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
                errs.append("%s: container %s may run as root" % (path, c["name"]))
            if csc.get("readOnlyRootFilesystem") is not True:
                errs.append("%s: container %s root filesystem not read-only" % (path, c["name"]))
            if csc.get("allowPrivilegeEscalation") is not False:
                errs.append("%s: container %s allows privilege escalation" % (path, c["name"]))
            res = c.get("resources") or {}
            if not res.get("requests") or not res.get("limits"):
                errs.append("%s: container %s lacks resource requests/limits" % (path, c["name"]))
            probes = {
                "readinessProbe": "/readyz",
                "livenessProbe": "/healthz",
            }
            for probe, want in probes.items():
                got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != want:
                    errs.append("%s: %s path %r, want %s" % (path, probe, got, want))
            ports = {(p.get("containerPort"), p.get("protocol", "TCP")) for p in c.get("ports", [])}
            for want in ((5060, "UDP"), (5060, "TCP"), (8080, "TCP")):
                if want not in ports:
                    errs.append("%s: container port %s/%s missing" % (path, *want))
            for ref in c.get("envFrom", []):
                name = (ref.get("configMapRef") or {}).get("name")
                if name and name not in [cm["metadata"]["name"] for _, cm in kinds.get("ConfigMap", [])]:
                    errs.append("%s: envFrom unknown ConfigMap %s" % (path, name))
        pod_labels = labels

    for path, svc in kinds.get("Service", []):
        spec = svc["spec"]
        ports = {(p.get("port"), p.get("protocol", "TCP")) for p in spec.get("ports", [])}
        for want in ((5060, "UDP"), (5060, "TCP"), (8080, "TCP")):
            if want not in ports:
                errs.append("%s: Service port %s/%s missing" % (path, *want))
        if spec.get("sessionAffinity") != "ClientIP":
            errs.append("%s: SIP over UDP needs sessionAffinity: ClientIP" % path)
        if kinds.get("Deployment") and any(pod_labels.get(k) != v for k, v in spec.get("selector", {}).items()):
            errs.append("%s: Service selector does not match the pods" % path)
        names = [p.get("name") for p in spec.get("ports", [])]
        if len(names) != len(set(names)) or None in names:
            errs.append("%s: Service ports need unique names" % path)

    for path, pdb in kinds.get("PodDisruptionBudget", []):
        if pdb["spec"].get("minAvailable") != 1:
            errs.append("%s: minAvailable is not 1" % path)
    return errs


def check_dockerfile(path):
    errs = []
    lines = []
    cont = ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if line.lstrip().startswith("#") and not cont:
            continue
        if line.endswith("\\"):
            cont += line[:-1] + " "
            continue
        lines.append((cont + line).strip())
        cont = ""
    lines = [l for l in lines if l]
    instr = [l.split(None, 1)[0].upper() for l in lines]
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
             "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    for l, i in zip(lines, instr):
        if i not in known:
            errs.append("unknown instruction: %s" % l[:60])
    froms = [l for l, i in zip(lines, instr) if i == "FROM"]
    if "go build" in " ".join(lines) and len(froms) < 2:
        errs.append("not a multi-stage build (%d FROM)" % len(froms))
    stages = [re.search(r"(?i)\sAS\s+(\S+)", f) for f in froms]
    names = [m.group(1) for m in stages if m]
    for l, i in zip(lines, instr):
        m = re.search(r"--from=(\S+)", l)
        if i == "COPY" and m and m.group(1) not in names:
            errs.append("COPY --from=%s: no such stage" % m.group(1))
    users = [l.split(None, 1)[1] for l, i in zip(lines, instr) if i == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        errs.append("final stage does not switch to a non-root USER")
    last_from = max(idx for idx, i in enumerate(instr) if i == "FROM")
    if not any(i == "USER" for i in instr[last_from:]):
        errs.append("no USER in the final stage")
    if not any(i in ("ENTRYPOINT", "CMD") for i in instr[last_from:]):
        errs.append("no ENTRYPOINT/CMD in the final stage")
    if "go build" in " ".join(lines) and "CGO_ENABLED=0" not in " ".join(lines):
        errs.append("go build without CGO_ENABLED=0")
    for l, i in zip(lines, instr):
        if i == "RUN" and "apt-get install" in l and "apt-get update" not in l:
            errs.append("apt-get install without apt-get update in the same RUN")
    return errs


def check_asterisk(path):
    """Asterisk config structure: sections, key=value / key=>value, and for
    extensions.conf the exten/same/priority sequence."""
    errs = []
    section = None
    seen = {}
    is_ext = path.endswith("extensions.conf")
    last_ext = None
    for n, raw in enumerate(open(path), 1):
        line = re.sub(r"(?<!\\);.*$", "", raw).strip()
        if not line:
            continue
        if line.startswith("#include") or line.startswith("#exec"):
            continue
        m = re.match(r"^\[([^\]\s]+)\](\((!|[^)]*)\))?$", line)
        if m:
            section = m.group(1)
            seen.setdefault(section, []).append(n)
            last_ext = None
            continue
        if line.startswith("["):
            errs.append("%s:%d: bad section header %r" % (path, n, line))
            continue
        if section is None:
            errs.append("%s:%d: entry outside any section" % (path, n))
            continue
        m = re.match(r"^([A-Za-z0-9_@.\-]+)\s*(=>|=)\s*(.*)$", line)
        if not m:
            errs.append("%s:%d: not key=value: %r" % (path, n, line))
            continue
        key, op, val = m.groups()
        if val.count("(") != val.count(")"):
            errs.append("%s:%d: unbalanced parentheses" % (path, n))
        if val.count("${") > val.count("}"):
            errs.append("%s:%d: unterminated ${...}" % (path, n))
        if is_ext and section != "globals":
            if key == "exten":
                parts = val.split(",", 2)
                if len(parts) < 3:
                    errs.append("%s:%d: exten needs extension,priority,application" % (path, n))
                    continue
                ext, prio, app = parts
                if prio == "hint":
                    if not re.match(r"^(PJSIP|SIP|IAX2|Custom|DAHDI|Local)/|^(PJSIP|Custom):", app):
                        errs.append("%s:%d: odd hint device %r" % (path, n, app))
                    continue
                if prio not in ("1", "n") and not prio.isdigit():
                    errs.append("%s:%d: bad priority %r" % (path, n, prio))
                if prio == "n" and last_ext != ext:
                    errs.append("%s:%d: priority n before priority 1 of %s" % (path, n, ext))
                last_ext = ext
            elif key == "same":
                if last_ext is None:
                    errs.append("%s:%d: same => without a preceding exten" % (path, n))
                if not re.match(r"^n(\([^)]*\))?,", val):
                    errs.append("%s:%d: same => should start with n," % (path, n))
            elif key not in ("include", "switch", "ignorepat"):
                errs.append("%s:%d: unexpected %s in dialplan context" % (path, n, key))
            if key in ("exten", "same") and op != "=>":
                errs.append("%s:%d: use => for %s" % (path, n, key))
    # pjsip.conf: the same name may appear once per type; elsewhere once.
    for name, where in seen.items():
        if len(where) > 1 and is_ext:
            errs.append("%s: context [%s] defined %d times" % (path, name, len(where)))
    if path.endswith("pjsip.conf"):
        errs += check_pjsip_types(path)
    return errs


def check_pjsip_types(path):
    errs = []
    types = {"transport", "aor", "identify", "endpoint", "auth", "outbound-publish",
             "registration", "domain_alias", "contact", "acl", "global", "system",
             "phoneprov", "resource_list", "inbound-publication", "outbound-publish"}
    sections = []
    cur = None
    for n, raw in enumerate(open(path), 1):
        line = re.sub(r";.*$", "", raw).strip()
        m = re.match(r"^\[([^\]]+)\](?:\(([^)]*)\))?$", line)
        if m:
            cur = {"name": m.group(1), "tmpl": m.group(2), "line": n, "keys": {}}
            sections.append(cur)
            continue
        m = re.match(r"^([A-Za-z0-9_@.\-]+)\s*=\s*(.*)$", line)
        if m and cur is not None:
            cur["keys"][m.group(1)] = m.group(2)
    templates = {s["name"]: s for s in sections if s["tmpl"] == "!"}
    pairs = set()
    for s in sections:
        t = s["keys"].get("type")
        if t is None and s["tmpl"] and s["tmpl"] != "!":
            t = templates.get(s["tmpl"], {}).get("keys", {}).get("type")
            if s["tmpl"] not in templates:
                errs.append("%s:%d: unknown template %s" % (path, s["line"], s["tmpl"]))
        if t is None:
            errs.append("%s:%d: [%s] has no type" % (path, s["line"], s["name"]))
            continue
        if t not in types:
            errs.append("%s:%d: [%s] unknown type %s" % (path, s["line"], s["name"], t))
        if s["tmpl"] != "!":
            if (s["name"], t) in pairs:
                errs.append("%s:%d: [%s] type %s defined twice" % (path, s["line"], s["name"], t))
            pairs.add((s["name"], t))
    for s in sections:
        for ref_key, ref_type in (("aors", "aor"), ("auth", "auth"), ("endpoint", "endpoint"),
                                  ("transport", "transport")):
            ref = s["keys"].get(ref_key)
            if ref:
                for r in ref.split(","):
                    if (r.strip(), ref_type) not in pairs:
                        errs.append("%s:%d: [%s] %s=%s: no such %s" % (path, s["line"], s["name"], ref_key, r, ref_type))
    return errs


def check_envfile(path):
    errs = []
    for n, raw in enumerate(open(path), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not re.match(r"^SWITCHBOARD_[A-Z0-9_]+=\S*$", line):
            errs.append("%s:%d: not SWITCHBOARD_NAME=value: %r" % (path, n, line))
    return errs


UNIT_KEYS = {
    "Unit": {"Description", "Documentation", "Wants", "After", "Requires", "Before"},
    "Service": None,  # checked against the required set below
    "Install": {"WantedBy"},
}


def check_unit(path):
    """Fallback when systemd-analyze cannot run: sections and the keys that
    matter for this unit."""
    errs = []
    sec = None
    keys = {}
    for n, raw in enumerate(open(path), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            sec = m.group(1)
            if sec not in UNIT_KEYS:
                errs.append("%s:%d: unknown section [%s]" % (path, n, sec))
            continue
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if not m or sec is None:
            errs.append("%s:%d: not Key=value in a section" % (path, n))
            continue
        keys.setdefault((sec, m.group(1)), []).append(m.group(2))
    need = {
        ("Service", "ExecStart"), ("Service", "Restart"), ("Service", "TimeoutStopSec"),
        ("Service", "StateDirectory"), ("Service", "ProtectSystem"), ("Service", "NoNewPrivileges"),
        ("Service", "AmbientCapabilities"), ("Service", "EnvironmentFile"), ("Install", "WantedBy"),
    }
    for k in sorted(need - set(keys)):
        errs.append("%s: %s= missing in [%s]" % (path, k[1], k[0]))
    if ("Service", "DynamicUser") not in keys and ("Service", "User") not in keys:
        errs.append("%s: neither DynamicUser= nor User=" % path)
    return errs


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    kind, files = sys.argv[1], sys.argv[2:]
    if kind == "k8s":
        errs = check_k8s(files)
    else:
        fn = {
            "compose": check_compose,
            "dockerfile": check_dockerfile,
            "asterisk": check_asterisk,
            "envfile": check_envfile,
            "unit": check_unit,
        }[kind]
        errs = []
        for f in files:
            errs += fn(f)
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
