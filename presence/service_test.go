package presence

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu      sync.Mutex // guards changes
	changes []Change
}

func (r *recorder) add(c Change) { r.mu.Lock(); r.changes = append(r.changes, c); r.mu.Unlock() }
func (r *recorder) last(t *testing.T) Change {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.changes)
	return r.changes[len(r.changes)-1]
}
func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.changes) }

func newTestService(t *testing.T) (*Service, *clock, *recorder) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	s := New(Config{MaxBindings: 3}, NewMemStore(), zerolog.Nop())
	s.now = c.now
	rec := &recorder{}
	s.Watch(rec.add)
	return s, c, rec
}

var alice = NewAOR("201", "PBX.example.com")

func register(t *testing.T, s *Service, callID string, cseq uint32, uri string, exp time.Duration) []Binding {
	t.Helper()
	b, err := s.Register(context.Background(), alice, Registration{CallID: callID, CSeq: cseq, Contacts: []ContactUpdate{{URI: uri, Expires: exp}}})
	require.NoError(t, err)
	return b
}

func dialogBody(version uint64, dialogs ...Dialog) *PublishBody {
	return &PublishBody{DocVersion: version, Dialogs: dialogs}
}

func TestRegisterLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk, rec := newTestService(t)

	b := register(t, s, "c1", 1, "sip:201@10.0.0.5:5060", time.Minute)
	require.Len(t, b, 1)
	v, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, LineIdle, v.Line)
	assert.True(t, v.Registered)
	assert.Equal(t, uint64(1), v.Version)
	assert.Equal(t, "pbx.example.com", v.AOR.Domain, "domain is case-insensitive")

	// A second device, then a refresh of the first: no visible change.
	register(t, s, "c2", 1, "sip:201@10.0.0.6:5060", 30*time.Second)
	b = register(t, s, "c1", 2, "sip:201@10.0.0.5:5060", time.Minute)
	require.Len(t, b, 2)
	assert.Equal(t, 1, rec.count(), "refreshes change nothing a watcher sees")

	// Replayed CSeq on the same Call-ID is refused (RFC 3261 §10.3 step 7).
	_, err = s.Register(ctx, alice, Registration{CallID: "c1", CSeq: 2, Contacts: []ContactUpdate{{URI: "sip:201@10.0.0.5:5060", Expires: time.Minute}}})
	require.ErrorIs(t, err, ErrOutOfOrder)

	// Binding limit.
	register(t, s, "c3", 1, "sip:201@10.0.0.7:5060", time.Minute)
	_, err = s.Register(ctx, alice, Registration{CallID: "c4", CSeq: 1, Contacts: []ContactUpdate{{URI: "sip:201@10.0.0.8:5060", Expires: time.Minute}}})
	require.ErrorIs(t, err, ErrTooManyBindings)

	// The second device lapses: still registered through the others.
	clk.advance(45 * time.Second)
	require.NoError(t, s.Refresh(ctx, alice))
	b, err = s.Bindings(ctx, alice)
	require.NoError(t, err)
	assert.Len(t, b, 2)

	// The rest lapse: offline, and that is a change watchers see.
	clk.advance(time.Minute)
	due, err := s.store.Due(ctx, clk.now())
	require.NoError(t, err)
	require.Equal(t, []AOR{alice}, due)
	require.NoError(t, s.Refresh(ctx, alice))
	last := rec.last(t)
	assert.Equal(t, LineOffline, last.View.Line)
	assert.True(t, last.RegistrationChanged())
	assert.Equal(t, uint64(2), last.View.Version)
}

func TestRegisterRemoveAll(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Minute)
	register(t, s, "c2", 1, "sip:201@10.0.0.6", time.Minute)

	_, err := s.Register(ctx, alice, Registration{CallID: "c1", CSeq: 1, RemoveAll: true})
	require.ErrorIs(t, err, ErrOutOfOrder, "wildcard with an old CSeq")

	b, err := s.Register(ctx, alice, Registration{CallID: "c1", CSeq: 2, RemoveAll: true})
	require.NoError(t, err)
	assert.Empty(t, b)
	v, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, LineOffline, v.Line)
}

func TestCallLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk, rec := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)

	caller := Party{URI: "sip:+33491550142@pbx.example.com", Display: "Marseille Office"}
	early := Dialog{ID: "d1", CallID: "call-1", LocalTag: "lt", RemoteTag: "rt", Direction: DirectionRecipient, State: DialogEarly, Remote: caller}
	res, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1, early)})
	require.NoError(t, err)
	require.NotEmpty(t, res.ETag)
	v := rec.last(t).View
	assert.Equal(t, LineRinging, v.Line)
	require.Len(t, v.Dialogs, 1)
	assert.Equal(t, caller, v.Dialogs[0].Remote)

	// Answered: the PBX leaves the caller out this time; we keep it.
	confirmed := Dialog{ID: "d1", State: DialogConfirmed}
	res2, err := s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute, Body: dialogBody(2, confirmed)})
	require.NoError(t, err)
	assert.NotEqual(t, res.ETag, res2.ETag, "every publish gets a new entity-tag")
	v = rec.last(t).View
	assert.Equal(t, LineInCall, v.Line)
	assert.Equal(t, caller, v.Dialogs[0].Remote)
	assert.Equal(t, "call-1", v.Dialogs[0].CallID)
	assert.Equal(t, "rt", v.Dialogs[0].RemoteTag)

	// The replaced entity-tag is still honoured for a moment (a publisher's
	// next PUBLISH may already be on its way), then refused.
	res2, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute})
	require.NoError(t, err, "within the grace")
	clk.advance(prevETagGrace + time.Second)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute})
	require.ErrorIs(t, err, ErrUnknownETag)

	// A stale document of the same publication is ignored.
	before := rec.count()
	res3, err := s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res2.ETag, Expires: time.Minute, Body: dialogBody(1, early)})
	require.NoError(t, err)
	assert.Equal(t, before, rec.count())

	// Held, then hung up.
	held := Dialog{ID: "d1", State: DialogConfirmed, Held: true}
	res4, err := s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res3.ETag, Expires: time.Minute, Body: dialogBody(3, held)})
	require.NoError(t, err)
	assert.Equal(t, LineOnHold, rec.last(t).View.Line)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res4.ETag, Expires: time.Minute, Body: dialogBody(4, Dialog{ID: "d1", State: DialogTerminated})})
	require.NoError(t, err)
	v = rec.last(t).View
	assert.Equal(t, LineIdle, v.Line)
	assert.Empty(t, v.Dialogs)
	assert.Equal(t, uint64(5), v.Version, "one version per visible change: register, early, confirmed, held, ended")
}

func TestLateEventsNeverStickTheLamp(t *testing.T) {
	tests := []struct {
		name   string
		events []Dialog // each published as its own initial publication
		want   LineState
	}{
		{
			name:   "terminated before its early",
			events: []Dialog{{ID: "d1", State: DialogTerminated}, {ID: "d1", State: DialogEarly, Direction: DirectionRecipient}},
			want:   LineIdle,
		},
		{
			name:   "terminated before its confirmed",
			events: []Dialog{{ID: "d1", State: DialogEarly}, {ID: "d1", State: DialogTerminated}, {ID: "d1", State: DialogConfirmed}},
			want:   LineIdle,
		},
		{
			name:   "ringing reported after answered",
			events: []Dialog{{ID: "d1", State: DialogConfirmed}, {ID: "d1", State: DialogEarly, Direction: DirectionRecipient}},
			want:   LineInCall,
		},
		{
			name:   "second call still rings while the first ends",
			events: []Dialog{{ID: "d1", State: DialogConfirmed}, {ID: "d2", State: DialogEarly, Direction: DirectionRecipient}, {ID: "d1", State: DialogTerminated}},
			want:   LineRinging,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, clk, _ := newTestService(t)
			register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
			for _, d := range tt.events {
				clk.advance(time.Millisecond)
				_, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1, d)})
				require.NoError(t, err)
			}
			v, err := s.Get(ctx, alice)
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.Line)
		})
	}
}

func TestUnrefreshedStateExpires(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", 24*time.Hour)

	// A ringing call whose "terminated" was lost, on a long-lived publication.
	_, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Hour, Body: dialogBody(1, Dialog{ID: "lost", State: DialogEarly})})
	require.NoError(t, err)
	// A confirmed call whose publisher died.
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: 2 * time.Minute, Body: dialogBody(1, Dialog{ID: "dead", State: DialogConfirmed})})
	require.NoError(t, err)

	clk.advance(2*time.Minute + time.Second)
	require.NoError(t, s.Refresh(ctx, alice))
	v, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, LineRinging, v.Line, "publication with the confirmed call expired, the ringing one not yet")

	clk.advance(time.Minute)
	require.NoError(t, s.Refresh(ctx, alice))
	v, err = s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, LineIdle, v.Line, "ringing longer than MaxRinging is dropped")
}

