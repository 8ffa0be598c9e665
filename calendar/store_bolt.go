package calendar

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchboardhq/switchboard/presence"
)

// bucketFeeds holds "user@domain" → JSON Feed.
var bucketFeeds = []byte("feeds")

// BoltStore is the embedded default Store: a bbolt file of its own, so
// it works without Redis. Only one process opens it.
type BoltStore struct {
	db *bolt.DB
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens or creates the bbolt database at path.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open calendar database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketFeeds)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create bucket in %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.db.Close() }

// Update implements Store in one read-write transaction.
func (s *BoltStore) Update(ctx context.Context, aor presence.AOR, fn func(*Feed, bool) error) (Feed, error) {
	if err := ctx.Err(); err != nil {
		return Feed{}, err
	}
	var out Feed
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeeds)
		var f Feed
		raw := b.Get([]byte(aor.String()))
		if raw != nil {
			if err := json.Unmarshal(raw, &f); err != nil {
				return fmt.Errorf("decode calendar of %s: %w", aor, err)
			}
		}
		if err := fn(&f, raw != nil); err != nil {
			return err
		}
		enc, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode calendar of %s: %w", aor, err)
		}
		out = f
		return b.Put([]byte(aor.String()), enc)
	})
	if err != nil {
		return Feed{}, err
	}
	return out, nil
}

// Get implements Store.
func (s *BoltStore) Get(_ context.Context, aor presence.AOR) (Feed, error) {
	var f Feed
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketFeeds).Get([]byte(aor.String()))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &f)
	})
	return f, err
}

// Delete implements Store.
func (s *BoltStore) Delete(_ context.Context, aor presence.AOR) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeeds)
		if b.Get([]byte(aor.String())) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(aor.String()))
	})
}

// Due implements Store. It reads every feed: one per user of a single
// instance is a small file.
func (s *BoltStore) Due(_ context.Context, now time.Time, limit int) ([]presence.AOR, error) {
	var due []Feed
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFeeds).ForEach(func(_, v []byte) error {
			var f Feed
			if err := json.Unmarshal(v, &f); err != nil {
				return nil // one bad record must not stop every poll
			}
			if !f.Poll.Next.After(now) {
				f.Busy = nil
				due = append(due, f)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list due calendars: %w", err)
	}
	return oldestFirst(due, limit), nil
}
