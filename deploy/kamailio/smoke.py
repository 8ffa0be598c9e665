#!/usr/bin/env python3
"""Start deploy/kamailio/kamailio.cfg on loopback and prove it routes.

A stand-in for Switchboard (a UDP stub answering 200 OK) and two phones,
201 and 202, run in this process; every port is a free one on 127.0.0.1.
Checked, in order:

  0. kamcmd reaches the ctl socket (WITH_CTL, as in the container).
  1. REGISTER 201 and 202: each phone gets 200 OK from Kamailio, and the
     same REGISTER (the phone's Contact) is replicated to Switchboard.
  2. SUBSCRIBE 202 -> 201 (Event: dialog): relayed to Switchboard with a
     Record-Route; the 200 OK comes back to the phone; Switchboard's NOTIFY,
     sent along that route, reaches the phone.
  3. A call 202 -> 201 (INVITE, 180, 200, ACK, BYE): routed to 201's
     registered contact, and pua_dialoginfo PUBLISHes (Event: dialog) the
     states of both parties to Switchboard, ending in "terminated".

Stdlib only; exits 0 when all holds, 1 otherwise (Kamailio's log printed).
Usage: smoke.py [path/to/kamailio.cfg]
"""

import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "kamailio.cfg")
DOMAIN = "switchboard.local"
TIMEOUT = 5.0


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP (best effort)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def parse(data):
    text = data.decode("utf-8", "replace")
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            hdrs.append((name.strip().lower(), value.strip()))
    return {"start": lines[0], "hdrs": hdrs, "body": body, "raw": text}


def hget(msg, name):
    return [v for n, v in msg["hdrs"] if n == name]


def h1(msg, name):
    vals = hget(msg, name)
    return vals[0] if vals else ""


def is_request(msg, method=None):
    if msg["start"].startswith("SIP/2.0"):
        return False
    return method is None or msg["start"].split(" ", 1)[0] == method


def status(msg):
    if not msg["start"].startswith("SIP/2.0"):
        return 0
    return int(msg["start"].split()[1])


def tag():
    return "%08x" % random.getrandbits(32)


