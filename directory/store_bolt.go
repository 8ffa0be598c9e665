package directory

import (
	"context"
	"encoding/json"

	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchboardhq/switchboard/accounts"
)

// Bolt buckets: contacts (ID → JSON Contact), users (AOR → JSON User),
// marks (owner NUL contactID → JSON Mark), groups (ID → JSON Group).
var (
	bucketContacts = []byte("contacts")
	bucketUsers    = []byte("users")
	bucketMarks    = []byte("marks")
	bucketGroups   = []byte("groups")
)

// BoltStore is the default Store: an embedded bbolt database file.
type BoltStore struct {
	db  *bolt.DB
	log *localLog

	wmu sync.Mutex // serialises Apply so that log order is commit order
}

var _ Store = (*BoltStore)(nil)

// OpenBolt opens or creates the bbolt database at path.
func OpenBolt(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open directory database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketContacts, bucketUsers, bucketMarks, bucketGroups} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create buckets in %s: %w", path, err)
	}
	return &BoltStore{db: db, log: newLocalLog()}, nil
}

// KeyStore returns the API key store sharing s's database file. It is
// valid until s is closed.
func (s *BoltStore) KeyStore() *accounts.BoltKeyStore { return accounts.NewBoltKeyStore(s.db) }

// Apply implements Store in one bbolt read-write transaction. Only this
// process writes the file (bbolt locks it), so the change log is kept in
// memory.
func (s *BoltStore) Apply(ctx context.Context, b Batch) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return s.write(tx, &b) }); err != nil {
		return 0, err
	}
	return s.log.append(b.clone()), nil
}

func (s *BoltStore) applyAt(ctx context.Context, b Batch) (Position, error) {
	seq, err := s.Apply(ctx, b)
	return Position{Seq: seq}, err
}

// Head implements Store.
func (s *BoltStore) Head(context.Context) (Position, error) { return s.log.head(), nil }

// Changes implements Store.
func (s *BoltStore) Changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	return s.log.changes(ctx, after, limit, wait)
}

func (s *BoltStore) write(tx *bolt.Tx, b *Batch) error {
	cb := tx.Bucket(bucketContacts)
	err := b.checkVersions(func(id string) (uint64, error) {
		raw := cb.Get([]byte(id))
		if raw == nil {
			return 0, nil
		}
		var c struct {
			Version uint64 `json:"version"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return 0, fmt.Errorf("decode contact %s: %w", id, err)
		}
		return c.Version, nil
	})
	if err != nil {
		return err
	}
	// bbolt keeps the value slices Put is given until the commit (its
	// doc: "must remain valid for the life of the transaction"), so the
	// encodings go to one append-only buffer whose bytes are never reused
	// within the transaction; a growing append leaves earlier values in
	// the old array, still referenced. Put copies keys, so one key buffer
	// serves all.
	var buf, key []byte
	if len(b.Contacts) > 0 {
		buf = make([]byte, 0, contactJSONSizeHint*len(b.Contacts))
	}
	putRaw := func(bucket []byte, k string, start int) error {
		key = append(key[:0], k...)
		return tx.Bucket(bucket).Put(key, buf[start:len(buf):len(buf)])
	}
	var y yielder // an import batch takes milliseconds: let waiting requests run
	for i := range b.Contacts {
		y.maybe()
		c := &b.Contacts[i].Contact
		start := len(buf)
		if buf, err = appendContactJSON(buf, c); err != nil {
			return err
		}
		if err := putRaw(bucketContacts, c.ID, start); err != nil {
			return err
		}
	}
	for _, d := range b.DeleteContacts {
		if err := cb.Delete([]byte(d.ID)); err != nil {
			return err
		}
	}
	for _, u := range b.Users {
		raw, err := json.Marshal(u) // rare, and holding credentials: no fast path
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsers).Put([]byte(u.AOR()), raw); err != nil {
			return err
		}
	}
	for _, aor := range b.DeleteUsers {
		if err := tx.Bucket(bucketUsers).Delete([]byte(aor)); err != nil {
			return err
		}
	}
	for _, m := range b.Marks {
		k := markKey(m.Owner, m.ContactID)
		if len(m.Groups) == 0 {
			if err := tx.Bucket(bucketMarks).Delete([]byte(k)); err != nil {
				return err
			}
			continue
		}
		start := len(buf)
		buf = appendMarkJSON(buf, &m)
		if err := putRaw(bucketMarks, k, start); err != nil {
			return err
		}
	}
	for i := range b.Groups {
		start := len(buf)
		buf = appendGroupJSON(buf, &b.Groups[i])
		if err := putRaw(bucketGroups, b.Groups[i].ID, start); err != nil {
			return err
		}
	}
	for _, id := range b.DeleteGroups {
		if err := tx.Bucket(bucketGroups).Delete([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// GetContact implements Store.
func (s *BoltStore) GetContact(_ context.Context, id string) (Contact, error) {
	var c Contact
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketContacts).Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("contact %s: %w", id, ErrNotFound)
		}
		return decodeContactJSON(raw, &c)
	})
	return c, err
}

// ForEachContact implements Store.
func (s *BoltStore) ForEachContact(ctx context.Context, fn func(Contact) error) error {
	return forEachJSON(ctx, s.db, bucketContacts, fn)
}

// GetUser implements Store.
func (s *BoltStore) GetUser(_ context.Context, aor string) (accounts.User, error) {
	var u accounts.User
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketUsers).Get([]byte(aor))
		if raw == nil {
			return fmt.Errorf("user %s: %w", aor, ErrNotFound)
		}
		return json.Unmarshal(raw, &u)
	})
	return u, err
}

// ListUsers implements Store; bbolt keys are sorted, so users come sorted
// by AOR.
func (s *BoltStore) ListUsers(ctx context.Context) ([]accounts.User, error) {
	var out []accounts.User
	err := forEachJSON(ctx, s.db, bucketUsers, func(u accounts.User) error {
		out = append(out, u)
		return nil
	})
	return out, err
}

// ForEachMark implements Store.
func (s *BoltStore) ForEachMark(ctx context.Context, fn func(Mark) error) error {
	return forEachJSON(ctx, s.db, bucketMarks, fn)
}

// ListGroups implements Store.
func (s *BoltStore) ListGroups(ctx context.Context) ([]Group, error) {
	var out []Group
	err := forEachJSON(ctx, s.db, bucketGroups, func(g Group) error {
		out = append(out, g)
		return nil
	})
	return out, err
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }

func forEachJSON[T any](ctx context.Context, db *bolt.DB, bucket []byte, fn func(T) error) error {
	return db.View(func(tx *bolt.Tx) error {
		n := 0
		return tx.Bucket(bucket).ForEach(func(k, raw []byte) error {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var v T
			if err := decodeStored(raw, &v); err != nil {
				return fmt.Errorf("decode %s %s: %w", bucket, strings.ReplaceAll(string(k), "\x00", " "), err)
			}
			return fn(v)
		})
	})
}
