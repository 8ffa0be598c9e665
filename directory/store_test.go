package directory

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// testStore is the contract every Store implementation must meet.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	contact := func(id string, v uint64) Contact {
		return Contact{ID: id, Kind: KindCompany, Company: "Acme " + id, Phones: []Phone{{Type: PhoneWork, Number: "+33 4 91 55 01 42"}},
			Created: time.Unix(100, 0).UTC(), Updated: time.Unix(200, 0).UTC(), Version: v}
	}

	t.Run("contact compare and swap", func(t *testing.T) {
		s := newStore(t)
		requireApply(t, s, ctx, Batch{Contacts: []ContactWrite{{Contact: contact("a", 1)}}})
		got, err := s.GetContact(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, contact("a", 1), got)

		tests := []struct {
			name string
			b    Batch
			want error
		}{
			{name: "create existing", b: Batch{Contacts: []ContactWrite{{Contact: contact("a", 1)}}}, want: ErrVersionMismatch},
			{name: "stale update", b: Batch{Contacts: []ContactWrite{{Contact: contact("a", 3), Expected: 2}}}, want: ErrVersionMismatch},
			{name: "stale delete", b: Batch{DeleteContacts: []ContactDelete{{ID: "a", Expected: 5}}}, want: ErrVersionMismatch},
			{name: "delete missing", b: Batch{DeleteContacts: []ContactDelete{{ID: "zz", Expected: 1}}}, want: ErrNotFound},
			{name: "update", b: Batch{Contacts: []ContactWrite{{Contact: contact("a", 2), Expected: 1}}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Apply(ctx, tt.b)
				if tt.want == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tt.want)
			})
		}
		got, err = s.GetContact(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, uint64(2), got.Version)
		_, err = s.GetContact(ctx, "missing")
		assert.ErrorIs(t, err, ErrNotFound)
	})

	t.Run("batch is atomic", func(t *testing.T) {
		s := newStore(t)
		requireApply(t, s, ctx, Batch{Contacts: []ContactWrite{{Contact: contact("a", 1)}}})
		_, err := s.Apply(ctx, Batch{
			Contacts: []ContactWrite{{Contact: contact("b", 1)}, {Contact: contact("a", 9), Expected: 7}},
			Users:    []accounts.User{{Extension: "201", Domain: "pbx.example.com"}},
			Marks:    []Mark{{Owner: "201@pbx.example.com", ContactID: "a", Groups: []string{"vip"}}},
		})
		require.ErrorIs(t, err, ErrVersionMismatch)
		_, err = s.GetContact(ctx, "b")
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.GetUser(ctx, "201@pbx.example.com")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Empty(t, collectMarks(t, s))
	})

	t.Run("users marks groups and iteration", func(t *testing.T) {
		s := newStore(t)
		u1 := accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", Created: time.Unix(5, 0).UTC(), Updated: time.Unix(5, 0).UTC()}
		u2 := accounts.User{Extension: "100", Domain: "pbx.example.com", FirstName: "Bo", Created: time.Unix(5, 0).UTC(), Updated: time.Unix(5, 0).UTC()}
		g := Group{ID: "own:201@pbx.example.com:golf", Name: "Golf", Owner: "201@pbx.example.com"}
		requireApply(t, s, ctx, Batch{
			Contacts: []ContactWrite{{Contact: contact("a", 1)}, {Contact: contact("b", 1)}},
			Users:    []accounts.User{u1, u2},
			Marks:    []Mark{{Owner: u1.AOR(), ContactID: "a", Groups: []string{"vip", g.ID}}, {Owner: "@pbx.example.com", ContactID: "b", Groups: []string{"shared:x"}}},
			Groups:   []Group{g},
		})
		users, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Equal(t, []accounts.User{u2, u1}, users)
		got, err := s.GetUser(ctx, u1.AOR())
		require.NoError(t, err)
		assert.Equal(t, u1, got)
		groups, err := s.ListGroups(ctx)
		require.NoError(t, err)
		assert.Equal(t, []Group{g}, groups)
		assert.ElementsMatch(t, []Mark{
			{Owner: u1.AOR(), ContactID: "a", Groups: []string{"vip", g.ID}},
			{Owner: "@pbx.example.com", ContactID: "b", Groups: []string{"shared:x"}},
		}, collectMarks(t, s))
		var ids []string
		require.NoError(t, s.ForEachContact(ctx, func(c Contact) error { ids = append(ids, c.ID); return nil }))
		assert.ElementsMatch(t, []string{"a", "b"}, ids)

		requireApply(t, s, ctx, Batch{
			DeleteContacts: []ContactDelete{{ID: "b", Expected: 1}},
			DeleteUsers:    []string{u2.AOR()},
			Marks:          []Mark{{Owner: "@pbx.example.com", ContactID: "b"}},
			DeleteGroups:   []string{g.ID},
		})
		users, err = s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Equal(t, []accounts.User{u1}, users)
		groups, err = s.ListGroups(ctx)
		require.NoError(t, err)
		assert.Empty(t, groups)
		assert.Len(t, collectMarks(t, s), 1)
		stop := errors.New("stop")
		assert.ErrorIs(t, s.ForEachContact(ctx, func(Contact) error { return stop }), stop)
	})

	// A large batch: every value must come back as written, whichever
	// buffer the store encoded it in (bolt keeps the slices Put gets until
	// the commit; Redis writes contacts out of the batch's log entry).
	t.Run("large batch reads back", func(t *testing.T) {
		s := newStore(t)
		var b Batch
		want := map[string]Contact{}
		for i := range 300 {
			c := contact(fmt.Sprintf("big%03d", i), 1)
			c.FirstName, c.Notes = "<Zoë & \"Jo\">\u2028", strings.Repeat("note \n", i%7*200) // some far over the size hint
			c.Emails = []string{fmt.Sprintf("z%d@example.com", i)}
			b.Contacts = append(b.Contacts, ContactWrite{Contact: c})
			b.Marks = append(b.Marks, Mark{Owner: "201@pbx.example.com", ContactID: c.ID, Groups: []string{"vip", fmt.Sprint("g", i)}})
			b.Groups = append(b.Groups, Group{ID: fmt.Sprint("g", i), Name: fmt.Sprint("G ", i), Owner: "201@pbx.example.com"})
			want[c.ID] = c
		}
		requireApply(t, s, ctx, b)
		for id, c := range want {
			got, err := s.GetContact(ctx, id)
			require.NoError(t, err)
			require.Equal(t, c, got)
		}
		n := 0
		require.NoError(t, s.ForEachContact(ctx, func(c Contact) error { n++; require.Equal(t, want[c.ID], c); return nil }))
		assert.Equal(t, len(want), n)
		assert.ElementsMatch(t, b.Marks, collectMarks(t, s))
		groups, err := s.ListGroups(ctx)
		require.NoError(t, err)
		assert.ElementsMatch(t, b.Groups, groups)
	})
}

