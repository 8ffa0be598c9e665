package sip

import (
	"bytes"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// leanResponse is what the lean client needs of a response: its status,
// its top Via's branch, its CSeq method and its Retry-After, if any.
type leanResponse struct {
	code       int
	reason     string
	branch     string
	method     string
	retryAfter string
	hasRetry   bool
}

// scanResponse reads a response datagram's status line and the few headers
// the lean client matches on, without parsing the rest (a full parse of
// every NOTIFY's 200 was a tenth of a fan-out's CPU). It declines (false)
// whatever it would have to judge: folded lines, a comma in the top Via, a
// header it cannot place; the caller then parses fully.
func scanResponse(data []byte) (leanResponse, bool) {
	var r leanResponse
	eol := bytes.Index(data, crlf)
	if eol < 0 || !bytes.HasPrefix(data, sipVersionSP) {
		return r, false
	}
	status := data[len(sipVersionSP):eol]
	if len(status) < 3 || (len(status) > 3 && status[3] != ' ') {
		return r, false
	}
	code := 0
	for _, d := range status[:3] {
		if d < '0' || d > '9' {
			return r, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 || code > 699 {
		return r, false
	}
	r.code = code
	if len(status) > 4 {
		r.reason = string(status[4:])
	}
	rest := data[eol+2:]
	var haveVia, haveCSeq bool
	for {
		eol = bytes.Index(rest, crlf)
		if eol < 0 {
			return r, false
		}
		line := rest[:eol]
		rest = rest[eol+2:]
		if len(line) == 0 {
			break // end of the headers
		}
		if line[0] == ' ' || line[0] == '\t' {
			return r, false // folded
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, false
		}
		name := string(bytes.TrimRight(line[:colon], " \t"))
		value := string(bytes.TrimSpace(line[colon+1:]))
		switch {
		case strings.EqualFold(name, "Via") || strings.EqualFold(name, "v"):
			if haveVia {
				continue
			}
			haveVia = true
			if strings.IndexByte(value, ',') >= 0 {
				return r, false // several values on the line: the parser's job
			}
			b, ok := viaBranch(value)
			if !ok {
				return r, false
			}
			r.branch = b
		case strings.EqualFold(name, "CSeq"):
			if haveCSeq {
				return r, false
			}
			haveCSeq = true
			// Exactly "number SP method"; any other spacing is declined.
			num, m, ok := strings.Cut(value, " ")
			if !ok || m == "" || strings.ContainsAny(m, " \t") {
				return r, false
			}
			if _, err := strconv.ParseUint(num, 10, 32); err != nil {
				return r, false
			}
			r.method = m
		case strings.EqualFold(name, "Retry-After"):
			r.retryAfter, r.hasRetry = value, true
		}
	}
	return r, haveVia && haveCSeq
}

// viaBranch is the branch parameter of one Via value, written plainly
// ("branch=" and a token); any other spelling is declined, for the parser
// to judge.
func viaBranch(value string) (string, bool) {
	branch := ""
	for i, p := range strings.Split(value, ";") {
		if i == 0 {
			continue // sent-protocol and sent-by
		}
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "branch") {
			continue
		}
		if branch != "" || k != "branch" || v == "" || strings.ContainsAny(v, " \t\"") {
			return "", false // twice, or spelled otherwise
		}
		branch = v
	}
	return branch, branch != ""
}

// response is the sipmsg.Response the NOTIFY's outcome is judged on.
func (r leanResponse) response() *sipmsg.Response {
	res := sipmsg.NewResponse(r.code, r.reason)
	if r.hasRetry {
		res.AppendHeader(sipmsg.NewHeader("Retry-After", r.retryAfter))
	}
	return res
}
