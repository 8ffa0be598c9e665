package watcher

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// Body formats of the event packages.
const (
	contentDialogInfo = dialoginfo.ContentType
	contentPIDF       = pidf.ContentType
	contentReginfo    = "application/reginfo+xml"
)

// statusBadEvent is 489 Bad Event (RFC 6665 §8.3.1).
const statusBadEvent = 489

// Subscription-State values (RFC 6665 §8.2.3).
const (
	subActive     = "active"
	subPending    = "pending"
	subTerminated = "terminated"
)

// subscriptionState is a parsed Subscription-State header.
type subscriptionState struct {
	value      string
	reason     string
	expires    time.Duration
	retryAfter time.Duration
}

// parseSubscriptionState parses "active;expires=600" or
// "terminated;reason=deactivated;retry-after=30" (RFC 6665 §8.2.3).
func parseSubscriptionState(v string) (subscriptionState, error) {
	parts := strings.Split(v, ";")
	st := subscriptionState{value: strings.ToLower(strings.TrimSpace(parts[0]))}
	if st.value == "" {
		return st, fmt.Errorf("empty subscription-state %q", v)
	}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		name, val = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val)
		switch name {
		case "reason":
			st.reason = strings.ToLower(val)
		case "expires", "retry-after":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return st, fmt.Errorf("subscription-state %q: bad %s", v, name)
			}
			if name == "expires" {
				st.expires = time.Duration(n) * time.Second
			} else {
				st.retryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return st, nil
}

// notification is a NOTIFY handed from HandleNotify to the subscription's
// goroutine, its body already parsed.
type notification struct {
	callID string
	state  subscriptionState
	body   *presence.PublishBody // dialog or presence state; nil if none
	reg    *reginfo              // reg state; nil if none
}

// HandleNotify takes a NOTIFY that may belong to one of the watcher's
// subscriptions. It returns false, without answering, when it does not;
// otherwise it answers the NOTIFY and queues its state for the
// subscription. It never blocks.
func (w *Watcher) HandleNotify(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if req.CallID() == nil || req.From() == nil || req.To() == nil {
		return false
	}
	callID := req.CallID().Value()
	toTag, _ := req.To().Params.Get("tag")
	fromTag, _ := req.From().Params.Get("tag")
	stHdr := req.GetHeader("Subscription-State")
	var (
		st    subscriptionState
		stErr error
	)
	if stHdr == nil {
		stErr = fmt.Errorf("no subscription-state")
	} else {
		st, stErr = parseSubscriptionState(stHdr.Value())
	}

	w.mu.Lock()
	s, live := w.calls[callID]
	if !live {
		_, gone := w.gone[callID]
		w.mu.Unlock()
		if !gone {
			return false
		}
		// The final NOTIFY after our unsubscribe is expected; any other
		// tells the PBX to drop a subscription we no longer keep.
		if stErr == nil && st.value == subTerminated {
			respond(req, tx, sipmsg.StatusOK, "OK")
		} else {
			respond(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		}
		return true
	}
	// RFC 6665 §4.1.2.4: the NOTIFY's To tag is our From tag; its From tag
	// is the dialog's remote tag, which it may tell us before the 2xx does.
	if toTag != s.fromTag || fromTag == "" || (s.toTag != "" && s.toTag != fromTag) {
		w.mu.Unlock()
		respond(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Subscription Does Not Exist")
		return true
	}
	if ev := eventPackage(req); ev != s.event {
		w.mu.Unlock()
		respond(req, tx, statusBadEvent, "Bad Event")
		return true
	}
	if stErr != nil {
		w.mu.Unlock()
		respond(req, tx, sipmsg.StatusBadRequest, "Bad Subscription-State")
		return true
	}
	if s.toTag == "" {
		s.toTag = fromTag
	}
	if c := req.Contact(); c != nil {
		// RFC 6665 §4.1.2.4 / RFC 3261 §12.2.1.2: a NOTIFY's Contact
		// updates the remote target.
		s.target, s.hasTarget = *c.Address.Clone(), true
	}
	s.state = stateActive
	w.mu.Unlock()

	n := notification{callID: callID, state: st}
	if body := req.Body(); len(body) > 0 {
		var err error
		n.body, n.reg, err = parseBody(s.event, contentType(req), body)
		if err != nil {
			w.log.Debug().Err(err).Str("call_id", callID).Msg("bad notify body")
			respond(req, tx, sipmsg.StatusBadRequest, "Bad Body")
			return true
		}
	}
	select {
	case s.notes <- n:
		respond(req, tx, sipmsg.StatusOK, "OK")
	default:
		// The subscription's goroutine is far behind; the PBX's next
		// NOTIFY carries the full state again.
		respond(req, tx, sipmsg.StatusServiceUnavailable, "Busy")
	}
	return true
}

// eventPackage is the Event header's package name without parameters.
func eventPackage(req *sipmsg.Request) string {
	h := req.GetHeader("Event")
	if h == nil {
		h = req.GetHeader("o") // RFC 6665 §7.2 compact form
	}
	if h == nil {
		return ""
	}
	ev, _, _ := strings.Cut(h.Value(), ";")
	return strings.ToLower(strings.TrimSpace(ev))
}

func contentType(req *sipmsg.Request) string {
	ct := req.ContentType()
	if ct == nil {
		return ""
	}
	v, _, _ := strings.Cut(ct.Value(), ";")
	return strings.ToLower(strings.TrimSpace(v))
}

func respond(req *sipmsg.Request, tx sipmsg.ServerTransaction, code int, reason string) {
	// The transaction layer logs a failed send; the PBX retransmits.
	_ = tx.Respond(sipmsg.NewResponseFromRequest(req, code, reason, nil))
}

// parseBody parses a NOTIFY body by its Content-Type, falling back to the
// event package's format when the PBX leaves the type out.
func parseBody(event, ctype string, body []byte) (*presence.PublishBody, *reginfo, error) {
	if ctype == "" {
		ctype = acceptFor(event)
	}
	switch ctype {
	case contentDialogInfo:
		doc, err := dialoginfo.Parse(body)
		if err != nil {
			return nil, nil, err
		}
		return sip.DialogBody(doc), nil, nil
	case contentPIDF:
		doc, err := pidf.Parse(body)
		if err != nil {
			return nil, nil, err
		}
		return sip.PresenceBody(doc, time.Now()), nil, nil
	case contentReginfo:
		ri, err := parseReginfo(body)
		if err != nil {
			return nil, nil, err
		}
		return nil, ri, nil
	}
	return nil, nil, fmt.Errorf("unsupported content type %q", ctype)
}

// apply feeds one NOTIFY's state to the core.
func (s *sub) apply(ctx context.Context, n notification) {
	if n.state.value == subPending || n.state.value == subTerminated {
		// RFC 6665 §4.1.3: a pending subscription's NOTIFYs carry no state
		// worth showing, and a terminated one's is withdrawn right after.
		return
	}
	switch {
	case n.body != nil:
		if err := s.pub.publish(ctx, n.body, s.lifetimeFor(n.state)); err != nil {
			s.log.Warn().Err(err).Msg("feed notify")
		}
	case n.reg != nil:
		s.applyReg(ctx, n.callID, n.reg, s.lifetimeFor(n.state))
	}
}

// lifetimeFor is the publication lifetime after a NOTIFY.
func (s *sub) lifetimeFor(st subscriptionState) time.Duration {
	if st.expires > 0 && st.value == subActive {
		return st.expires + pubMargin
	}
	return s.lifetime()
}
