package watcher

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestParseSubscriptionState(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    subscriptionState
		wantErr bool
	}{
		{name: "active with expires", in: "active;expires=600", want: subscriptionState{value: "active", expires: 600 * time.Second}},
		{name: "pending", in: "pending", want: subscriptionState{value: "pending"}},
		{name: "terminated with reason and retry", in: "Terminated ; reason=Probation ; retry-after=30",
			want: subscriptionState{value: "terminated", reason: "probation", retryAfter: 30 * time.Second}},
		{name: "unknown parameter ignored", in: "active;expires=60;foo=bar", want: subscriptionState{value: "active", expires: time.Minute}},
		{name: "empty", in: " ", wantErr: true},
		{name: "bad expires", in: "active;expires=soon", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSubscriptionState(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTerminatedDelay(t *testing.T) {
	const minB, maxB = 100 * time.Millisecond, 10 * time.Second
	tests := []struct {
		name     string
		state    subscriptionState
		age      time.Duration // how long the subscription lived
		min, max time.Duration
	}{
		{name: "retry-after wins", state: subscriptionState{reason: "rejected", retryAfter: 7 * time.Second}, age: time.Minute, min: 7 * time.Second, max: 7 * time.Second},
		{name: "deactivated is immediate", state: subscriptionState{reason: "deactivated"}, age: time.Minute, max: 0},
		{name: "timeout is immediate", state: subscriptionState{reason: "timeout"}, age: time.Minute, max: 0},
		{name: "deactivated at once backs off", state: subscriptionState{reason: "deactivated"}, age: 0, min: minB / 2, max: minB},
		{name: "rejected backs off long", state: subscriptionState{reason: "rejected"}, age: time.Minute, min: maxB / 2, max: maxB},
		{name: "noresource backs off long", state: subscriptionState{reason: "noresource"}, age: time.Minute, min: maxB / 2, max: maxB},
		{name: "probation backs off", state: subscriptionState{reason: "probation"}, age: time.Minute, min: minB / 2, max: minB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(Config{MinBackoff: minB, MaxBackoff: maxB, Domain: testDomain}, nil, nil, zerolog.Nop())
			s := newSub(w, "201", EventDialog)
			s.since = time.Now().Add(-tt.age)
			d := s.terminated(tt.state)
			assert.GreaterOrEqual(t, d, tt.min)
			assert.LessOrEqual(t, d, tt.max)
		})
	}
}

func TestBackoffCapped(t *testing.T) {
	w := New(Config{MinBackoff: time.Second, MaxBackoff: 8 * time.Second, Domain: testDomain}, nil, nil, zerolog.Nop())
	s := newSub(w, "201", EventDialog)
	var got []time.Duration
	for range 8 {
		got = append(got, s.backoff())
	}
	for i, d := range got {
		want := min(time.Second<<i, 8*time.Second)
		assert.GreaterOrEqual(t, d, want/2, "attempt %d", i)
		assert.LessOrEqual(t, d, want, "attempt %d", i)
	}
}

func TestMemLeases(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, m *MemLeases, clock *time.Time)
	}{
		{name: "exclusive until expiry", run: func(t *testing.T, m *MemLeases, clock *time.Time) {
			a, b := m.For("a"), m.For("b")
			ok, _ := a.Acquire(ctx, "k", time.Second)
			require.True(t, ok)
			ok, _ = b.Acquire(ctx, "k", time.Second)
			assert.False(t, ok, "held by a")
			*clock = clock.Add(2 * time.Second)
			ok, _ = b.Acquire(ctx, "k", time.Second)
			assert.True(t, ok, "a's lease lapsed")
			ok, _ = a.Renew(ctx, "k", time.Second)
			assert.False(t, ok, "a lost it")
		}},
		{name: "release frees only own lease", run: func(t *testing.T, m *MemLeases, _ *time.Time) {
			a, b := m.For("a"), m.For("b")
			ok, _ := a.Acquire(ctx, "k", time.Second)
			require.True(t, ok)
			require.NoError(t, b.Release(ctx, "k"))
			assert.Equal(t, "a", m.Holder("k"))
			require.NoError(t, a.Release(ctx, "k"))
			assert.Equal(t, "", m.Holder("k"))
		}},
		{name: "renew extends", run: func(t *testing.T, m *MemLeases, clock *time.Time) {
			a := m.For("a")
			ok, _ := a.Acquire(ctx, "k", time.Second)
			require.True(t, ok)
			*clock = clock.Add(900 * time.Millisecond)
			ok, _ = a.Renew(ctx, "k", time.Second)
			require.True(t, ok)
			*clock = clock.Add(900 * time.Millisecond)
			assert.Equal(t, "a", m.Holder("k"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Unix(1000, 0)
			m := NewMemLeases()
			m.now = func() time.Time { return clock }
			tt.run(t, m, &clock)
		})
	}
}

const regFull = `<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="%d" state="full">
 <registration aor="sip:201@example.com" id="a1" state="active">
  %s
 </registration>
</reginfo>`

func TestReginfo(t *testing.T) {
	ctx := context.Background()
	store := presence.NewMemStore()
	sink := &recordingSink{svc: presence.New(presence.Config{}, store, zerolog.Nop()), store: store}
	w := New(Config{Domain: testDomain}, nil, sink, zerolog.Nop())
	s := newSub(w, "201", EventReg)
	s.expiresAt = time.Now().Add(time.Minute)
	aor := presence.NewAOR("201", testDomain)

	contact := func(uri, state string) string {
		return `<contact id="` + uri + `" state="` + state + `" event="registered" expires="120"><uri>` + uri + `</uri></contact>`
	}
	steps := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "two phones register", doc: fmt.Sprintf(regFull, 0, contact("sip:201@10.0.0.5", "active")+contact("sip:201@10.0.0.6", "active")),
			want: []string{"sip:201@10.0.0.5", "sip:201@10.0.0.6"}},
		{name: "one expires", doc: fmt.Sprintf(regFull, 1, contact("sip:201@10.0.0.5", "active")+contact("sip:201@10.0.0.6", "terminated")),
			want: []string{"sip:201@10.0.0.5"}},
		{name: "stale version ignored", doc: fmt.Sprintf(regFull, 1, ""), want: []string{"sip:201@10.0.0.5"}},
		{name: "full document drops what it omits", doc: fmt.Sprintf(regFull, 2, ""), want: nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ri, err := parseReginfo([]byte(st.doc))
			require.NoError(t, err)
			s.applyReg(ctx, "call-1", ri, time.Minute)
			bs, err := sink.svc.Bindings(ctx, aor)
			require.NoError(t, err)
			var got []string
			for _, b := range bs {
				got = append(got, b.Contact)
			}
			assert.ElementsMatch(t, st.want, got)
		})
	}

	_, err := parseReginfo([]byte(`<reginfo state="bogus"/>`))
	assert.Error(t, err)
}

