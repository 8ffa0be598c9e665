package calls

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard/presence"
)

// This file folds dialog reports and steps into live legs, and a leg that
// ends into its owner's record, once.

// leg is what is known of one live call leg, shared by instances.
type leg struct {
	CallID   string    `json:"call_id,omitempty"`
	URI      string    `json:"uri,omitempty"` // as reported, before enrichment
	Event    string    `json:"event,omitempty"`
	Code     int       `json:"code,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Answered time.Time `json:"answered,omitzero"`
	Ended    bool      `json:"ended,omitempty"`
	// EndedAt tells a late or repeated report of the ended leg (another
	// instance's, a retransmission) from a new call reusing its dialog
	// id, which can only start after it.
	EndedAt time.Time `json:"ended_at,omitzero"`
}

func legKey(aor presence.AOR, key string) string { return "leg:" + aor.String() + ":" + key }

func userKey(user string) string  { return "user:" + user }
func blockKey(user string) string { return "block:" + user }
func callKey(domain, callID string) string {
	return "call:" + domain + ":" + callID
}

// updateJSON runs fn on the decoded document at key.
func updateJSON[T any](ctx context.Context, st Store, key string, ttl time.Duration, fn func(*T) error) error {
	return st.Update(ctx, key, ttl, func(old []byte) ([]byte, error) {
		var v T
		if old != nil {
			if err := json.Unmarshal(old, &v); err != nil {
				return nil, fmt.Errorf("decode %s: %w", key, err)
			}
		}
		if err := fn(&v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
}

func getJSON[T any](ctx context.Context, st Store, key string) (T, error) {
	var v T
	b, err := st.Get(ctx, key)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

// report folds one raw dialog report into its leg: the first number
// reported wins, and a terminated report says why (RFC 4235 §4.1 event
// and code).
func (s *Service) report(ctx context.Context, at time.Time, aor presence.AOR, d presence.Dialog) error {
	return updateJSON(ctx, s.store, legKey(aor, d.Key()), s.cfg.LegTTL, func(l *leg) error {
		if l.Ended {
			if d.State == presence.DialogTerminated || !at.After(l.EndedAt) {
				return errKeep // a repeated or late report of the ended leg
			}
			*l = leg{} // the key is reused by a new call
		}
		changed := false
		set := func(dst *string, v string) {
			if *dst == "" && v != "" {
				*dst, changed = v, true
			}
		}
		set(&l.CallID, d.CallID)
		set(&l.URI, d.Remote.URI)
		if d.State == presence.DialogTerminated {
			l.Event, l.Code, changed = d.Event, d.Code, true
		}
		if !changed {
			return errKeep
		}
		return nil
	})
}

func direction(d presence.Dialog) Direction {
	if d.Direction == presence.DirectionInitiator {
		return Outgoing
	}
	return Incoming
}

// step applies one transition.
func (s *Service) step(ctx context.Context, at time.Time, t Transition) error {
	d := t.Dialog
	key := legKey(t.AOR, d.Key())
	switch t.Step {
	case StepStart:
		first := false
		var l leg
		err := updateJSON(ctx, s.store, key, s.cfg.LegTTL, func(x *leg) error {
			first = false
			if x.Ended {
				if !d.Started.After(x.EndedAt) {
					return errKeep // another instance's view of the ended leg
				}
				*x = leg{}
			}
			first = x.Started.IsZero()
			if first {
				x.Started = d.Started
			}
			if x.CallID == "" {
				x.CallID = d.CallID
			}
			if x.URI == "" {
				x.URI = d.Remote.URI
			}
			l = *x
			return nil
		})
		if err != nil || !first {
			return err
		}
		c := s.draft(ctx, t.AOR, d, l)
		s.emit(Event{Type: EventStarted, Call: c, Shared: d.Remote})
		return nil

	case StepAnswer:
		first, late := false, false
		var l leg
		err := updateJSON(ctx, s.store, key, s.cfg.LegTTL, func(x *leg) error {
			first, late = false, false
			if x.Ended && d.Started.After(x.EndedAt) {
				*x = leg{} // the key is reused by a new call
			}
			if !x.Answered.IsZero() {
				return errKeep
			}
			// An ended leg still takes its answer: the end may be
			// another instance's, done before this instance's worker
			// came to the answer it saw first (see answerRecord).
			first, late = true, x.Ended
			x.Answered = at
			if x.Started.IsZero() {
				x.Started = d.Started
			}
			if x.CallID == "" {
				x.CallID = d.CallID
			}
			l = *x
			return nil
		})
		if err != nil || !first {
			return err
		}
		if late {
			c, changed, err := s.answerRecord(ctx, t.AOR.String(), callRecordID(t.AOR, d.Key(), l.Started), l.Answered, t.AOR.User)
			if err != nil {
				return err
			}
			if changed {
				s.emit(Event{Type: EventEnded, Call: c, Shared: d.Remote})
			}
		}
		if l.CallID == "" || direction(d) != Incoming {
			return nil
		}
		return s.answeredHere(ctx, t.AOR, l.CallID)

	case StepEnd:
		var l leg
		first := false
		err := updateJSON(ctx, s.store, key, time.Hour, func(x *leg) error {
			first = false
			if x.Ended {
				return errKeep
			}
			first = true
			x.Ended, x.EndedAt = true, at
			if x.Started.IsZero() {
				x.Started = d.Started
			}
			l = *x
			return nil
		})
		if err != nil || !first {
			return err
		}
		return s.finish(ctx, at, t.AOR, d, l)
	}
	return nil
}

// draft is the call record as known while the leg is live.
func (s *Service) draft(ctx context.Context, aor presence.AOR, d presence.Dialog, l leg) Call {
	uri := l.URI
	if uri == "" {
		uri = d.Remote.URI
	}
	started := l.Started
	if started.IsZero() {
		started = d.Started
	}
	c := Call{
		ID: callRecordID(aor, d.Key(), started), User: aor.String(), Direction: direction(d),
		Number: NumberOf(uri), URI: uri, Started: started.UTC(), CallID: l.CallID,
	}
	c.Name = d.Remote.Display // what colleagues see, so the user may too
	if s.names != nil && c.Number != "" {
		if name, id, ok := s.names.NameFor(ctx, uri, c.User); ok && name != "" {
			c.Name, c.ContactID = name, id
		}
	}
	return c
}

// finish writes the record of an ended leg, once.
func (s *Service) finish(ctx context.Context, at time.Time, aor presence.AOR, d presence.Dialog, l leg) error {
	c := s.draft(ctx, aor, d, l)
	c.Ended = at.UTC()
	if !l.Answered.IsZero() {
		c.Answered = l.Answered.UTC()
		c.Duration = int(c.Ended.Sub(c.Answered).Seconds())
		c.Outcome, c.TakenBy = Answered, aor.User
	}
	if c.Outcome == "" {
		c.Outcome = unansweredOutcome(c.Direction, l.Event, l.Code)
	}
	written, err := s.insert(ctx, c)
	if err != nil || !written {
		return err
	}
	if c.Outcome != Answered {
		// The answer may have reached the leg since it was read as ended
		// (another instance's worker, behind this one). Record first,
		// then read the leg; the answer writes the leg, then patches the
		// record: whichever comes second sees the other, so an answer is
		// never lost.
		cur, err := getJSON[leg](ctx, s.store, legKey(aor, d.Key()))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if err == nil && !cur.Answered.IsZero() && cur.Started.Equal(l.Started) {
			ans, _, err := s.answerRecord(ctx, c.User, c.ID, cur.Answered, aor.User)
			if err != nil {
				return err
			}
			if ans.ID != "" {
				c = ans
			}
		}
	}
	if c.Outcome == Missed && c.CallID != "" {
		// Written first, then registered with the call: whichever of this
		// and the answering leg comes second turns it into answered
		// elsewhere (see answeredHere).
		var by string
		err := updateJSON(ctx, s.store, callKey(aor.Domain, c.CallID), s.cfg.LegTTL, func(cd *callDoc) error {
			by = cd.AnsweredBy
			if by != "" && by != aor.User {
				return errKeep
			}
			if !slices.Contains(cd.Missed, c.User+" "+c.ID) {
				cd.Missed = append(cd.Missed, c.User+" "+c.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if by != "" && by != aor.User {
			if err := s.patchElsewhere(ctx, c.User, c.ID, by); err != nil {
				return err
			}
			c.Outcome, c.TakenBy = AnsweredElsewhere, by
		}
	}
	s.emit(Event{Type: EventEnded, Call: c, Shared: d.Remote})
	return nil
}

// unansweredOutcome classifies a leg that was never answered here.
func unansweredOutcome(dir Direction, event string, code int) Outcome {
	if dir == Outgoing {
		return Unanswered
	}
	switch {
	case strings.EqualFold(event, "replaced"):
		return AnsweredElsewhere // directed pickup with Replaces
	case strings.EqualFold(event, "rejected"), code == 486, code == 600, code == 603:
		return Rejected
	}
	return Missed
}

// callDoc correlates the legs of one call (one Call-ID, as a forking PBX
// keeps it) across a domain's extensions.
type callDoc struct {
	AnsweredBy string   `json:"answered_by,omitempty"`
	Missed     []string `json:"missed,omitempty"` // "user id" of legs recorded as missed
}

// answeredHere records that ext took call callID and turns the legs
// already recorded as missed on other extensions into answered elsewhere.
func (s *Service) answeredHere(ctx context.Context, aor presence.AOR, callID string) error {
	var missed []string
	err := updateJSON(ctx, s.store, callKey(aor.Domain, callID), s.cfg.LegTTL, func(cd *callDoc) error {
		if cd.AnsweredBy != "" {
			return errKeep
		}
		cd.AnsweredBy = aor.User
		missed = slices.Clone(cd.Missed)
		cd.Missed = nil
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range missed {
		user, id, _ := strings.Cut(m, " ")
		if user == aor.String() {
			continue
		}
		if err := s.patchElsewhere(ctx, user, id, aor.User); err != nil {
			return err
		}
	}
	return nil
}

// answerRecord turns user's record id into an answered call (taken by
// ext), unless it already is one; it returns the record as stored (zero
// when absent: not written yet, or deleted) and whether it changed.
func (s *Service) answerRecord(ctx context.Context, user, id string, answered time.Time, ext string) (Call, bool, error) {
	c, changed, err := s.patchRecord(ctx, user, id, func(c *Call) bool {
		if c.Outcome == Answered {
			return false
		}
		c.Answered = answered.UTC()
		c.Duration = max(0, int(c.Ended.Sub(c.Answered).Seconds()))
		c.Outcome, c.TakenBy = Answered, ext
		return true
	})
	if err != nil {
		return Call{}, false, fmt.Errorf("record answer of call %s of %s: %w", id, user, err)
	}
	return c, changed, nil
}

func (s *Service) patchElsewhere(ctx context.Context, user, id, by string) error {
	_, _, err := s.patchRecord(ctx, user, id, func(c *Call) bool {
		if c.Outcome != Missed {
			return false
		}
		c.Outcome, c.TakenBy = AnsweredElsewhere, by
		return true
	})
	return err
}

func (s *Service) emit(ev Event) {
	s.mu.RLock()
	fn := s.onEvent
	s.mu.RUnlock()
	if fn != nil {
		fn(ev)
	}
}

// callRecordID names the record of one leg: the same leg (extension,
// dialog, start) gets the same ID on every instance.
func callRecordID(aor presence.AOR, key string, started time.Time) string {
	h := sha256.Sum256([]byte(aor.String() + "\x00" + key + "\x00" + strconv.FormatInt(started.UnixNano(), 10)))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:10]))
}

// NumberOf is the user part of a SIP or tel URI ("sip:+334…@host;…").
func NumberOf(uri string) string {
	s := strings.TrimSpace(uri)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range [...]string{"sips:", "sip:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexAny(s, "@;?"); i >= 0 {
		s = s[:i]
	}
	return s
}
