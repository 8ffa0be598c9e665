package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// dialer is a fake of our own Dialer: it records the calls asked for.
type dialer struct {
	mu    sync.Mutex
	calls []ClickToCallRequest
}

func (d *dialer) Dial(req ClickToCallRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, req)
	return nil
}

func (d *dialer) last() ClickToCallRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[len(d.calls)-1]
}

func newClickToCallAPI(t *testing.T, cfg ClickToCallConfig) (*httptest.Server, *Server) {
	t.Helper()
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	srv := New(Deps{Presence: core, Keys: testKeys}, zerolog.Nop())
	require.NoError(t, srv.SetClickToCall(cfg))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, srv
}

func TestClickToCallStart(t *testing.T) {
	d := &dialer{}
	ts, _ := newClickToCallAPI(t, ClickToCallConfig{Dialer: d, DefaultRegion: "US", DomainRegions: map[string]string{"pbx.example.com": "FR"}})
	tests := []struct {
		name, body, want string
	}{
		{name: "international", body: `{"to":"+33 4 91 55 01 42"}`, want: "+33491550142"},
		{name: "national in the domain's region", body: `{"to":"04 91 55 01 42"}`, want: "+33491550142"},
		{name: "extension", body: `{"to":"202"}`, want: "202"},
		{name: "own extension named", body: `{"to":"202","from":"201@pbx.example.com"}`, want: "202"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, "POST", ts.URL+"/v1/calls", "alice", tt.body)
			require.Equal(t, http.StatusAccepted, res.StatusCode, body)
			id, _ := body["id"].(string)
			assert.True(t, strings.HasPrefix(id, "c2c_"), id)
			assert.Equal(t, "/v1/calls/"+id+"/progress", res.Header.Get("Location"))
			assert.Equal(t, "ringing", body["state"])
			assert.Equal(t, tt.want, body["to"])
			got := d.last()
			assert.Equal(t, ClickToCallRequest{ID: id, From: presence.NewAOR("201", "pbx.example.com"), Number: tt.want}, got)
		})
	}
}

func TestClickToCallRefusals(t *testing.T) {
	d := &dialer{}
	ts, _ := newClickToCallAPI(t, ClickToCallConfig{Dialer: d})
	off, _ := newClickToCallAPI(t, ClickToCallConfig{})
	tests := []struct {
		name, url, key, body string
		want                 int
		field                string
	}{
		{name: "no key", url: ts.URL, body: `{"to":"202"}`, want: 401},
		{name: "admin key has no phone", url: ts.URL, key: "admin", body: `{"to":"202"}`, want: 403},
		{name: "another user's extension", url: ts.URL, key: "alice", body: `{"to":"203","from":"202@pbx.example.com"}`, want: 403, field: "from"},
		{name: "not a number", url: ts.URL, key: "alice", body: `{"to":"pizza"}`, want: 400, field: "to"},
		{name: "empty", url: ts.URL, key: "alice", body: `{"to":""}`, want: 400, field: "to"},
		{name: "unknown field", url: ts.URL, key: "alice", body: `{"to":"202","via":"x"}`, want: 400},
		{name: "not json", url: ts.URL, key: "alice", body: `to=202`, want: 400},
		{name: "not enabled", url: off.URL, key: "alice", body: `{"to":"202"}`, want: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, "POST", tt.url+"/v1/calls", tt.key, tt.body)
			assert.Equal(t, tt.want, res.StatusCode, body)
			if tt.field != "" {
				assert.Equal(t, tt.field, body["error"].(map[string]any)["field"])
			}
		})
	}
	assert.Empty(t, d.calls, "no refused request reached the dialer")
}

func TestClickToCallRateLimitedPerUser(t *testing.T) {
	ts, _ := newClickToCallAPI(t, ClickToCallConfig{Dialer: &dialer{}, PerMinute: 1, Burst: 2})
	for range 2 {
		res, _ := do(t, "POST", ts.URL+"/v1/calls", "alice", `{"to":"202"}`)
		require.Equal(t, http.StatusAccepted, res.StatusCode)
	}
	res, body := do(t, "POST", ts.URL+"/v1/calls", "alice", `{"to":"202"}`)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	res, _ = do(t, "POST", ts.URL+"/v1/calls", "bob", `{"to":"201"}`)
	assert.Equal(t, http.StatusAccepted, res.StatusCode, "another user has a bucket of their own")
}

func TestClickToCallProgress(t *testing.T) {
	ts, srv := newClickToCallAPI(t, ClickToCallConfig{Dialer: &dialer{}})
	_, body := do(t, "POST", ts.URL+"/v1/calls", "alice", `{"to":"202"}`)
	id := body["id"].(string)
	from := presence.NewAOR("201", "pbx.example.com")

	res, body := do(t, "GET", ts.URL+"/v1/calls/"+id+"/progress", "alice", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "ringing", body["state"])
	res, _ = do(t, "GET", ts.URL+"/v1/calls/"+id+"/progress", "bob", "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "another user's call is not found")
	res, _ = do(t, "GET", ts.URL+"/v1/calls/c2c_nope/progress", "alice", "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	srv.ClickToCallProgress(ClickToCallProgress{ID: id, From: from, Number: "202", State: "failed", Reason: "busy", SIPStatus: 486, Seq: 3, At: time.Now()})
	srv.ClickToCallProgress(ClickToCallProgress{ID: id, From: from, Number: "202", State: "connecting", Seq: 2, At: time.Now()})
	_, body = do(t, "GET", ts.URL+"/v1/calls/"+id+"/progress", "alice", "")
	assert.Equal(t, "failed", body["state"], "a late older step does not go back")
	assert.Equal(t, "busy", body["reason"])
	assert.Equal(t, float64(486), body["sip_status"])
	_, body = do(t, "GET", ts.URL+"/v1/calls/"+id+"/progress", "admin", "")
	assert.Equal(t, "failed", body["state"], "an operator sees it")
}

func TestClickToCallOnEventStream(t *testing.T) {
	ts, srv := newClickToCallAPI(t, ClickToCallConfig{Dialer: &dialer{}})
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/v1/presence/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer alice")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	r := bufio.NewReader(res.Body)
	_, err = r.ReadString('\n') // the stream's opening comment
	require.NoError(t, err)

	// Bob's call is not on Alice's stream; hers is.
	srv.ClickToCallProgress(ClickToCallProgress{ID: "c2c_b", From: presence.NewAOR("202", "pbx.example.com"), Number: "201", State: "ringing", Seq: 1, At: time.Now()})
	srv.ClickToCallProgress(ClickToCallProgress{ID: "c2c_a", From: presence.NewAOR("201", "pbx.example.com"), Number: "202", State: "connected", Seq: 3, At: time.Now()})
	var event, data string
	for data == "" {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
		}
	}
	assert.Equal(t, "click_to_call", event)
	var got clickToCallJSON
	require.NoError(t, json.Unmarshal([]byte(data), &got))
	assert.Equal(t, "c2c_a", got.ID)
	assert.Equal(t, "connected", got.State)
	assert.Equal(t, "201@pbx.example.com", got.From)
}