class UA:
    """A UDP endpoint that queues what it receives."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.inbox = queue.Queue()
        self.seen = []
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            msg = parse(data)
            msg["from_addr"] = addr
            self.seen.append(msg)
            self.on_message(msg, addr)

    def on_message(self, msg, addr):
        self.inbox.put(msg)

    def send(self, text, addr):
        self.sock.sendto(text.encode(), addr)

    def wait(self, pred, what, timeout=TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            try:
                msg = self.inbox.get(timeout=max(0.01, end - time.time()))
            except queue.Empty:
                break
            if pred(msg):
                return msg
        raise AssertionError("%s: timed out waiting for %s" % (self.name, what))

    def reply(self, req, code, reason, addr, extra=(), to_tag=None):
        lines = ["SIP/2.0 %d %s" % (code, reason)]
        for n, v in req["hdrs"]:
            if n in ("via", "record-route", "from", "call-id", "cseq"):
                lines.append("%s: %s" % (n.title(), v))
            elif n == "to":
                if to_tag and ";tag=" not in v:
                    v += ";tag=" + to_tag
                lines.append("To: " + v)
        lines += list(extra)
        lines.append("Content-Length: 0")
        self.send("\r\n".join(lines) + "\r\n\r\n", addr)


def request(method, ruri, ua, frm, to, callid, cseq, extra=(), body="", ctype=None):
    lines = [
        "%s %s SIP/2.0" % (method, ruri),
        "Via: SIP/2.0/UDP 127.0.0.1:%d;rport;branch=z9hG4bK%s" % (ua.port, tag()),
        "Max-Forwards: 70",
        "From: " + frm,
        "To: " + to,
        "Call-ID: " + callid,
        "CSeq: %d %s" % (cseq, method),
    ]
    lines += list(extra)
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines.append("Content-Length: %d" % len(body.encode()))
    return "\r\n".join(lines) + "\r\n\r\n" + body


class Switchboard(UA):
    """Answers every request with 200 OK, like a permissive Switchboard."""

    def on_message(self, msg, addr):
        if is_request(msg) and not is_request(msg, "ACK"):
            method = msg["start"].split()[0]
            extra = []
            if method in ("REGISTER", "SUBSCRIBE", "PUBLISH"):
                extra.append("Expires: %s" % (h1(msg, "expires") or "3600"))
            if method == "REGISTER":
                extra += ["Contact: " + c for c in hget(msg, "contact")]
            if method == "PUBLISH":
                extra.append("SIP-ETag: e" + tag())
            if method == "SUBSCRIBE":
                extra.append("Contact: <sip:switchboard@127.0.0.1:%d>" % self.port)
            self.reply(msg, 200, "OK", addr, extra, to_tag="sb" + tag())
        self.inbox.put(msg)


def main():
    if not shutil.which("kamailio"):
        print("kamailio not installed", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="kamailio-smoke-")
    shutil.copytree(os.path.join(HERE, "dbtext"), os.path.join(work, "dbtext"))
    sb = Switchboard("switchboard")
    p201 = UA("phone 201")
    p202 = UA("phone 202")
    kport = free_port()
    kam = ("127.0.0.1", kport)
    # The stand-in Switchboard is the dispatcher's only instance.
    with open(os.path.join(work, "dispatcher.list"), "w") as f:
        f.write("1 sip:127.0.0.1:%d 0 0\n" % sb.port)
    logf = open(os.path.join(work, "kamailio.log"), "w+")
    proc = subprocess.Popen(
        ["kamailio", "-f", CFG,
         "-A", "LISTEN_PORT=%d" % kport,
         "-A", 'DS_LIST="%s/dispatcher.list"' % work,
         "-A", 'SELF="127.0.0.1:%d"' % kport,
         "-A", 'PUA_DB_URL="text://%s/dbtext"' % work,
         "-A", "WITH_STDERR", "-A", "DEBUG_LEVEL=2",
         "-A", "WITH_CTL", "-A", 'CTL_SOCKET="%s/ctl"' % work,
         "-DD", "-E", "-P", os.path.join(work, "kamailio.pid"),
         "-Y", work, "-m", "64", "-M", "8"],
        stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    ok = False
    try:
        # Kamailio is up once it answers OPTIONS.
        probe = UA("probe")
        end = time.time() + 10
        while True:
            if proc.poll() is not None:
                raise AssertionError("kamailio exited with %d" % proc.returncode)
            probe.send(request("OPTIONS", "sip:127.0.0.1:%d" % kport, probe,
                               "<sip:probe@%s>;tag=%s" % (DOMAIN, tag()),
                               "<sip:127.0.0.1:%d>" % kport, tag(), 1), kam)
            try:
                probe.wait(lambda m: status(m) == 200, "OPTIONS 200", timeout=0.5)
                break
            except AssertionError:
                if time.time() > end:
                    raise

        # 0. ctl answers (the container health check uses it).
        if shutil.which("kamcmd"):
            out = subprocess.run(["kamcmd", "-s", "unix:%s/ctl" % work, "core.uptime"],
                                 capture_output=True, text=True, timeout=10)
            if out.returncode != 0 or "uptime" not in out.stdout:
                raise AssertionError("kamcmd core.uptime: %s %s" % (out.stdout, out.stderr))
            print("ok   kamcmd core.uptime over the ctl socket")

        # 1. REGISTER, replicated to Switchboard.
        for ext, ua in (("201", p201), ("202", p202)):
            callid = "reg-%s-%s" % (ext, tag())
            ua.send(request("REGISTER", "sip:" + DOMAIN, ua,
                            "<sip:%s@%s>;tag=%s" % (ext, DOMAIN, tag()),
                            "<sip:%s@%s>" % (ext, DOMAIN), callid, 1,
                            ["Contact: <sip:%s@127.0.0.1:%d>" % (ext, ua.port),
                             "Expires: 600"]), kam)
            ua.wait(lambda m, c=callid: status(m) == 200 and h1(m, "call-id") == c,
                    "200 OK to REGISTER")
            rep = sb.wait(lambda m, c=callid: is_request(m, "REGISTER") and h1(m, "call-id") == c,
                          "replicated REGISTER from %s" % ext)
            contact = h1(rep, "contact")
            if "127.0.0.1:%d" % ua.port not in contact:
                raise AssertionError("replicated REGISTER lost the phone's Contact: %r" % contact)
            print("ok   REGISTER %s replicated to Switchboard (Contact %s)" % (ext, contact))

        # 2. SUBSCRIBE for BLF, relayed to Switchboard; NOTIFY comes back.
        callid = "sub-" + tag()
        ftag = tag()
        p202.send(request("SUBSCRIBE", "sip:201@" + DOMAIN, p202,
                          "<sip:202@%s>;tag=%s" % (DOMAIN, ftag), "<sip:201@%s>" % DOMAIN,
                          callid, 1,
                          ["Contact: <sip:202@127.0.0.1:%d>" % p202.port,
                           "Event: dialog", "Accept: application/dialog-info+xml",
                           "Expires: 600"]), kam)
        sub = sb.wait(lambda m: is_request(m, "SUBSCRIBE") and h1(m, "call-id") == callid,
                      "relayed SUBSCRIBE")
        if not hget(sub, "record-route"):
            raise AssertionError("SUBSCRIBE reached Switchboard without Record-Route")
        ok200 = p202.wait(lambda m: status(m) == 200 and h1(m, "call-id") == callid,
                          "200 OK to SUBSCRIBE")
        print("ok   SUBSCRIBE relayed to Switchboard with Record-Route, 200 back to phone")
        # Switchboard (as UAS) sends NOTIFY to the subscriber's Contact via the route set.
        sb_to = h1(ok200, "to")
        routes = []
        for rr in hget(sub, "record-route"):
            routes += [r.strip() for r in rr.split(",")]
        notify_body = ('<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
                       'version="0" state="full" entity="sip:201@%s"/>\n' % DOMAIN)
        notify = request("NOTIFY", "sip:202@127.0.0.1:%d" % p202.port, sb,
                         sb_to, "<sip:202@%s>;tag=%s" % (DOMAIN, ftag), callid, 1,
                         ["Route: " + r for r in routes] +
                         ["Contact: <sip:switchboard@127.0.0.1:%d>" % sb.port,
                          "Event: dialog", "Subscription-State: active;expires=600"],
                         notify_body, "application/dialog-info+xml")
        # the first hop is Kamailio (the top Route)
        sb.send(notify, kam)
        n = p202.wait(lambda m: is_request(m, "NOTIFY") and h1(m, "call-id") == callid,
                      "NOTIFY routed back to the subscriber")
        p202.reply(n, 200, "OK", n["from_addr"])
        print("ok   NOTIFY from Switchboard routed back to the phone")

        # 3. A call 202 -> 201; pua_dialoginfo PUBLISHes to Switchboard.
        callid = "call-" + tag()
        ftag = tag()
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
        p202.send(request("INVITE", "sip:201@" + DOMAIN, p202,
                          "<sip:202@%s>;tag=%s" % (DOMAIN, ftag), "<sip:201@%s>" % DOMAIN,
                          callid, 1, ["Contact: <sip:202@127.0.0.1:%d>" % p202.port],
                          sdp, "application/sdp"), kam)
        inv = p201.wait(lambda m: is_request(m, "INVITE") and h1(m, "call-id") == callid,
                        "INVITE routed to 201's contact")
        ttag = tag()
        contact201 = ["Contact: <sip:201@127.0.0.1:%d>" % p201.port]
        p201.reply(inv, 180, "Ringing", inv["from_addr"], contact201, to_tag=ttag)
        time.sleep(0.3)
        p201.reply(inv, 200, "OK", inv["from_addr"], contact201, to_tag=ttag)
        ok200 = p202.wait(lambda m: status(m) == 200 and h1(m, "call-id") == callid
                          and "INVITE" in h1(m, "cseq"), "200 OK to INVITE")
        to_hdr = h1(ok200, "to")
        # UAC route set: the 200's Record-Route entries, reversed
        rrs = [x.strip() for rr in hget(ok200, "record-route") for x in rr.split(",")]
        route = ["Route: " + r for r in reversed(rrs)]
        ruri = "sip:201@127.0.0.1:%d" % p201.port
        frm = "<sip:202@%s>;tag=%s" % (DOMAIN, ftag)
        p202.send(request("ACK", ruri, p202, frm, to_hdr, callid, 1, route), kam)
        p201.wait(lambda m: is_request(m, "ACK") and h1(m, "call-id") == callid, "ACK at 201")
        time.sleep(0.5)
        p202.send(request("BYE", ruri, p202, frm, to_hdr, callid, 2, route), kam)
        bye = p201.wait(lambda m: is_request(m, "BYE") and h1(m, "call-id") == callid, "BYE at 201")
        p201.reply(bye, 200, "OK", bye["from_addr"])
        p202.wait(lambda m: status(m) == 200 and "BYE" in h1(m, "cseq"), "200 OK to BYE")
        print("ok   call 202 -> 201 routed by location (INVITE/180/200/ACK/BYE)")

        states = {}
        end = time.time() + TIMEOUT
        while time.time() < end:
            done = all("terminated" in states.get(e, []) for e in ("201", "202"))
            if done:
                break
            try:
                m = sb.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if not is_request(m, "PUBLISH"):
                continue
            if os.environ.get("SMOKE_VERBOSE"):
                print(m["raw"])
            if h1(m, "event").split(";")[0].strip() != "dialog":
                raise AssertionError("PUBLISH with Event %r" % h1(m, "event"))
            ent = re.search(r"sip:(\d+)@", m["start"])
            st = [x.lower() for x in re.findall(r"<state[^>]*>([A-Za-z]+)</state>", m["body"])]
            if ent:
                states.setdefault(ent.group(1), []).extend(st or ["(none)"])
        for e in ("201", "202"):
            got = states.get(e, [])
            if "confirmed" not in got or "terminated" not in got:
                raise AssertionError("PUBLISH states for %s: %s (want confirmed and terminated)" % (e, got))
        print("ok   pua_dialoginfo PUBLISHed dialog state to Switchboard: %s" %
              ", ".join("%s %s" % (e, "/".join(states[e])) for e in sorted(states)))
        ok = True
    except AssertionError as err:
        print("FAIL kamailio smoke: %s" % err)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not ok:
            logf.seek(0)
            print("---- kamailio log (tail) ----")
            print("".join(logf.readlines()[-60:]))
        logf.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
