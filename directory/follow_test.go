package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

// eventLog records change events delivered to an observer.
type eventLog struct {
	mu     sync.Mutex
	events []ChangeEvent
}

func (l *eventLog) add(e ChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []ChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ChangeEvent(nil), l.events...)
}

// runService starts svc.Run until the test ends.
func runService(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// twoServices returns two Services on one Redis store prefix, as two
// instances would be, both following the log.
func twoServices(t *testing.T) (a, b *Service, store *RedisStore) {
	t.Helper()
	rdb := newTestRedis(t)
	store = newTestRedisStore(t, rdb)
	ctx := context.Background()
	a, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	b, err = New(ctx, NewRedisStore(rdb, store.prefix), Config{}, testLogger())
	require.NoError(t, err)
	runService(t, a)
	runService(t, b)
	return a, b, store
}

func TestChangesReachTheOtherInstance(t *testing.T) {
	a, b, _ := twoServices(t)
	ctx := context.Background()
	var seenB eventLog
	b.OnChange(seenB.add)

	_, err := a.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", SIPPassword: "s3cret-pass"})
	require.NoError(t, err)
	c, err := a.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "Secret", LastName: "Friend", Phones: []Phone{{Type: PhoneMobile, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	require.NoError(t, a.Mark(ctx, alice, c.ID, GroupVIP, true))
	g, err := a.CreateGroup(ctx, alice, "Golf")
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		e, err := b.Get(ctx, alice, c.ID)
		groups, _ := b.ListGroups(ctx, alice)
		return err == nil && len(e.Marks) == 1 && slices.Contains(groups, g)
	}, time.Second, 5*time.Millisecond, "B follows A within 1 s")
	ha1, ok, err := b.HA1(ctx, "201", "pbx.example.com", "MD5")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.NotEmpty(t, ha1)
	page, err := b.Search(ctx, alice, Query{Text: "secret"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)

	// Edit on B, delete on A: each side follows the other.
	e, err := b.Get(ctx, alice, c.ID)
	require.NoError(t, err)
	e.Contact.FirstName = "Known"
	up, err := b.Update(ctx, alice, e.Contact, e.Contact.Version)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := a.Get(ctx, alice, c.ID)
		return err == nil && got.Contact.FirstName == "Known"
	}, time.Second, 5*time.Millisecond)
	require.NoError(t, a.Delete(ctx, alice, c.ID, up.Version))
	require.Eventually(t, func() bool {
		_, err := b.Get(ctx, alice, c.ID)
		return err != nil
	}, time.Second, 5*time.Millisecond)

	// B saw every contact change as a remote one, A's and its own (its
	// observers hear of the delete just after readers, emitter.go).
	require.Eventually(t, func() bool {
		all := seenB.all()
		return len(all) > 0 && all[len(all)-1].Op == ChangeDeleted
	}, time.Second, 5*time.Millisecond)
	var ops []ChangeOp
	for _, ev := range seenB.all() {
		if ev.Contact.ID == c.ID {
			ops = append(ops, ev.Op)
			assert.Equal(t, ev.Op == ChangeUpdated, ev.Local, "only B's own update is local to B")
		}
	}
	assert.Equal(t, []ChangeOp{ChangeCreated, ChangeUpdated, ChangeDeleted}, ops)
}

func TestStaleWriteFromAnotherInstanceIsRefused(t *testing.T) {
	a, b, _ := twoServices(t)
	ctx := context.Background()
	c, err := a.Create(ctx, admin, company("Acme"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, err := b.Get(ctx, admin, c.ID); return err == nil }, time.Second, 5*time.Millisecond)
	c.Company = "Acme A"
	_, err = a.Update(ctx, admin, c, 1)
	require.NoError(t, err)
	// B may not have applied A's update yet; the store's compare-and-swap
	// refuses B's write of version 1 either way.
	c.Company = "Acme B"
	_, err = b.Update(ctx, admin, c, 1)
	require.ErrorIs(t, err, ErrVersionMismatch)
}

func TestGapReloadsAndReportsTheDifference(t *testing.T) {
	rdb := newTestRedis(t)
	store := newTestRedisStore(t, rdb)
	ctx := context.Background()
	a, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	b, err := New(ctx, NewRedisStore(rdb, store.prefix), Config{}, testLogger())
	require.NoError(t, err)
	var seenB eventLog
	b.OnChange(seenB.add)
	gone, err := a.Create(ctx, admin, company("Gone"))
	require.NoError(t, err)
	kept, err := a.Create(ctx, admin, company("Kept"))
	require.NoError(t, err)
	// B is not running: it misses these, and the log loses them.
	require.NoError(t, a.Delete(ctx, admin, gone.ID, 1))
	added, err := a.Create(ctx, admin, company("Added"))
	require.NoError(t, err)
	require.NoError(t, rdb.XTrimMaxLen(ctx, store.prefix+"log", 1).Err())

	runService(t, b)
	require.Eventually(t, func() bool {
		_, err := b.Get(ctx, admin, added.ID)
		return err == nil
	}, 2*time.Second, 5*time.Millisecond)
	_, err = b.Get(ctx, admin, kept.ID)
	require.NoError(t, err)
	_, err = b.Get(ctx, admin, gone.ID)
	require.ErrorIs(t, err, ErrNotFound)
	// Observers hear of a change just after readers see it (emitter.go).
	ops := map[string]ChangeOp{}
	require.Eventually(t, func() bool {
		clear(ops)
		for _, ev := range seenB.all() {
			ops[ev.Contact.ID] = ev.Op
		}
		return len(ops) >= 2
	}, 2*time.Second, 5*time.Millisecond)
	assert.Equal(t, map[string]ChangeOp{kept.ID: ChangeCreated, added.ID: ChangeCreated}, ops,
		"B's observers learn what the reload changed (gone was never seen by B)")
	assert.Equal(t, a.Position().Seq, b.Position().Seq)
}

