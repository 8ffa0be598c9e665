package calls

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds a user's book of calls: writing a record once, retention,
// and the reads the API serves.

// book is a user's history: calls newest first, and when they last read it.
type book struct {
	Calls  []Call    `json:"calls"`
	ReadAt time.Time `json:"read_at,omitzero"`
}

func before(a, b Call) bool { // a is newer than b
	if !a.Started.Equal(b.Started) {
		return a.Started.After(b.Started)
	}
	return a.ID > b.ID
}

// insert adds c to its user's book unless a record with its ID is there:
// several instances may finish the same leg, one record results. It
// decodes no other record: it walks the frames (see bookdoc.go).
func (s *Service) insert(ctx context.Context, c Call) (bool, error) {
	body, err := json.Marshal(&c)
	if err != nil {
		return false, fmt.Errorf("record call %s of %s: %w", c.ID, c.User, err)
	}
	started := c.Started.UnixNano()
	written := false
	err = s.updateBook(ctx, c.User, func(d bookDoc) ([]byte, error) {
		written = false
		cut := s.now().Add(-s.cfg.Retention)
		// The records are newest first: the new one goes before the first
		// older one, and retention keeps a prefix of the result.
		pos := len(d.recs)
		it := frames{recs: d.recs}
		for it.next() {
			if string(it.f.id) == c.ID {
				return nil, errKeep
			}
			if pos == len(d.recs) && !it.f.newer(&c, started) {
				pos = it.f.from
			}
		}
		if it.err != nil {
			return nil, it.err
		}
		out := make([]byte, 0, 16+len(d.readAt)+len(d.recs)+len(body)+len(c.ID))
		out = appendHead(out, d.readAt)
		kept := 0
		keep := func(t time.Time) bool {
			if kept >= s.cfg.MaxPerUser || t.Before(cut) {
				return false
			}
			kept++
			return true
		}
		it = frames{recs: d.recs[:pos]}
		for it.next() {
			if !keep(time.Unix(0, it.f.started)) {
				return out, nil
			}
			out = append(out, d.recs[it.f.from:it.f.to]...)
		}
		if !keep(c.Started) {
			return out, nil
		}
		out = appendFrame(out, &c, body)
		written = true
		it = frames{recs: d.recs[pos:]}
		for it.next() {
			if !keep(time.Unix(0, it.f.started)) {
				return out, nil
			}
			out = append(out, d.recs[pos+it.f.from:pos+it.f.to]...)
		}
		return out, nil
	})
	if err != nil {
		return false, fmt.Errorf("record call %s of %s: %w", c.ID, c.User, err)
	}
	return written, nil
}

// trim applies retention: at most MaxPerUser calls, none older than
// Retention.
func (s *Service) trim(b *book) {
	cut := s.now().Add(-s.cfg.Retention)
	b.Calls = slices.DeleteFunc(b.Calls, func(c Call) bool { return c.Started.Before(cut) })
	if len(b.Calls) > s.cfg.MaxPerUser {
		b.Calls = b.Calls[:s.cfg.MaxPerUser]
	}
}

func (s *Service) book(ctx context.Context, user string) (book, error) {
	raw, err := s.store.Get(ctx, userKey(user))
	if errors.Is(err, ErrNotFound) {
		return book{}, nil
	}
	if err != nil {
		return book{}, fmt.Errorf("read calls of %s: %w", user, err)
	}
	b, err := decodeBook(raw)
	if err != nil {
		return book{}, fmt.Errorf("read calls of %s: decode %s: %w", user, userKey(user), err)
	}
	s.trim(&b)
	return b, nil
}

// Query selects a page of a user's calls.
type Query struct {
	// Cursor continues after the last call of a previous page.
	Cursor string
	// Limit is the page size (1 to 200; 0 means 50).
	Limit int
	// Missed keeps only missed calls.
	Missed bool
}

// Page is one page of calls, newest first.
type Page struct {
	Calls []Call
	// Next is the cursor of the next page; empty on the last.
	Next string
}

