package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// clock is a settable time shared by test servers.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// stream opens the presence stream of key on base with Last-Event-ID
// lastID (none when empty) and the query.
func stream(t *testing.T, ctx context.Context, base, key, lastID, query string) *sseReader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/presence/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	require.Equal(t, http.StatusOK, res.StatusCode)
	return newSSEReader(res.Body)
}

func viewOf(ext string, version uint64, line presence.LineState) presence.Change {
	return presence.Change{View: presence.View{AOR: presence.NewAOR(ext, "pbx.example.com"), Version: version, Line: line, Status: presence.StatusAvailable}}
}

// eventView decodes a presence event's AOR and version.
func eventView(t *testing.T, ev sseEvent) (string, uint64) {
	t.Helper()
	require.Equal(t, "presence", ev.name)
	var v struct {
		AOR     string `json:"aor"`
		Version uint64 `json:"version"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev.data), &v))
	return v.AOR, v.Version
}

// TestStreamResumesOnAnotherInstance: two API servers fed the same
// changes, as two instances are by the events bus. A client reads from A,
// drops, misses a change, and resumes on B with Last-Event-ID: it gets
// the missed change exactly once and nothing from before its window.
func TestStreamResumesOnAnotherInstance(t *testing.T) {
	clk := &clock{t: time.Now().Add(time.Minute)}
	newInstance := func() (*Server, string) {
		core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
		srv := New(Deps{Presence: core, Keys: testKeys}, zerolog.Nop())
		srv.now = clk.now
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return srv, ts.URL
	}
	a, aURL := newInstance()
	b, bURL := newInstance()
	both := func(c presence.Change) { a.Watch(c); b.Watch(c) }

	both(viewOf("201", 1, presence.LineIdle)) // long before: never resent
	clk.set(clk.now().Add(10 * time.Second))

	ctx, drop := context.WithCancel(context.Background())
	onA := stream(t, ctx, aURL, "alice", "", "")
	both(viewOf("202", 1, presence.LineRinging))
	seen := onA.next(t, 5*time.Second)
	aor, version := eventView(t, seen)
	require.Equal(t, "202@pbx.example.com", aor)
	require.Equal(t, uint64(1), version)
	require.Equal(t, strconv.FormatInt(clk.now().UnixMilli(), 10), seen.id)
	drop() // the network goes

	clk.set(clk.now().Add(5 * time.Second))
	both(viewOf("203", 1, presence.LineInCall)) // missed
	both(viewOf("203", 2, presence.LineIdle))   // missed too: only the latest view comes

	onB := stream(t, context.Background(), bURL, "alice", seen.id, "")
	got := map[string][]uint64{}
	for range 2 { // 202 (inside the skew window, dropped by the client) and 203
		aor, version := eventView(t, onB.next(t, 5*time.Second))
		got[aor] = append(got[aor], version)
	}
	assert.Equal(t, []uint64{2}, got["203@pbx.example.com"], "the missed change, once, as it is now")
	assert.Equal(t, []uint64{1}, got["202@pbx.example.com"], "the last change seen comes again within the window")
	assert.NotContains(t, got, "201@pbx.example.com", "nothing older than the window")

	// Live changes follow; one already replayed is not sent again.
	both(viewOf("203", 2, presence.LineIdle))
	both(viewOf("204", 1, presence.LineRinging))
	aor, version = eventView(t, onB.next(t, 5*time.Second))
	assert.Equal(t, "204@pbx.example.com", aor)
	assert.Equal(t, uint64(1), version)
	onB.none(t, 100*time.Millisecond)

	// Far enough later, the window starts after 202's change.
	clk.set(clk.now().Add(time.Minute))
	both(viewOf("205", 1, presence.LineIdle))
	later := stream(t, context.Background(), aURL, "alice", strconv.FormatInt(clk.now().Add(-time.Second).UnixMilli(), 10), "")
	aor, _ = eventView(t, later.next(t, 5*time.Second))
	assert.Equal(t, "205@pbx.example.com", aor)
	later.none(t, 100*time.Millisecond)
}

// TestStreamResumeBeforeHistory: an instance that started after the
// client's last event sends the current view of the stream's extensions.
func TestStreamResumeBeforeHistory(t *testing.T) {
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	_, err := core.SetStatus(t.Context(), presence.NewAOR("202", "pbx.example.com"), presence.UserStatus{Status: presence.StatusLunch})
	require.NoError(t, err)
	srv := New(Deps{Presence: core, Keys: testKeys}, zerolog.Nop())
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	old := strconv.FormatInt(time.Now().Add(-time.Hour).UnixMilli(), 10)
	s := stream(t, context.Background(), ts.URL, "alice", old, "?aor=202@pbx.example.com&aor=203@pbx.example.com")
	aor, version := eventView(t, s.next(t, 5*time.Second))
	assert.Equal(t, "202@pbx.example.com", aor)
	assert.Equal(t, uint64(1), version)
	s.none(t, 100*time.Millisecond) // 203 has no state

	// Without Last-Event-ID (or with one that is no time) nothing is
	// replayed. (An old per-version id such as "7" reads as 1970: a
	// snapshot, which is safe.)
	for _, id := range []string{"", "garbage", "-5"} {
		s := stream(t, context.Background(), ts.URL, "alice", id, "?aor=202@pbx.example.com")
		s.none(t, 100*time.Millisecond)
	}
}

func TestReplayLogRing(t *testing.T) {
	start := time.Unix(1000, 0)
	l := newReplayLog(start)
	f := filter{domain: "pbx.example.com"}
	for i := range replayEntries + 10 {
		l.add(stamped{at: start.Add(time.Duration(i) * time.Millisecond), view: viewOf(strconv.Itoa(i%50), uint64(i), presence.LineIdle).View})
	}
	// The ring reaches back to entry 10 only.
	_, covered := l.since(start.Add(10*time.Millisecond), f)
	assert.False(t, covered)
	got, covered := l.since(start.Add(11*time.Millisecond), f)
	assert.True(t, covered)
	assert.Len(t, got, 50, "the latest view per extension")
	for i := 1; i < len(got); i++ {
		assert.True(t, got[i-1].at.Before(got[i].at), "oldest first")
	}
	_, covered = newReplayLog(start).since(start.Add(-time.Millisecond), f)
	assert.False(t, covered, "before the instance started")
}