func TestPartialDocument(t *testing.T) {
	ctx := context.Background()
	s, _, rec := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
	res, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1,
		Dialog{ID: "a", State: DialogConfirmed}, Dialog{ID: "b", State: DialogConfirmed, Held: true})})
	require.NoError(t, err)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute,
		Body: &PublishBody{DocVersion: 2, Partial: true, Dialogs: []Dialog{{ID: "a", State: DialogTerminated}}}})
	require.NoError(t, err)
	v := rec.last(t).View
	require.Len(t, v.Dialogs, 1)
	assert.Equal(t, "b", v.Dialogs[0].ID)
	assert.Equal(t, LineOnHold, v.Line)
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	s, clk, rec := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", 24*time.Hour)

	_, err := s.SetStatus(ctx, alice, UserStatus{Status: "sleeping"})
	require.ErrorIs(t, err, ErrInvalid)

	v, err := s.SetStatus(ctx, alice, UserStatus{Status: StatusLunch, Note: "back at 2", Until: clk.now().Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, StatusLunch, v.Status)
	assert.True(t, rec.last(t).StatusChanged())

	// A softphone publishes DND later: the newest statement wins.
	clk.advance(time.Minute)
	res, err := s.Publish(ctx, alice, Publish{Event: EventPresence, Expires: time.Hour, Body: &PublishBody{Online: true, Status: &UserStatus{Status: StatusDND}}})
	require.NoError(t, err)
	assert.Equal(t, StatusDND, rec.last(t).View.Status)

	// It withdraws its publication: the older lunch does not come back
	// (status.go).
	_, err = s.Publish(ctx, alice, Publish{Event: EventPresence, IfMatch: res.ETag})
	require.NoError(t, err)
	assert.Equal(t, StatusAvailable, rec.last(t).View.Status)
}

func TestPublishValidation(t *testing.T) {
	s, _, _ := newTestService(t)
	_, err := s.Publish(context.Background(), alice, Publish{Event: EventDialog, Expires: time.Minute})
	require.True(t, errors.Is(err, ErrInvalid), "initial publish without body")
	_, err = s.Publish(context.Background(), alice, Publish{Event: EventDialog, IfMatch: "nope", Expires: time.Minute})
	require.ErrorIs(t, err, ErrUnknownETag)
}

func TestDeriveOrdersDialogs(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Record{
		AOR:      alice,
		Bindings: []Binding{{Contact: "sip:x", Expires: now.Add(time.Minute)}},
		Publications: []Publication{{Event: EventDialog, Expires: now.Add(time.Minute), Dialogs: []Dialog{
			{ID: "held", State: DialogConfirmed, Held: true, Started: now},
			{ID: "talk", State: DialogConfirmed, Started: now},
			{ID: "out", State: DialogEarly, Direction: DirectionInitiator, Started: now},
			{ID: "in", State: DialogEarly, Direction: DirectionRecipient, Started: now},
		}}},
	}
	v := Derive(r, now)
	var ids []string
	for _, d := range v.Dialogs {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{"in", "talk", "out", "held"}, ids)
	assert.Equal(t, LineRinging, v.Line)
}

func BenchmarkDerive(b *testing.B) {
	now := time.Now()
	r := &Record{
		AOR:      alice,
		Bindings: []Binding{{Contact: "sip:x", Expires: now.Add(time.Minute)}, {Contact: "sip:y", Expires: now.Add(time.Minute)}},
		Publications: []Publication{{Event: EventDialog, Expires: now.Add(time.Minute), Dialogs: []Dialog{
			{ID: "talk", State: DialogConfirmed, Started: now},
			{ID: "in", State: DialogEarly, Direction: DirectionRecipient, Started: now},
		}}},
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Derive(r, now)
	}
}

func BenchmarkRegisterRefresh(b *testing.B) {
	s := New(Config{}, NewMemStore(), zerolog.Nop())
	ctx := context.Background()
	b.ReportAllocs()
	var cseq uint32
	for b.Loop() {
		cseq++
		if _, err := s.Register(ctx, alice, Registration{CallID: "c", CSeq: cseq, Contacts: []ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Hour}}}); err != nil {
			b.Fatal(err)
		}
	}
}

type directoryFake map[string]Party