// List returns user's calls, newest first.
func (s *Service) List(ctx context.Context, user string, q Query) (Page, error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 0 || q.Limit > 200 {
		return Page{}, fmt.Errorf("limit %d: want 1 to 200: %w", q.Limit, ErrInvalid)
	}
	var after *Call
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		after = &c
	}
	b, err := s.book(ctx, user)
	if err != nil {
		return Page{}, err
	}
	var p Page
	for _, c := range b.Calls {
		if after != nil && !before(*after, c) {
			continue
		}
		if q.Missed && c.Outcome != Missed {
			continue
		}
		if len(p.Calls) == q.Limit {
			last := p.Calls[len(p.Calls)-1]
			p.Next = encodeCursor(last)
			break
		}
		p.Calls = append(p.Calls, c)
	}
	return p, nil
}

func encodeCursor(c Call) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Started.UnixNano(), 10) + " " + c.ID))
}

func decodeCursor(s string) (Call, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		ts, id, ok := strings.Cut(string(b), " ")
		if n, perr := strconv.ParseInt(ts, 10, 64); ok && perr == nil {
			return Call{ID: id, Started: time.Unix(0, n)}, nil
		}
	}
	return Call{}, fmt.Errorf("cursor %q: %w", s, ErrInvalid)
}

// Get returns one call of user.
func (s *Service) Get(ctx context.Context, user, id string) (Call, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return Call{}, err
	}
	for _, c := range b.Calls {
		if c.ID == id {
			return c, nil
		}
	}
	return Call{}, fmt.Errorf("call %s of %s: %w", id, user, ErrNotFound)
}

// Delete removes one call from user's history.
func (s *Service) Delete(ctx context.Context, user, id string) error {
	found := false
	err := s.updateBook(ctx, user, func(d bookDoc) ([]byte, error) {
		f, ok, err := findFrame(d, id)
		found = ok
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, errKeep
		}
		out := make([]byte, 0, 16+len(d.readAt)+len(d.recs))
		out = appendHead(out, d.readAt)
		out = append(out, d.recs[:f.from]...)
		return append(out, d.recs[f.to:]...), nil
	})
	if err != nil {
		return fmt.Errorf("delete call %s of %s: %w", id, user, err)
	}
	if !found {
		return fmt.Errorf("call %s of %s: %w", id, user, ErrNotFound)
	}
	return nil
}

// Missed counts user's missed calls that ended after they last read
// their history, and returns when that was.
func (s *Service) Missed(ctx context.Context, user string) (int, time.Time, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return 0, time.Time{}, err
	}
	n := 0
	for _, c := range b.Calls {
		if c.Outcome == Missed && c.Ended.After(b.ReadAt) {
			n++
		}
	}
	return n, b.ReadAt, nil
}

// MarkRead marks every call of user as read now.
func (s *Service) MarkRead(ctx context.Context, user string) error {
	readAt, err := s.now().UTC().MarshalBinary()
	if err != nil {
		return fmt.Errorf("mark calls of %s read: %w", user, err)
	}
	err = s.updateBook(ctx, user, func(d bookDoc) ([]byte, error) {
		out := make([]byte, 0, 16+len(readAt)+len(d.recs))
		return append(appendHead(out, readAt), d.recs...), nil
	})
	if err != nil {
		return fmt.Errorf("mark calls of %s read: %w", user, err)
	}
	return nil
}

// LastIncoming returns user's most recent incoming call.
func (s *Service) LastIncoming(ctx context.Context, user string) (Call, error) {
	b, err := s.book(ctx, user)
	if err != nil {
		return Call{}, err
	}
	for _, c := range b.Calls {
		if c.Direction == Incoming && c.Number != "" {
			return c, nil
		}
	}
	return Call{}, fmt.Errorf("last caller of %s: %w", user, ErrNotFound)
}

// DeleteUser removes everything kept for user: history and block list.
// Live legs expire by themselves.
func (s *Service) DeleteUser(ctx context.Context, user string) error {
	if err := s.store.Delete(ctx, userKey(user), blockKey(user)); err != nil {
		return fmt.Errorf("delete call history of %s: %w", user, err)
	}
	return nil
}
