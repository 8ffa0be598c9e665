package calls

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestTransitions(t *testing.T) {
	aor := presence.NewAOR("201", "pbx.test")
	ring := presence.Dialog{ID: "d1", State: presence.DialogEarly, Direction: presence.DirectionRecipient}
	conf := ring
	conf.State = presence.DialogConfirmed
	other := presence.Dialog{ID: "d2", State: presence.DialogTrying, Direction: presence.DirectionInitiator}
	view := func(ds ...presence.Dialog) presence.View { return presence.View{AOR: aor, Dialogs: ds} }
	tests := []struct {
		name   string
		change presence.Change
		want   []Step
	}{
		{"rings", presence.Change{Prev: view(), View: view(ring)}, []Step{StepStart}},
		{"answered", presence.Change{Prev: view(ring), View: view(conf)}, []Step{StepAnswer}},
		{"appears answered", presence.Change{Prev: view(), View: view(conf)}, []Step{StepStart, StepAnswer}},
		{"hung up", presence.Change{Prev: view(conf), View: view()}, []Step{StepEnd}},
		{"held again is no step", presence.Change{Prev: view(conf), View: view(conf)}, nil},
		{"one ends, another starts", presence.Change{Prev: view(ring), View: view(other)}, []Step{StepStart, StepEnd}},
		{"another instance's change", presence.Change{View: view(ring), Origin: "sb-b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Step
			for _, tr := range Transitions(tt.change) {
				assert.Equal(t, aor, tr.AOR)
				got = append(got, tr.Step)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// names is a Namer over a fixed book per user.
type names map[string]map[string]string // user → number URI → name

func (n names) NameFor(_ context.Context, number, user string) (string, string, bool) {
	name, ok := n[user][number]
	return name, "c-" + name, ok
}

// rig is a presence core with call history wired as in production: raw
// reports go to Reported before the core, changes to Changed.
type rig struct {
	t     *testing.T
	core  *presence.Service
	calls *Service
	etags map[presence.AOR]string

	mu     sync.Mutex // guards events
	events []Event
}

func newRig(t *testing.T, store Store, presenceStore presence.Store, n Namer) *rig {
	t.Helper()
	r := &rig{t: t, etags: map[presence.AOR]string{}}
	r.core = presence.New(presence.Config{}, presenceStore, zerolog.Nop())
	var err error
	r.calls, err = New(Config{DefaultRegion: "FR", MaxPerUser: 5}, store, n, zerolog.Nop())
	require.NoError(t, err)
	r.calls.OnEvent(func(ev Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	})
	r.core.Watch(r.calls.Changed)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.calls.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// publish sends one full dialog-info state for aor, as a PBX would.
func (r *rig) publish(ext string, ds ...presence.Dialog) {
	r.t.Helper()
	aor := presence.NewAOR(ext, "pbx.test")
	body := &presence.PublishBody{Dialogs: ds}
	r.calls.Reported(aor, body.Dialogs)
	res, err := r.core.Publish(context.Background(), aor, presence.Publish{
		Event: presence.EventDialog, IfMatch: r.etags[aor], Expires: time.Hour, Body: body,
	})
	require.NoError(r.t, err)
	r.etags[aor] = res.ETag
}

func (r *rig) wait(user string, n int) []Call {
	r.t.Helper()
	var page Page
	require.Eventually(r.t, func() bool {
		var err error
		page, err = r.calls.List(context.Background(), user, Query{})
		require.NoError(r.t, err)
		return len(page.Calls) >= n
	}, 5*time.Second, 5*time.Millisecond)
	return page.Calls
}

func (r *rig) eventsOf(user string) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.events {
		if ev.Call.User == user {
			out = append(out, ev)
		}
	}
	return out
}

func dlg(id, callID string, dir presence.Direction, st presence.DialogState, remote string) presence.Dialog {
	return presence.Dialog{ID: id, CallID: callID, Direction: dir, State: st, Remote: presence.Party{URI: remote}}
}

const caller = "sip:+33491550142@trunk.test"

func TestAnsweredCall(t *testing.T) {
	r := newRig(t, NewMemStore(), presence.NewMemStore(), names{"201@pbx.test": {caller: "Mum"}})
	r.publish("201", dlg("a", "call-a", presence.DirectionRecipient, presence.DialogEarly, caller))
	r.publish("201", dlg("a", "call-a", presence.DirectionRecipient, presence.DialogConfirmed, ""))
	r.publish("201", dlg("a", "call-a", presence.DirectionRecipient, presence.DialogTerminated, ""))
	got := r.wait("201@pbx.test", 1)
	require.Len(t, got, 1)
	c := got[0]
	assert.Equal(t, Incoming, c.Direction)
	assert.Equal(t, Answered, c.Outcome)
	assert.Equal(t, "+33491550142", c.Number)
	assert.Equal(t, "Mum", c.Name, "the owner's personal name")
	assert.Equal(t, "201", c.TakenBy)
	assert.False(t, c.Answered.IsZero())
	assert.False(t, c.Ended.Before(c.Answered))
	assert.False(t, c.Answered.Before(c.Started))
	require.Eventually(t, func() bool { return len(r.eventsOf("201@pbx.test")) == 2 }, 5*time.Second, 5*time.Millisecond)
	evs := r.eventsOf("201@pbx.test")
	assert.Equal(t, EventStarted, evs[0].Type)
	assert.Equal(t, EventEnded, evs[1].Type)
	assert.Equal(t, c.ID, evs[0].Call.ID, "start and end name one call")
}

func TestMissedRejectedOutgoing(t *testing.T) {
	r := newRig(t, NewMemStore(), presence.NewMemStore(), nil)
	// Missed: rings, the caller hangs up.
	r.publish("201", dlg("m", "call-m", presence.DirectionRecipient, presence.DialogEarly, caller))
	r.publish("201", dlg("m", "call-m", presence.DirectionRecipient, presence.DialogTerminated, ""))
	// Rejected: the user declines (RFC 4235 event="rejected", code 603).
	rej := dlg("r", "call-r", presence.DirectionRecipient, presence.DialogTerminated, "")
	rej.Event, rej.Code = "rejected", 603
	r.publish("201", dlg("r", "call-r", presence.DirectionRecipient, presence.DialogEarly, caller))
	r.publish("201", rej)
	// Outgoing, never answered.
	r.publish("201", dlg("o", "call-o", presence.DirectionInitiator, presence.DialogTrying, "sip:0612345678@pbx.test"))
	r.publish("201", dlg("o", "call-o", presence.DirectionInitiator, presence.DialogTerminated, ""))
	got := r.wait("201@pbx.test", 3)
	byCallID := map[string]Call{}
	for _, c := range got {
		byCallID[c.CallID] = c
	}
	assert.Equal(t, Missed, byCallID["call-m"].Outcome)
	assert.Equal(t, Rejected, byCallID["call-r"].Outcome)
	assert.Equal(t, Unanswered, byCallID["call-o"].Outcome)
	assert.Equal(t, Outgoing, byCallID["call-o"].Direction)
	assert.Equal(t, "0612345678", byCallID["call-o"].Number)
	assert.Zero(t, byCallID["call-m"].Duration)

	ctx := context.Background()
	n, _, err := r.calls.Missed(ctx, "201@pbx.test")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	page, err := r.calls.List(ctx, "201@pbx.test", Query{Missed: true})
	require.NoError(t, err)
	require.Len(t, page.Calls, 1)
	assert.Equal(t, "call-m", page.Calls[0].CallID)
	require.NoError(t, r.calls.MarkRead(ctx, "201@pbx.test"))
	n, since, err := r.calls.Missed(ctx, "201@pbx.test")
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.False(t, since.IsZero())
}

// TestAnsweredElsewhere: a ring group rings 201 and 202 with one
// Call-ID; 202 answers. Whichever leg is recorded first, 201's call ends
// as answered elsewhere by 202.
func TestAnsweredElsewhere(t *testing.T) {
	for _, order := range []string{"answer first", "missed first"} {
		t.Run(order, func(t *testing.T) {
			r := newRig(t, NewMemStore(), presence.NewMemStore(), nil)
			r.publish("201", dlg("g1", "grp", presence.DirectionRecipient, presence.DialogEarly, caller))
			r.publish("202", dlg("g2", "grp", presence.DirectionRecipient, presence.DialogEarly, caller))
			if order == "answer first" {
				r.publish("202", dlg("g2", "grp", presence.DirectionRecipient, presence.DialogConfirmed, ""))
				r.waitAnswered(presence.NewAOR("202", "pbx.test"), "g2")
				r.publish("201", dlg("g1", "grp", presence.DirectionRecipient, presence.DialogTerminated, ""))
			} else {
				r.publish("201", dlg("g1", "grp", presence.DirectionRecipient, presence.DialogTerminated, ""))
				r.wait("201@pbx.test", 1)
				r.publish("202", dlg("g2", "grp", presence.DirectionRecipient, presence.DialogConfirmed, ""))
			}
			r.publish("202", dlg("g2", "grp", presence.DirectionRecipient, presence.DialogTerminated, ""))
			require.Eventually(t, func() bool {
				c := r.wait("201@pbx.test", 1)[0]
				return c.Outcome == AnsweredElsewhere && c.TakenBy == "202"
			}, 5*time.Second, 5*time.Millisecond)
			c := r.wait("202@pbx.test", 1)[0]
			assert.Equal(t, Answered, c.Outcome)
			n, _, err := r.calls.Missed(context.Background(), "201@pbx.test")
			require.NoError(t, err)
			assert.Zero(t, n, "a call taken by a colleague is not missed")
		})
	}
}

// waitAnswered waits until the answer of leg key on aor is stored.
func (r *rig) waitAnswered(aor presence.AOR, key string) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		l, err := getJSON[leg](context.Background(), r.calls.store, legKey(aor, key))
		return err == nil && !l.Answered.IsZero()
	}, 5*time.Second, 5*time.Millisecond)
}

func TestPickupWithReplaces(t *testing.T) {
	r := newRig(t, NewMemStore(), presence.NewMemStore(), nil)
	end := dlg("p", "call-p", presence.DirectionRecipient, presence.DialogTerminated, "")
	end.Event = "replaced"
	r.publish("201", dlg("p", "call-p", presence.DirectionRecipient, presence.DialogEarly, caller))
	r.publish("201", end)
	assert.Equal(t, AnsweredElsewhere, r.wait("201@pbx.test", 1)[0].Outcome)
}

// TestTwoInstancesOneRecord: two instances share the presence and call
// stores; the PBX sends every report to both. One record results.
func TestTwoInstancesOneRecord(t *testing.T) {
	st := NewMemStore()
	ps := presence.NewMemStore()
	a := newRig(t, st, ps, nil)
	b := newRig(t, st, ps, nil)
	for _, s := range []presence.DialogState{presence.DialogEarly, presence.DialogConfirmed, presence.DialogTerminated} {
		a.publish("201", dlg("x", "call-x", presence.DirectionRecipient, s, caller))
		b.publish("201", dlg("x", "call-x", presence.DirectionRecipient, s, caller))
	}
	got := a.wait("201@pbx.test", 1)
	require.Never(t, func() bool {
		p, _ := a.calls.List(context.Background(), "201@pbx.test", Query{})
		return len(p.Calls) > 1
	}, 200*time.Millisecond, 20*time.Millisecond)
	assert.Equal(t, Answered, got[0].Outcome)
	ends := 0
	for _, r := range []*rig{a, b} {
		for _, ev := range r.eventsOf("201@pbx.test") {
			if ev.Type == EventEnded {
				ends++
			}
		}
	}
	assert.Equal(t, 1, ends, "one instance announces the end")
}

func TestRetentionPagingDelete(t *testing.T) {
	ctx := context.Background()
	st, err := OpenBolt(filepath.Join(t.TempDir(), "calls.db"))
	require.NoError(t, err)
	defer st.Close()
	r := newRig(t, st, presence.NewMemStore(), nil)
	for i := range 7 {
		id := string(rune('a' + i))
		r.publish("201", dlg(id, "c"+id, presence.DirectionRecipient, presence.DialogEarly, caller))
		r.publish("201", dlg(id, "c"+id, presence.DirectionRecipient, presence.DialogTerminated, ""))
		r.wait("201@pbx.test", min(i+1, 5))
	}
	require.Eventually(t, func() bool {
		p, _ := r.calls.List(ctx, "201@pbx.test", Query{})
		return len(p.Calls) == 5 && p.Calls[0].CallID == "cg"
	}, 5*time.Second, 5*time.Millisecond, "MaxPerUser keeps the newest 5")

	var seen []string
	q := Query{Limit: 2}
	for {
		p, err := r.calls.List(ctx, "201@pbx.test", q)
		require.NoError(t, err)
		for _, c := range p.Calls {
			seen = append(seen, c.CallID)
		}
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	assert.Equal(t, []string{"cg", "cf", "ce", "cd", "cc"}, seen)
	_, err = r.calls.List(ctx, "201@pbx.test", Query{Cursor: "%%%"})
	require.ErrorIs(t, err, ErrInvalid)

	p, _ := r.calls.List(ctx, "201@pbx.test", Query{Limit: 1})
	require.NoError(t, r.calls.Delete(ctx, "201@pbx.test", p.Calls[0].ID))
	require.ErrorIs(t, r.calls.Delete(ctx, "201@pbx.test", p.Calls[0].ID), ErrNotFound)
	require.ErrorIs(t, r.calls.Delete(ctx, "202@pbx.test", p.Calls[0].ID), ErrNotFound)

	_, err = r.calls.Block(ctx, "201@pbx.test", "04 91 55 01 42")
	require.NoError(t, err)
	require.NoError(t, r.calls.DeleteUser(ctx, "201@pbx.test"))
	p, _ = r.calls.List(ctx, "201@pbx.test", Query{})
	assert.Empty(t, p.Calls)
	bl, _ := r.calls.BlockList(ctx, "201@pbx.test")
	assert.Empty(t, bl)
}

func TestBlockList(t *testing.T) {
	ctx := context.Background()
	s, err := New(Config{DefaultRegion: "FR", MaxBlocked: 2}, NewMemStore(), nil, zerolog.Nop())
	require.NoError(t, err)
	b, err := s.Block(ctx, "201@pbx.test", "04 91 55 01 42")
	require.NoError(t, err)
	assert.Equal(t, "+33491550142", b.Number, "normalized like caller ID")
	again, err := s.Block(ctx, "201@pbx.test", "+33 4 91 55 01 42")
	require.NoError(t, err)
	assert.Equal(t, b, again, "the same number once")
	for _, n := range []string{"0491550142", "sip:+33491550142@trunk", "0033491550142"} {
		blocked, err := s.IsBlocked(ctx, "201@pbx.test", n)
		require.NoError(t, err)
		assert.True(t, blocked, n)
	}
	blocked, _ := s.IsBlocked(ctx, "202@pbx.test", "0491550142")
	assert.False(t, blocked, "another user's list")
	_, err = s.Block(ctx, "201@pbx.test", "not a number")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = s.Block(ctx, "201@pbx.test", "0612345678")
	require.NoError(t, err)
	_, err = s.Block(ctx, "201@pbx.test", "0712345678")
	require.ErrorIs(t, err, ErrFull)
	require.NoError(t, s.Unblock(ctx, "201@pbx.test", "+33491550142"))
	require.ErrorIs(t, s.Unblock(ctx, "201@pbx.test", "+33491550142"), ErrNotFound)
	list, err := s.BlockList(ctx, "201@pbx.test")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "+33612345678", list[0].Number)
}

// TestSameLegEndedTwiceRecordedOnce: two instances that each derive the
// whole call (their presence state not shared, so each ends the leg)
// still write one record and announce one end, as the leg and the book
// refuse a second writer.
func TestSameLegEndedTwiceRecordedOnce(t *testing.T) {
	st := NewMemStore()
	a := newRig(t, st, presence.NewMemStore(), nil)
	b := newRig(t, st, presence.NewMemStore(), nil)
	for _, s := range []presence.DialogState{presence.DialogEarly, presence.DialogConfirmed, presence.DialogTerminated} {
		a.publish("201", dlg("x", "call-x", presence.DirectionRecipient, s, caller))
		b.publish("201", dlg("x", "call-x", presence.DirectionRecipient, s, caller))
	}
	a.wait("201@pbx.test", 1)
	ends := func() int {
		n := 0
		for _, r := range []*rig{a, b} {
			for _, ev := range r.eventsOf("201@pbx.test") {
				if ev.Type == EventEnded {
					n++
				}
			}
		}
		return n
	}
	// Both legs' work is done once both instances announced or skipped:
	// wait for the leg document to say ended and the queues to drain.
	require.Eventually(t, func() bool { return ends() >= 1 }, 5*time.Second, 5*time.Millisecond)
	require.Never(t, func() bool {
		p, _ := a.calls.List(context.Background(), "201@pbx.test", Query{})
		return len(p.Calls) != 1 || ends() != 1
	}, 300*time.Millisecond, 10*time.Millisecond)
}

func TestRetentionDays(t *testing.T) {
	ctx := context.Background()
	s, err := New(Config{Retention: 48 * time.Hour}, NewMemStore(), nil, zerolog.Nop())
	require.NoError(t, err)
	now := time.Now()
	s.now = func() time.Time { return now }
	for i, age := range []time.Duration{72 * time.Hour, time.Hour} {
		c := Call{ID: string(rune('a' + i)), User: "201@pbx.test", Started: now.Add(-age), Ended: now.Add(-age), Outcome: Missed}
		written, err := s.insert(ctx, c)
		require.NoError(t, err)
		assert.Equal(t, age < 48*time.Hour, written, "a call older than the retention is not kept")
	}
	now = now.Add(48 * time.Hour)
	p, err := s.List(ctx, "201@pbx.test", Query{})
	require.NoError(t, err)
	assert.Empty(t, p.Calls, "the hour-old call is past the retention 48 h later")
}

// TestRunDrainsOnShutdown: a call that ended just before shutdown is
// still recorded from the queue.
func TestRunDrainsOnShutdown(t *testing.T) {
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	s, err := New(Config{}, NewMemStore(), nil, zerolog.Nop())
	require.NoError(t, err)
	core.Watch(s.Changed)
	aor := presence.NewAOR("201", "pbx.test")
	var etag string
	for _, st := range []presence.DialogState{presence.DialogEarly, presence.DialogTerminated} {
		body := &presence.PublishBody{Dialogs: []presence.Dialog{dlg("z", "call-z", presence.DirectionRecipient, st, caller)}}
		s.Reported(aor, body.Dialogs)
		res, err := core.Publish(context.Background(), aor, presence.Publish{Event: presence.EventDialog, IfMatch: etag, Expires: time.Hour, Body: body})
		require.NoError(t, err)
		etag = res.ETag
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // shutting down before the workers ever ran
	require.NoError(t, s.Run(ctx))
	p, err := s.List(context.Background(), "201@pbx.test", Query{})
	require.NoError(t, err)
	require.Len(t, p.Calls, 1)
	assert.Equal(t, Missed, p.Calls[0].Outcome)
}

// hookStore runs hook once, before the first operation on a key that
// when accepts, to interleave another instance's work deterministically.
type hookStore struct {
	Store
	when func(op, key string) bool
	hook func()
	done atomic.Bool
}

func (h *hookStore) fire(op, key string) {
	if h.when != nil && h.when(op, key) && h.done.CompareAndSwap(false, true) {
		h.hook()
	}
}

func (h *hookStore) Get(ctx context.Context, key string) ([]byte, error) {
	h.fire("get", key)
	return h.Store.Get(ctx, key)
}

func (h *hookStore) Update(ctx context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) error {
	h.fire("update", key)
	return h.Store.Update(ctx, key, ttl, fn)
}

// TestAnswerSeenAfterEndIsKept: a call rings on instance A, is answered
// on B and hung up on A (the PBX spread its reports). Each instance's
// worker takes its own steps, so B's answer may be taken up after A has
// ended the leg, or while A records it; the record still says answered.
func TestAnswerSeenAfterEndIsKept(t *testing.T) {
	aor := presence.NewAOR("203", "pbx.test")
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Minute) // within retention
	ring := dlg("s", "split", presence.DirectionRecipient, presence.DialogEarly, caller)
	ring.Started = t0
	conf := ring
	conf.State, conf.Started = presence.DialogConfirmed, t0.Add(time.Second) // B's own report of the dialog
	tests := []struct {
		name string
		when func(op, key string) bool // where B's answer lands in A's end
	}{
		{"after the end", nil},
		{"before the record is written", func(op, key string) bool { return op == "update" && key == userKey(aor.String()) }},
		{"before the end reads the leg again", func(op, key string) bool { return op == "get" && key == legKey(aor, ring.Key()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			hs := &hookStore{Store: NewMemStore(), when: tt.when}
			a, err := New(Config{}, hs, nil, zerolog.Nop())
			require.NoError(t, err)
			b, err := New(Config{}, hs, nil, zerolog.Nop())
			require.NoError(t, err)
			var mu sync.Mutex
			var ended []Call
			for _, s := range []*Service{a, b} {
				s.OnEvent(func(ev Event) {
					if ev.Type == EventEnded {
						mu.Lock()
						ended = append(ended, ev.Call)
						mu.Unlock()
					}
				})
			}
			answer := func() {
				require.NoError(t, b.step(ctx, t0.Add(2*time.Second), Transition{Step: StepAnswer, AOR: aor, Dialog: conf}))
			}
			hs.hook = answer
			require.NoError(t, a.step(ctx, t0, Transition{Step: StepStart, AOR: aor, Dialog: ring}))
			require.NoError(t, a.step(ctx, t0.Add(10*time.Second), Transition{Step: StepEnd, AOR: aor, Dialog: conf}))
			if hs.done.CompareAndSwap(false, true) {
				answer() // B's worker comes to the answer last
			}

			page, err := a.List(ctx, aor.String(), Query{})
			require.NoError(t, err)
			require.Len(t, page.Calls, 1)
			c := page.Calls[0]
			assert.Equal(t, Answered, c.Outcome)
			assert.Equal(t, "203", c.TakenBy)
			assert.Equal(t, t0.Add(2*time.Second), c.Answered)
			assert.Equal(t, 8, c.Duration)
			n, _, err := a.Missed(ctx, aor.String())
			require.NoError(t, err)
			assert.Zero(t, n, "an answered call is not missed")
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, ended)
			assert.Equal(t, Answered, ended[len(ended)-1].Outcome, "the last word on the call's end is the answer")
		})
	}
}
