package calendar

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/lease"
	"github.com/switchboardhq/switchboard/presence"
)

// presenceRecorder is a Presence that keeps what it was told.
type presenceRecorder struct {
	mu   sync.Mutex // guards busy
	busy map[presence.AOR][]presence.Busy
}

func (p *presenceRecorder) SetCalendar(_ context.Context, aor presence.AOR, busy []presence.Busy) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.busy == nil {
		p.busy = map[presence.AOR][]presence.Busy{}
	}
	p.busy[aor] = busy
	return nil
}

func (p *presenceRecorder) get(aor presence.AOR) []presence.Busy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy[aor]
}

func newService(t *testing.T, cfg Config, store Store, p Presence) *Service {
	t.Helper()
	cfg.AllowPrivate = true // httptest listens on loopback
	return New(cfg, store, p, zerolog.Nop())
}

func put(t *testing.T, s *Service, aor presence.AOR, url string) Feed {
	t.Helper()
	f, err := s.Put(context.Background(), aor, &url, nil)
	require.NoError(t, err)
	return f
}

// makeDue makes aor's feed due now, as the next tick would find it.
func makeDue(t *testing.T, s *Service, aor presence.AOR) {
	t.Helper()
	_, err := s.store.Update(context.Background(), aor, func(f *Feed, _ bool) error { f.Poll.Next = s.now(); return nil })
	require.NoError(t, err)
}

// TestPollFixtures reads each committed feed from a local HTTP server, the
// way the poller reads a user's calendar, and checks the busy time stored
// for availability and the part handed to presence.
func TestPollFixtures(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(srv.Close)
	for _, tt := range fixtures {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			from, to := utc(tt.from), utc(tt.to)
			rec := &presenceRecorder{}
			s := newService(t, Config{Behind: time.Hour, Ahead: to.Sub(from) - time.Hour}, NewMemStore(), rec)
			s.now = func() time.Time { return from.Add(time.Hour) }
			put(t, s, alice, srv.URL+"/"+tt.file)

			require.NoError(t, s.Poll(ctx, alice))
			f, err := s.Get(ctx, alice)
			require.NoError(t, err)
			assert.Empty(t, f.Poll.Error)
			assert.Equal(t, tt.want, f.Busy)
			now := s.now()
			assert.Equal(t, within(tt.want, now, now.Add(s.cfg.PresenceAhead)), rec.get(alice))

			if to.Sub(from) <= MaxSpan {
				_, busy, err := s.Busy(ctx, alice, from, to)
				require.NoError(t, err)
				assert.Equal(t, tt.want, busy)
			}
		})
	}
}