// testChangeLog is the change log contract every Store must meet.
func testChangeLog(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	write := func(t *testing.T, s Store, id string) uint64 {
		t.Helper()
		seq, err := s.Apply(ctx, Batch{Contacts: []ContactWrite{{Contact: Contact{ID: id, Kind: KindCompany, Company: id, Version: 1}}}, Actor: "201@x", Origin: "o1"})
		require.NoError(t, err)
		return seq
	}

	t.Run("every apply is one change, in order, with its batch", func(t *testing.T) {
		s := newStore(t)
		head, err := s.Head(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(0), head.Seq)
		assert.Equal(t, uint64(1), write(t, s, "a"))
		assert.Equal(t, uint64(2), write(t, s, "b"))
		chs, err := s.Changes(ctx, head, 10, 0)
		require.NoError(t, err)
		require.Len(t, chs, 2)
		assert.Equal(t, []uint64{1, 2}, []uint64{chs[0].Seq, chs[1].Seq})
		assert.Equal(t, "b", chs[1].Batch.Contacts[0].Contact.ID)
		assert.Equal(t, "201@x", chs[1].Batch.Actor)
		assert.Equal(t, "o1", chs[1].Batch.Origin)
		// From the first change on, only the second; from the head, none.
		rest, err := s.Changes(ctx, chs[0].after(), 10, 0)
		require.NoError(t, err)
		require.Len(t, rest, 1)
		assert.Equal(t, uint64(2), rest[0].Seq)
		none, err := s.Changes(ctx, chs[1].after(), 10, 0)
		require.NoError(t, err)
		assert.Empty(t, none)
		head, err = s.Head(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(2), head.Seq)
	})

	t.Run("a failed apply logs nothing", func(t *testing.T) {
		s := newStore(t)
		write(t, s, "a")
		_, err := s.Apply(ctx, Batch{Contacts: []ContactWrite{{Contact: Contact{ID: "a", Kind: KindCompany, Version: 2}, Expected: 7}}})
		require.ErrorIs(t, err, ErrVersionMismatch)
		head, err := s.Head(ctx)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), head.Seq)
	})

	t.Run("a waiting reader wakes on the next apply", func(t *testing.T) {
		s := newStore(t)
		head, err := s.Head(ctx)
		require.NoError(t, err)
		got := make(chan []Change, 1)
		go func() {
			chs, _ := s.Changes(ctx, head, 10, 5*time.Second)
			got <- chs
		}()
		time.Sleep(50 * time.Millisecond)
		write(t, s, "late")
		select {
		case chs := <-got:
			require.Len(t, chs, 1)
			assert.Equal(t, "late", chs[0].Batch.Contacts[0].Contact.ID)
		case <-time.After(4 * time.Second):
			t.Fatal("reader did not wake")
		}
	})

	t.Run("a reader ahead of the log finds a gap", func(t *testing.T) {
		s := newStore(t)
		write(t, s, "a")
		_, err := s.Changes(ctx, Position{Seq: 5}, 10, 0)
		require.ErrorIs(t, err, ErrGap)
	})
}