func TestFollowerRecoversFromAStoreOutage(t *testing.T) {
	// A store that fails its reads for a while stands in for a lost Redis
	// connection: Run retries and catches up without a gap.
	inner := NewMemStore()
	flaky := &flakyStore{Store: inner}
	ctx := context.Background()
	a, err := New(ctx, inner, Config{}, testLogger())
	require.NoError(t, err)
	b, err := New(ctx, flaky, Config{}, testLogger())
	require.NoError(t, err)
	flaky.fail(true)
	runService(t, b)
	c, err := a.Create(ctx, admin, company("During"))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	_, err = b.Get(ctx, admin, c.ID)
	require.ErrorIs(t, err, ErrNotFound, "nothing can be read while the store is down")
	flaky.fail(false)
	require.Eventually(t, func() bool { _, err := b.Get(ctx, admin, c.ID); return err == nil }, 3*time.Second, 10*time.Millisecond)
}

type flakyStore struct {
	Store
	mu   sync.Mutex
	down bool
}

func (s *flakyStore) fail(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *flakyStore) Changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return nil, assert.AnError
	}
	return s.Store.Changes(ctx, after, limit, wait)
}

func TestReadersDoNotWaitForAnImport(t *testing.T) {
	// A store whose writes block until released: while an import waits on
	// it, reads must still be served (they would hang if a lock were held
	// across the store write).
	inner := NewMemStore()
	gate := &gatedStore{Store: inner, release: make(chan struct{}), entered: make(chan struct{}, 1)}
	ctx := context.Background()
	svc, err := New(ctx, gate, Config{}, testLogger())
	require.NoError(t, err)
	c, err := svc.Create(ctx, admin, company("Before"))
	require.NoError(t, err)
	gate.arm()
	done := make(chan error, 1)
	go func() {
		_, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader("first_name,last_name,company,phone_work\nAna,Silva,Acme,+33491550142\n"), ImportOptions{Domain: "pbx.example.com"})
		done <- err
	}()
	<-gate.entered
	got, err := svc.Get(ctx, admin, c.ID)
	require.NoError(t, err)
	assert.Equal(t, "Before", got.Contact.Company)
	page, err := svc.Search(ctx, admin, Query{Text: "before"})
	require.NoError(t, err)
	assert.Len(t, page.Items, 1)
	close(gate.release)
	require.NoError(t, <-done)
}

type gatedStore struct {
	Store
	mu      sync.Mutex
	armed   bool
	pass    int // applies let through once armed, before the gate holds
	entered chan struct{}
	release chan struct{}
}

func (s *gatedStore) arm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = true
}

func (s *gatedStore) Apply(ctx context.Context, b Batch) (uint64, error) {
	s.mu.Lock()
	armed := s.armed && s.pass == 0
	if s.armed && s.pass > 0 {
		s.pass--
	}
	s.mu.Unlock()
	if armed {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Apply(ctx, b)
}

func company(name string) Contact {
	return Contact{Kind: KindCompany, Domain: "pbx.example.com", Company: name, Phones: []Phone{{Type: PhoneWork, Number: "+33 4 91 55 01 42"}}}
}

// BenchmarkPropagation measures how long a contact created on one
// instance takes to be readable on another following the same Redis
// (p50_µs, p99_µs, max_µs): the convergence time of the directory.
func BenchmarkPropagation(b *testing.B) {
	rdb := newTestRedis(b)
	store := newTestRedisStore(b, rdb)
	ctx := context.Background()
	a, err := New(ctx, store, Config{}, testLogger())
	require.NoError(b, err)
	other, err := New(ctx, NewRedisStore(rdb, store.prefix), Config{}, testLogger())
	require.NoError(b, err)
	seen := make(chan string, 1)
	other.OnChange(func(e ChangeEvent) {
		if e.Op == ChangeCreated {
			seen <- e.Contact.ID
		}
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- other.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	lats := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		c, err := a.Create(ctx, admin, company(fmt.Sprintf("Prop %d", i)))
		require.NoError(b, err)
		for id := range seen {
			if id == c.ID {
				break
			}
		}
		lats = append(lats, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lats)
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50_µs")
	b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99_µs")
	b.ReportMetric(float64(lats[len(lats)-1].Microseconds()), "max_µs")
}

func TestKeyRevocationReachesTheOtherInstanceCache(t *testing.T) {
	a, b, store := twoServices(t)
	ctx := context.Background()
	ksA, ksB := accounts.NewKeys(store.KeyStore()), accounts.NewKeys(store.KeyStore())
	ksA.AnnounceChanges(a.KeyChanged)
	b.OnKeyChange(ksB.Forget)
	key, info, err := ksA.Mint(ctx, accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	require.NoError(t, err)
	_, err = ksB.Resolve(ctx, key) // now cached on B for KeyCacheTTL
	require.NoError(t, err)
	require.NoError(t, ksA.Revoke(ctx, info.ID))
	require.Eventually(t, func() bool {
		_, err := ksB.Resolve(ctx, key)
		return err != nil
	}, time.Second, 5*time.Millisecond, "B stops accepting the key well before its cache would expire")
}