func (f directoryFake) ResolveCaller(_ context.Context, _ AOR, remote Party) (Party, bool) {
	p, ok := f[remote.URI]
	return p, ok
}

func TestRingingCallerIsNamed(t *testing.T) {
	ctx := context.Background()
	s, _, rec := newTestService(t)
	s.SetCallerResolver(directoryFake{"sip:+33491550142@pbx": {URI: "sip:+33491550142@pbx", Display: "ACME Marseille", ContactID: "c-42"}})
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)

	res, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1,
		Dialog{ID: "d1", Direction: DirectionRecipient, State: DialogEarly, Remote: Party{URI: "sip:+33491550142@pbx", Display: "0491550142"}},
		Dialog{ID: "d2", Direction: DirectionInitiator, State: DialogEarly, Remote: Party{URI: "sip:+33491550142@pbx"}})})
	require.NoError(t, err)
	v := rec.last(t).View
	require.Len(t, v.Dialogs, 2)
	assert.Equal(t, "ACME Marseille", v.Dialogs[0].Remote.Display, "the directory name replaces the bare number")
	assert.Equal(t, "c-42", v.Dialogs[0].Remote.ContactID)
	assert.Equal(t, "ACME Marseille", v.Dialogs[1].Remote.Display, "outgoing calls pass the resolver too: a dialled name may come from a personal book")

	// Answered without a remote identity: the name stays while the call is up.
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute, Body: dialogBody(2, Dialog{ID: "d1", State: DialogConfirmed})})
	require.NoError(t, err)
	assert.Equal(t, "ACME Marseille", rec.last(t).View.Dialogs[0].Remote.Display)
}

// hidingResolver is a CallerResolver whose policy hides every party.
type hidingResolver struct{}

func (hidingResolver) ResolveCaller(context.Context, AOR, Party) (Party, bool) { return Party{}, true }

func TestResolverDecidesEveryRemoteParty(t *testing.T) {
	ctx := context.Background()
	s, _, rec := newTestService(t)
	s.SetCallerResolver(hidingResolver{})
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
	res, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: time.Minute, Body: dialogBody(1,
		Dialog{ID: "d1", Direction: DirectionRecipient, State: DialogEarly, Remote: Party{URI: "sip:0699887766@pbx", Display: "Secret Lover"}})})
	require.NoError(t, err)
	require.Len(t, rec.last(t).View.Dialogs, 1)
	assert.Equal(t, Party{}, rec.last(t).View.Dialogs[0].Remote)

	// The answered report names the party again: it is decided again.
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: res.ETag, Expires: time.Minute, Body: dialogBody(2,
		Dialog{ID: "d1", State: DialogConfirmed, Remote: Party{URI: "sip:0699887766@pbx", Display: "Secret Lover"}})})
	require.NoError(t, err)
	v := rec.last(t).View
	require.Len(t, v.Dialogs, 1)
	assert.Equal(t, DialogConfirmed, v.Dialogs[0].State)
	assert.Equal(t, Party{}, v.Dialogs[0].Remote)
}

// TestReplacedETagLastsItsGrant: a publisher holding the tag its PUBLISH
// replaced (pipelined PUBLISHes whose 200s crossed) may refresh with it
// for as long as it was granted, past the short grace; a tag whose grant
// has run out is refused.
func TestReplacedETagLastsItsGrant(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := newTestService(t)
	register(t, s, "c1", 1, "sip:201@10.0.0.5", time.Hour)
	confirmed := Dialog{ID: "d1", State: DialogConfirmed, Direction: DirectionRecipient}

	x, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: 12 * time.Second, Body: dialogBody(1, confirmed)})
	require.NoError(t, err)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: x.ETag, Expires: 12 * time.Second})
	require.NoError(t, err)
	clk.advance(prevETagGrace + 3*time.Second)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: x.ETag, Expires: 12 * time.Second})
	require.NoError(t, err, "the replaced tag within its 12 s grant")

	y, err := s.Publish(ctx, alice, Publish{Event: EventDialog, Expires: 12 * time.Second, Body: dialogBody(1, Dialog{ID: "d2", State: DialogEarly})})
	require.NoError(t, err)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: y.ETag, Expires: time.Minute})
	require.NoError(t, err)
	clk.advance(13 * time.Second)
	_, err = s.Publish(ctx, alice, Publish{Event: EventDialog, IfMatch: y.ETag, Expires: time.Minute})
	require.ErrorIs(t, err, ErrUnknownETag, "the replaced tag after its grant")
}