func TestLocalLogTrimsToAGap(t *testing.T) {
	s := NewMemStore()
	ctx := context.Background()
	for i := range localLogMaxEntries + 10 {
		_, err := s.Apply(ctx, Batch{Users: []accounts.User{{Extension: strconv.Itoa(200 + i), Domain: "x"}}})
		require.NoError(t, err)
	}
	_, err := s.Changes(ctx, Position{Seq: 1}, 10, 0)
	require.ErrorIs(t, err, ErrGap)
	chs, err := s.Changes(ctx, Position{Seq: localLogMaxEntries + 5}, 10, 0)
	require.NoError(t, err)
	assert.Len(t, chs, 5)
}

func collectMarks(t *testing.T, s Store) []Mark {
	t.Helper()
	var out []Mark
	require.NoError(t, s.ForEachMark(context.Background(), func(m Mark) error { out = append(out, m); return nil }))
	return out
}

func TestMemStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewMemStore() })
	testChangeLog(t, func(t *testing.T) Store { return NewMemStore() })
}

func openTestBolt(t *testing.T, path string) *BoltStore {
	t.Helper()
	s, err := OpenBolt(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBoltStore(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return openTestBolt(t, filepath.Join(t.TempDir(), "dir.db")) })
	testChangeLog(t, func(t *testing.T) Store { return openTestBolt(t, filepath.Join(t.TempDir(), "dir.db")) })
}

func TestBoltStoreSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dir.db")
	s, err := OpenBolt(path)
	require.NoError(t, err)
	svc, err := New(ctx, s, Config{}, testLogger())
	require.NoError(t, err)
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", LastName: "Silva"})
	require.NoError(t, err)
	c, err := svc.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "José", LastName: "Müller", Phones: []Phone{{Type: PhoneMobile, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	require.NoError(t, svc.Mark(ctx, alice, c.ID, GroupFavorite, true))
	require.NoError(t, s.Close())

	s2 := openTestBolt(t, path)
	svc2, err := New(ctx, s2, Config{}, testLogger())
	require.NoError(t, err)
	got, err := svc2.Get(ctx, alice, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got.Contact)
	assert.Equal(t, []string{GroupFavorite}, got.Marks)
	page, err := svc2.Search(ctx, alice, Query{Text: "jose 550142"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	users, err := svc2.ListUsers(ctx, admin)
	require.NoError(t, err)
	require.Len(t, users, 1)
}

// newTestRedis returns a client to the test Redis (see internal/redistest).
func newTestRedis(t testing.TB) *redis.Client {
	t.Helper()
	return redistest.Client(t)
}

func TestRedisStore(t *testing.T) {
	rdb := newTestRedis(t)
	testStore(t, func(t *testing.T) Store { return newTestRedisStore(t, rdb) })
	testChangeLog(t, func(t *testing.T) Store { return newTestRedisStore(t, rdb) })
}

// newTestRedisStore returns a RedisStore under a fresh prefix, removed at
// cleanup.
func newTestRedisStore(t testing.TB, rdb *redis.Client) *RedisStore {
	t.Helper()
	return NewRedisStore(rdb, redistest.Prefix(t, rdb, "dir"))
}

func requireApply(t testing.TB, s Store, ctx context.Context, b Batch) {
	t.Helper()
	_, err := s.Apply(ctx, b)
	require.NoError(t, err)
}
