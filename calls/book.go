package calls

import (
	"context"
	"encoding/base64"
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
// several instances may finish the same leg, one record results.
func (s *Service) insert(ctx context.Context, c Call) (bool, error) {
	written := false
	err := updateJSON(ctx, s.store, userKey(c.User), s.cfg.Retention, func(b *book) error {
		written = false
		if slices.ContainsFunc(b.Calls, func(x Call) bool { return x.ID == c.ID }) {
			return errKeep
		}
		i, _ := slices.BinarySearchFunc(b.Calls, c, func(x, t Call) int {
			if before(x, t) {
				return -1
			}
			return 1
		})
		b.Calls = slices.Insert(b.Calls, i, c)
		s.trim(b)
		written = slices.ContainsFunc(b.Calls, func(x Call) bool { return x.ID == c.ID })
		return nil
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
	b, err := getJSON[book](ctx, s.store, userKey(user))
	if errors.Is(err, ErrNotFound) {
		return book{}, nil
	}
	if err != nil {
		return book{}, fmt.Errorf("read calls of %s: %w", user, err)
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
	err := updateJSON(ctx, s.store, userKey(user), s.cfg.Retention, func(b *book) error {
		n := len(b.Calls)
		b.Calls = slices.DeleteFunc(b.Calls, func(c Call) bool { return c.ID == id })
		found = len(b.Calls) < n
		if !found {
			return errKeep
		}
		return nil
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
	now := s.now().UTC()
	err := updateJSON(ctx, s.store, userKey(user), s.cfg.Retention, func(b *book) error {
		b.ReadAt = now
		return nil
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
