package calls

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore is the embedded Store, one bolt file per process. Each value
// is prefixed with its expiry (unix ms, big endian, 0 for never); expired
// documents read as absent and Sweep removes them.
//
// Writes are grouped: Update and Delete change an in-memory overlay that a
// background flush commits to the file in one transaction (one fsync)
// every FlushInterval, instead of a transaction and an fsync per call
// step. Reads see the overlay first, so the store behaves as before; a
// crash of the process loses at most the last FlushInterval of call
// history writes (Close flushes).
type BoltStore struct {
	db  *bolt.DB
	now func() time.Time

	mu       sync.Mutex        // guards dirty and flushing; serialises Update
	dirty    map[string][]byte // key → stored value (expiry prefix + document); nil: deleted
	flushing map[string][]byte // what the running flush writes, read until it is committed
	kick     chan struct{}     // asks the flusher for an early flush
	flushMu  sync.Mutex        // one flush at a time

	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once
}

var _ Store = (*BoltStore)(nil)

var bucket = []byte("calls")

// FlushInterval is how often grouped call-store writes reach the bolt
// file: the most call history a crash can lose.
const FlushInterval = 100 * time.Millisecond

// flushAt is how many pending documents start a flush before the interval.
const flushAt = 4096

// OpenBolt opens (or creates) the bolt file at path.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open call store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("init call store %s: %w", path, err)
	}
	s := &BoltStore{db: db, now: time.Now, dirty: map[string][]byte{}, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go s.flusher()
	return s, nil
}

// Close writes what is pending and closes the file.
func (s *BoltStore) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
		err = errors.Join(s.flush(), s.db.Close())
	})
	return err
}

// flusher commits the overlay every FlushInterval, or sooner when it grows
// past flushAt, until Close.
func (s *BoltStore) flusher() {
	defer close(s.stopped)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		// A failed flush keeps its documents pending; the next one retries.
		_ = s.flush()
	}
}

// flush commits the overlay in one transaction. On failure the documents
// stay pending (behind any newer writes of the same keys).
func (s *BoltStore) flush() error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	if len(s.dirty) == 0 {
		s.mu.Unlock()
		return nil
	}
	batch := s.dirty
	s.flushing, s.dirty = batch, make(map[string][]byte, len(batch))
	s.mu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for k, v := range batch {
			var err error
			if v == nil {
				err = b.Delete([]byte(k))
			} else {
				err = b.Put([]byte(k), v)
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", k, err)
			}
		}
		return nil
	})
	s.mu.Lock()
	if err != nil {
		for k, v := range batch {
			if _, newer := s.dirty[k]; !newer {
				s.dirty[k] = v
			}
		}
	}
	s.flushing = nil
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("flush call store: %w", err)
	}
	return nil
}

func (s *BoltStore) live(v []byte, now time.Time) ([]byte, bool) {
	if len(v) < 8 {
		return nil, false
	}
	exp := int64(binary.BigEndian.Uint64(v[:8]))
	if exp != 0 && exp <= now.UnixMilli() {
		return nil, false
	}
	return v[8:], true
}

// rawLocked is the stored value at key, pending writes first; the caller
// holds s.mu. The result must not be modified.
func (s *BoltStore) rawLocked(key string) ([]byte, error) {
	if v, ok := s.dirty[key]; ok {
		return v, nil
	}
	if v, ok := s.flushing[key]; ok {
		return v, nil
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		out = slices.Clone(tx.Bucket(bucket).Get([]byte(key)))
		return nil
	})
	return out, err
}

// Get implements Store.
func (s *BoltStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	raw, err := s.rawLocked(key)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	v, ok := s.live(raw, s.now())
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(v), nil
}

// Update implements Store; Updates are serialised, so fn runs once.
func (s *BoltStore) Update(_ context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := s.rawLocked(key)
	if err != nil {
		return fmt.Errorf("update %s: %w", key, err)
	}
	now := s.now()
	// fn neither modifies nor keeps old (Store.Update), so it reads the
	// pending or stored bytes themselves: a user's call book is rewritten
	// whole on every call, and copying it first was a sixteenth of what
	// a PUBLISH allocated.
	old, _ := s.live(raw, now)
	val, err := fn(old)
	if errors.Is(err, errKeep) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", key, err)
	}
	if val == nil {
		s.setLocked(key, nil)
		return nil
	}
	buf := make([]byte, 8+len(val))
	if ttl > 0 {
		binary.BigEndian.PutUint64(buf, uint64(now.Add(ttl).UnixMilli()))
	}
	copy(buf[8:], val)
	s.setLocked(key, buf)
	return nil
}

// setLocked queues v (nil: a deletion) for key; the caller holds s.mu.
func (s *BoltStore) setLocked(key string, v []byte) {
	s.dirty[key] = v
	if len(s.dirty) >= flushAt {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// Delete implements Store.
func (s *BoltStore) Delete(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.setLocked(k, nil)
	}
	return nil
}

// Sweep removes expired documents (Redis does this by itself).
func (s *BoltStore) Sweep(_ context.Context) error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		now := s.now()
		for k, v := c.First(); k != nil; {
			if _, ok := s.live(v, now); !ok {
				if err := c.Delete(); err != nil {
					return err
				}
				k, v = c.Seek(k)
				continue
			}
			k, v = c.Next()
		}
		return nil
	})
}