func TestParseBody(t *testing.T) {
	tests := []struct {
		name  string
		event string
		ctype string
		body  string
		check func(t *testing.T, pb *presence.PublishBody)
	}{
		{name: "partial dialog-info", event: EventDialog, ctype: contentDialogInfo,
			body: `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="partial" entity="sip:201@example.com"><dialog id="a" direction="initiator"><state>confirmed</state></dialog></dialog-info>`,
			check: func(t *testing.T, pb *presence.PublishBody) {
				assert.True(t, pb.Partial)
				assert.Equal(t, uint64(1), pb.DocVersion, "version 0 must not read as unversioned")
				require.Len(t, pb.Dialogs, 1)
				assert.Equal(t, presence.DialogConfirmed, pb.Dialogs[0].State)
				assert.Equal(t, presence.DirectionInitiator, pb.Dialogs[0].Direction)
			}},
		{name: "pidf busy without content type", event: EventPresence,
			body: `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="sip:201@example.com"><tuple id="t"><status><basic>open</basic></status></tuple><dm:person id="p"><rpid:activities><rpid:busy/></rpid:activities></dm:person></presence>`,
			check: func(t *testing.T, pb *presence.PublishBody) {
				assert.True(t, pb.Online)
				require.NotNil(t, pb.Status)
				assert.Equal(t, presence.StatusDND, pb.Status.Status)
			}},
		{name: "unsupported type", event: EventDialog, ctype: "text/plain", body: "x"},
		{name: "malformed dialog-info", event: EventDialog, ctype: contentDialogInfo, body: "<dialog-info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb, _, err := parseBody(tt.event, tt.ctype, []byte(tt.body))
			if tt.check == nil {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			tt.check(t, pb)
		})
	}
}

func FuzzParseReginfo(f *testing.F) {
	f.Add([]byte(fmt.Sprintf(regFull, 3, `<contact id="c" state="active" expires="60"><uri>sip:201@10.0.0.5</uri></contact>`)))
	f.Add([]byte(`<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="0" state="partial"/>`))
	f.Add([]byte(`<reginfo state="full"><registration><contact expires="-1"><uri></uri></contact></registration></reginfo>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ri, err := parseReginfo(b)
		if err == nil && ri.State != "full" && ri.State != "partial" {
			t.Fatalf("accepted state %q", ri.State)
		}
	})
}
