package sip

import (
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// statusBadExtension is 420 Bad Extension (RFC 3261 §21.4.15).
const statusBadExtension = 420

// extensions are the option tags (RFC 3261 §19.2) a request of each method
// may Require of us.
var extensions = map[sipmsg.RequestMethod][]string{}

// unsupported returns the option tags req Requires that we do not support
// for its method.
func unsupported(req *sipmsg.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.TrimSpace(tag)
			if tag != "" && !supports(req.Method, tag) {
				out = append(out, tag)
			}
		}
	}
	return out
}

func supports(method sipmsg.RequestMethod, tag string) bool {
	for _, t := range extensions[method] {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

// checkRequire refuses a request that Requires an extension we do not
// support with 420 and an Unsupported header listing it (RFC 3261
// §8.2.2.3), and reports whether the request may go on. Going on regardless
// would tell the client the extension is in force when it is not: a
// liblinphone friend-list SUBSCRIBE to sip:rls@… was taken for a
// subscription to an extension named "rls".
func (s *Server) checkRequire(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if req.IsCancel() {
		return true // §8.2.2.3: never for CANCEL; ACK never reaches here
	}
	tags := unsupported(req)
	if len(tags) == 0 {
		return true
	}
	s.replyCode(req, tx, statusBadExtension, "Bad Extension", sipmsg.NewHeader("Unsupported", strings.Join(tags, ", ")))
	return false
}
