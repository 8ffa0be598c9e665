package calls

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore is the embedded Store, one bolt file per process. Each value
// is prefixed with its expiry (unix ms, big endian, 0 for never); expired
// documents read as absent and Sweep removes them.
type BoltStore struct {
	db  *bolt.DB
	now func() time.Time
}

var _ Store = (*BoltStore)(nil)

var bucket = []byte("calls")

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
	return &BoltStore{db: db, now: time.Now}, nil
}

// Close closes the file.
func (s *BoltStore) Close() error { return s.db.Close() }

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

// Get implements Store.
func (s *BoltStore) Get(_ context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v, ok := s.live(tx.Bucket(bucket).Get([]byte(key)), s.now())
		if !ok {
			return ErrNotFound
		}
		out = slices.Clone(v)
		return nil
	})
	return out, err
}

// Update implements Store; bolt serialises writers, so fn runs once.
func (s *BoltStore) Update(_ context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		now := s.now()
		old, ok := s.live(b.Get([]byte(key)), now)
		if ok {
			old = slices.Clone(old)
		}
		val, err := fn(old)
		if err != nil {
			return err
		}
		if val == nil {
			return b.Delete([]byte(key))
		}
		buf := make([]byte, 8+len(val))
		if ttl > 0 {
			binary.BigEndian.PutUint64(buf, uint64(now.Add(ttl).UnixMilli()))
		}
		copy(buf[8:], val)
		return b.Put([]byte(key), buf)
	})
	if errors.Is(err, errKeep) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", key, err)
	}
	return nil
}

// Delete implements Store.
func (s *BoltStore) Delete(_ context.Context, keys ...string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range keys {
			if err := b.Delete([]byte(k)); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		}
		return nil
	})
}

// Sweep removes expired documents (Redis does this by itself).
func (s *BoltStore) Sweep(_ context.Context) error {
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
