package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// handleRegister is the registrar, RFC 3261 §10.3.
func (s *Server) handleRegister(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if s.refuseDraining(req, tx) {
		return
	}
	// Step 1: the Request-URI names the domain, the To header the AOR.
	domain, ok := s.domainOf(req.Recipient.Host)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "Domain Not Served")
		return
	}
	// Steps 3-5: authenticate as the AOR's user in its domain, which must
	// be the Request-URI's, so a phone may change only its own bindings;
	// the PBX forwarding REGISTERs is trusted.
	if !s.registersOwnDomain(req, tx, domain) || !s.authenticate(req, tx, req.To().Address, true) {
		return
	}
	aor, ok := s.aorOf(req.To().Address)
	if !ok {
		s.replyCode(req, tx, sipmsg.StatusNotFound, "Not Found")
		return
	}
	reg, err := s.parseRegister(req)
	if err != nil {
		var brief *intervalTooBrief
		if errors.As(err, &brief) {
			s.replyCode(req, tx, sipmsg.StatusIntervalToBrief, "Interval Too Brief",
				sipmsg.NewHeader("Min-Expires", secs(s.cfg.RegisterMinExpires)))
			return
		}
		s.replyErr(req, tx, err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var bindings []presence.Binding
	if len(reg.Contacts) == 0 && !reg.RemoveAll {
		// A query: list the bindings, change nothing (§10.2.3).
		bindings, err = s.bindings(ctx, aor)
	} else {
		bindings, err = s.core.Register(ctx, aor, reg)
	}
	if err != nil {
		s.replyErr(req, tx, err)
		return
	}

	// Step 8: the 200 lists every current binding with its remaining time.
	res := newResponse(req, sipmsg.StatusOK, "OK", nil)
	now := time.Now()
	for _, b := range bindings {
		left := b.Expires.Sub(now).Round(time.Second)
		if left <= 0 {
			continue
		}
		v := "<" + b.Contact + ">;expires=" + secs(left)
		if b.Instance != "" {
			v += ";+sip.instance=\"" + b.Instance + "\""
		}
		res.AppendHeader(sipmsg.NewHeader("Contact", v))
	}
	res.AppendHeader(sipmsg.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	s.reply(req, tx, res)
}

// bindingLister is implemented by cores that can list bindings.
type bindingLister interface {
	Bindings(ctx context.Context, aor presence.AOR) ([]presence.Binding, error)
}

func (s *Server) bindings(ctx context.Context, aor presence.AOR) ([]presence.Binding, error) {
	if l, ok := s.core.(bindingLister); ok {
		return l.Bindings(ctx, aor)
	}
	return nil, nil
}

type intervalTooBrief struct{ asked time.Duration }

func (e *intervalTooBrief) Error() string { return fmt.Sprintf("expires %s below minimum", e.asked) }

// parseRegister reduces a REGISTER to a presence.Registration, applying the
// expiry rules of §10.2.1.1 and §10.3 step 7.
func (s *Server) parseRegister(req *sipmsg.Request) (presence.Registration, error) {
	reg := presence.Registration{CallID: req.CallID().Value(), CSeq: req.CSeq().SeqNo}
	def, err := expiresOf(req, s.cfg.RegisterDefaultExpires)
	if err != nil {
		return reg, err
	}
	headerSet := req.GetHeader("Expires") != nil
	// A REGISTER the PBX forwards has already been granted there: the copy
	// takes the PBX's lifetime as it is (Kamailio's recipe writes the
	// granted one into it), never a 423 the PBX would discard, leaving
	// the phone registered there and offline here.
	pbx := s.trusted(sourceAddr(req))
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
	}
	contacts := req.GetHeaders("Contact")
	for _, h := range contacts {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok {
			return reg, fmt.Errorf("%w: unreadable Contact", errBadRequest)
		}
		if c.Address.Wildcard {
			// §10.3 step 6: "*" only alone and only with Expires: 0.
			if len(contacts) != 1 || !headerSet || def != 0 {
				return reg, fmt.Errorf("%w: Contact * needs Expires: 0 and no other Contact", errBadRequest)
			}
			reg.RemoveAll = true
			return reg, nil
		}
		exp := def
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return reg, fmt.Errorf("%w: invalid expires parameter %q", errBadRequest, trimReason(v))
			}
			exp = time.Duration(n) * time.Second
		}
		if !pbx {
			if exp > 0 && exp < s.cfg.RegisterMinExpires {
				return reg, &intervalTooBrief{asked: exp}
			}
			exp = min(exp, s.cfg.RegisterMaxExpires)
		}
		if c.Address.Host == "" {
			return reg, fmt.Errorf("%w: Contact without host", errBadRequest)
		}
		var q float32
		if v, ok := c.Params.Get("q"); ok {
			f, err := strconv.ParseFloat(v, 32)
			if err != nil || f < 0 || f > 1 {
				return reg, fmt.Errorf("%w: invalid q %q", errBadRequest, trimReason(v))
			}
			q = float32(f)
		}
		inst, _ := c.Params.Get("+sip.instance")
		reg.Contacts = append(reg.Contacts, presence.ContactUpdate{
			URI: c.Address.String(), Expires: exp, Q: q, Instance: strings.Trim(inst, `"`),
			Source: req.Source(), Transport: req.Transport(), UserAgent: ua,
		})
	}
	return reg, nil
}