// feedAround is an iCalendar feed with one meeting from start to end,
// titled, placed and attended.
func feedAround(start, end time.Time) string {
	const f = "20060102T150405Z"
	return strings.ReplaceAll(fmt.Sprintf(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:now-1@example.com
DTSTAMP:%s
DTSTART:%s
DTEND:%s
SUMMARY:Salary review with HR
LOCATION:Room 4
ATTENDEE;CN=Dana:mailto:dana@example.com
END:VEVENT
END:VCALENDAR
`, start.UTC().Format(f), start.UTC().Format(f), end.UTC().Format(f)), "\n", "\r\n")
}

// TestPollFailureLeavesPresence: a feed that times out, returns garbage, an
// error status or too much leaves the user's presence as it was, and the
// user sees why in their settings, without the secret address.
func TestPollFailureLeavesPresence(t *testing.T) {
	garbage, err := os.ReadFile(filepath.Join("testdata", "garbage.ics"))
	require.NoError(t, err)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{name: "times out", want: "the server did not answer in time", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * timeout):
			}
		}},
		{name: "garbage", want: "the feed is not iCalendar (text/calendar)", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(garbage)
		}},
		{name: "server error", want: "the server answered HTTP 500 Internal Server Error", handler: func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{name: "too large", want: "the feed is larger than 65536 bytes", handler: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("X", 70_000)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
			online(t, core, alice)
			now := time.Now()
			good := feedAround(now.Add(-10*time.Minute), now.Add(50*time.Minute))
			var broken atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if broken.Load() {
					tt.handler(w, r)
					return
				}
				_, _ = w.Write([]byte(good))
			}))
			t.Cleanup(srv.Close)
			s := newService(t, Config{Timeout: timeout, MaxBytes: 64 << 10}, NewMemStore(), core)
			put(t, s, alice, srv.URL+"/private/s3cr3t-token/basic.ics")

			require.NoError(t, s.Poll(ctx, alice))
			v, err := core.Get(ctx, alice)
			require.NoError(t, err)
			require.Equal(t, presence.StatusMeeting, v.Status, "in the meeting")
			before, err := s.Get(ctx, alice)
			require.NoError(t, err)

			broken.Store(true)
			makeDue(t, s, alice)
			require.NoError(t, s.Poll(ctx, alice))

			v, err = core.Get(ctx, alice)
			require.NoError(t, err)
			assert.Equal(t, presence.StatusMeeting, v.Status, "presence unaffected")
			f, err := s.Get(ctx, alice)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.Poll.Error)
			assert.NotContains(t, f.Poll.Error, "s3cr3t")
			assert.Equal(t, 1, f.Poll.Failures)
			assert.Equal(t, before.Busy, f.Busy, "the last good busy time is kept")
			assert.True(t, f.Poll.Next.After(s.now().Add(30*time.Second)), "backs off")
			assert.Equal(t, before.Poll.Succeeded, f.Poll.Succeeded)
		})
	}
}

func TestPollGarbageFromTheStart(t *testing.T) {
	ctx := context.Background()
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	online(t, core, alice)
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata")))
	t.Cleanup(srv.Close)
	s := newService(t, Config{}, NewMemStore(), core)
	put(t, s, alice, srv.URL+"/garbage.ics")
	require.NoError(t, s.Poll(ctx, alice))
	v, err := core.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, presence.StatusAvailable, v.Status)
	f, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, "the feed is not iCalendar (text/calendar)", f.Poll.Error)
	assert.True(t, f.Poll.Succeeded.IsZero())
}

func TestPollConditional(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	body := feedAround(now.Add(time.Hour), now.Add(2*time.Hour))
	var full, notModified atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "text/calendar")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	rec := &presenceRecorder{}
	s := newService(t, Config{}, NewMemStore(), rec)
	put(t, s, alice, srv.URL+"/cal.ics")

	require.NoError(t, s.Poll(ctx, alice))
	first, err := s.Get(ctx, alice)
	require.NoError(t, err)
	require.Len(t, first.Busy, 1)
	assert.Equal(t, `"v1"`, first.Poll.ETag)

	makeDue(t, s, alice)
	require.NoError(t, s.Poll(ctx, alice))
	assert.Equal(t, int32(1), full.Load())
	assert.Equal(t, int32(1), notModified.Load(), "the second read is conditional")
	second, err := s.Get(ctx, alice)
	require.NoError(t, err)
	assert.Equal(t, first.Busy, second.Busy)
	assert.Empty(t, second.Poll.Error)
	assert.Len(t, rec.get(alice), 1, "presence still gets the busy time")

	// Not due (another instance just read it): no request at all.
	require.NoError(t, s.Poll(ctx, alice))
	assert.Equal(t, int32(2), full.Load()+notModified.Load())
}

func TestPollRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	s := New(Config{}, NewMemStore(), &presenceRecorder{}, zerolog.Nop()) // AllowPrivate off
	put(t, s, alice, srv.URL+"/cal.ics")
	require.NoError(t, s.Poll(context.Background(), alice))
	f, err := s.Get(context.Background(), alice)
	require.NoError(t, err)
	assert.Equal(t, "the address is on a private or local network, which is not allowed", f.Poll.Error)
	assert.Zero(t, hits.Load())
}

// TestLeaseOnePollPerFeed: two instances sharing Redis never read the same
// feed at once, and the second does not read it again once the first has.
func TestLeaseOnePollPerFeed(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := testRedis(t)
	store := NewRedisStore(rdb, prefix)
	arrived, release := make(chan struct{}, 4), make(chan struct{})
	var hits atomic.Int32
	now := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		_, _ = w.Write([]byte(feedAround(now, now.Add(time.Hour))))
	}))
	t.Cleanup(srv.Close)
	a := newService(t, Config{Lease: lease.NewRedis(rdb, prefix+"lease:", "a")}, store, &presenceRecorder{})
	b := newService(t, Config{Lease: lease.NewRedis(rdb, prefix+"lease:", "b")}, store, &presenceRecorder{})
	put(t, a, alice, srv.URL+"/cal.ics")

	done := make(chan struct{})
	go func() { defer close(done); a.pollLeased(ctx, alice) }()
	<-arrived                // a is reading the feed
	b.pollLeased(ctx, alice) // b finds the lease held and returns
	close(release)
	<-done
	b.pollLeased(ctx, alice) // the feed is no longer due
	assert.Equal(t, int32(1), hits.Load())
	f, err := store.Get(ctx, alice)
	require.NoError(t, err)
	assert.Len(t, f.Busy, 1)
}

// TestRunBoundedConcurrency: Run reads every due feed, never more than
// Workers at once, and returns when its context ends.
func TestRunBoundedConcurrency(t *testing.T) {
	var cur, peak, hits atomic.Int32
	now := time.Now()
	body := feedAround(now, now.Add(time.Hour))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := cur.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // let requests overlap
		cur.Add(-1)
		hits.Add(1)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	rec := &presenceRecorder{}
	s := newService(t, Config{Workers: 2, Tick: 10 * time.Millisecond}, NewMemStore(), rec)
	for i := range 6 {
		put(t, s, presence.NewAOR(fmt.Sprint(300+i), "pbx.example.com"), srv.URL+"/cal.ics")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { return hits.Load() == 6 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.LessOrEqual(t, peak.Load(), int32(2))
	assert.Equal(t, int32(6), hits.Load(), "each feed read once per interval")
	for i := range 6 {
		assert.Len(t, rec.get(presence.NewAOR(fmt.Sprint(300+i), "pbx.example.com")), 1)
	}
}

func TestPutSettings(t *testing.T) {
	ctx := context.Background()
	rec := &presenceRecorder{}
	s := newService(t, Config{}, NewMemStore(), rec)
	str := func(s string) *string { return &s }
	no := false

	_, err := s.Put(ctx, alice, nil, &no)
	assert.ErrorIs(t, err, ErrInvalid, "a new calendar needs a url")
	for _, bad := range []string{"", "ftp://cal.example.com/x.ics", "https:///x.ics", "not a url\x7f"} {
		_, err := s.Put(ctx, alice, str(bad), nil)
		assert.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}

	f, err := s.Put(ctx, alice, str("webcal://cal.example.com/secret/basic.ics"), nil)
	require.NoError(t, err)
	assert.Equal(t, "https://cal.example.com/secret/basic.ics", f.URL)
	assert.True(t, f.Share, "shared by default")
	assert.Equal(t, "https://cal.example.com/…", Redact(f.URL))

	_, err = s.store.Update(ctx, alice, func(f *Feed, _ bool) error {
		f.Busy = []presence.Busy{{Start: s.now(), End: s.now().Add(time.Hour)}}
		f.Poll.Succeeded = s.now()
		return nil
	})
	require.NoError(t, err)
	f, err = s.Put(ctx, alice, nil, &no)
	require.NoError(t, err)
	assert.False(t, f.Share)
	assert.Len(t, f.Busy, 1, "sharing off keeps what was read")
	assert.Equal(t, uint64(2), f.Gen)

	f, err = s.Put(ctx, alice, str("https://other.example.com/x.ics"), nil)
	require.NoError(t, err)
	assert.Empty(t, f.Busy, "a new address starts afresh")
	assert.True(t, f.Poll.Succeeded.IsZero())

	require.NoError(t, rec.SetCalendar(ctx, alice, []presence.Busy{{}}))
	require.NoError(t, s.Delete(ctx, alice))
	assert.Nil(t, rec.get(alice), "deleting clears presence")
	assert.ErrorIs(t, s.Delete(ctx, alice), ErrNotFound)

	_, _, err = s.Busy(ctx, alice, s.now(), s.now().Add(MaxSpan+time.Hour))
	assert.ErrorIs(t, err, ErrInvalid)
}

// online registers a phone for aor: an offline user shows "offline",
// whatever the calendar says.
func online(t *testing.T, core *presence.Service, aor presence.AOR) {
	t.Helper()
	_, err := core.Register(context.Background(), aor, presence.Registration{CallID: "c1", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:201@10.0.0.5:5060", Expires: time.Hour}}})
	require.NoError(t, err)
}
