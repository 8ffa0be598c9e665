package directory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrGap reports that the change log no longer holds the changes after a
// position (they were trimmed, or the store was reset): the reader must
// reload everything from the store.
var ErrGap = errors.New("change log gap")

// Change is one committed Batch as the change log holds it, numbered by a
// store-wide sequence without holes.
type Change struct {
	Seq   uint64
	Batch Batch
	pos   string // store position of this change (a Redis stream ID)
	// raw, when set, is Batch's JSON not decoded yet: Batch holds only
	// its Origin until decode.
	raw []byte
}

// decode decodes the batch of a change read undecoded.
func (ch *Change) decode() error {
	if ch.raw == nil {
		return nil
	}
	origin := ch.Batch.Origin
	ch.Batch = Batch{}
	if err := decodeBatchJSON(ch.raw, &ch.Batch); err != nil {
		return fmt.Errorf("decode change %d: %w", ch.Seq, err)
	}
	if ch.Batch.Origin != origin {
		return fmt.Errorf("decode change %d: origin %q in the log entry, %q in its batch", ch.Seq, origin, ch.Batch.Origin)
	}
	ch.raw = nil
	return nil
}

// Position is a point in the change log: every change up to Seq is
// included. ID is the store's own position (a Redis stream ID), empty for
// in-process logs.
type Position struct {
	Seq uint64
	ID  string
}

// after returns the position just past c.
func (c Change) after() Position { return Position{Seq: c.Seq, ID: c.pos} }

// localLog is the change log of a store that only this process writes (bolt,
// memory): the recent changes in memory, sequenced in commit order. A
// restart reloads from the store, so the log need not persist.
type localLog struct {
	mu      sync.Mutex // guards the fields below
	seq     uint64
	entries []Change      // the newest changes, oldest first
	items   int           // writes held in entries
	wake    chan struct{} // closed and replaced on every append
}

// Retention of a localLog: its only reader is this process, which applies
// each change right after committing it, so a short log suffices.
const (
	localLogMaxEntries = 256
	localLogMaxItems   = 20000
)

func newLocalLog() *localLog { return &localLog{wake: make(chan struct{})} }

// append records b as the next change and returns its sequence. The store
// calls it while still holding its write lock, so sequence order is
// commit order.
func (l *localLog) append(b Batch) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.entries = append(l.entries, Change{Seq: l.seq, Batch: b})
	l.items += b.size()
	for len(l.entries) > 1 && (len(l.entries) > localLogMaxEntries || l.items > localLogMaxItems) {
		l.items -= l.entries[0].Batch.size()
		l.entries[0] = Change{}
		l.entries = l.entries[1:]
	}
	close(l.wake)
	l.wake = make(chan struct{})
	return l.seq
}

func (l *localLog) head() Position {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Position{Seq: l.seq}
}

// changes returns up to limit changes after pos, waiting up to wait for one.
func (l *localLog) changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	var timer <-chan time.Time
	for {
		l.mu.Lock()
		if after.Seq > l.seq {
			l.mu.Unlock()
			return nil, ErrGap
		}
		if after.Seq < l.seq {
			first := l.seq - uint64(len(l.entries)) + 1
			if after.Seq+1 < first {
				l.mu.Unlock()
				return nil, ErrGap
			}
			from := after.Seq + 1 - first
			to := min(uint64(len(l.entries)), from+uint64(limit))
			out := append([]Change(nil), l.entries[from:to]...)
			l.mu.Unlock()
			return out, nil
		}
		wake := l.wake
		l.mu.Unlock()
		if wait <= 0 {
			return nil, nil
		}
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-wake:
		case <-timer:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// size counts the writes in b.
func (b *Batch) size() int {
	return len(b.Contacts) + len(b.DeleteContacts) + len(b.Users) + len(b.DeleteUsers) +
		len(b.Marks) + len(b.Groups) + len(b.DeleteGroups) + len(b.Keys)
}
