package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/pidf"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// meetingFeed is an iCalendar feed with one titled, placed and attended
// meeting from start to end.
func meetingFeed(start, end time.Time) string {
	const f = "20060102T150405Z"
	return strings.ReplaceAll(fmt.Sprintf(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//integration//EN
BEGIN:VEVENT
UID:meeting-1@example.com
DTSTAMP:%s
DTSTART:%s
DTEND:%s
SUMMARY:Salary review with HR
LOCATION:Room Calanques
ATTENDEE;CN=Dana:mailto:dana@pbx.example.com
END:VEVENT
END:VCALENDAR
`, start.UTC().Format(f), start.UTC().Format(f), end.UTC().Format(f)), "\n", "\r\n")
}

// TestCalendarMeetingAcrossInstances: a user's calendar, served by a local
// HTTP server, makes their presence "In a meeting" during the event on
// every instance (SIP PIDF with the RPID activity meeting, and the API),
// the feed is read by one instance only, and a colleague's availability
// call shows the busy block without the title.
func TestCalendarMeetingAcrossInstances(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	args := []string{"--redis", redisURL, "--nats", natsURL, "--calendar-allow-private"}
	a := startInstance(t, "cal-a", args...)
	b := startInstance(t, "cal-b", args...)
	ana := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal")
	bruno := mintKey(t, redisURL, "--user", "202@pbx.example.com", "--scopes", "contacts:personal")

	start := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	end := start.Add(time.Hour)
	var hits atomic.Int32
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/calendar")
		_, _ = io.WriteString(w, meetingFeed(start, end))
	}))
	t.Cleanup(feed.Close)

	// Ana's phone is registered on A; a softphone watches her presence
	// through instance B.
	phone := siptest.NewPhone(t, "UDP", a.sipAddr())
	phone.Request("REGISTER", "sip:pbx.example.com", 1, "cal-reg", "r1", "", "Expires: 300\n", "")
	require.Equal(t, 200, phone.Response("REGISTER").StatusCode)
	watcher := siptest.NewPhone(t, "UDP", b.sipAddr())
	watcher.Request("SUBSCRIBE", ext201, 1, "cal-1", "w", "", "Event: presence\nExpires: 600\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(200)

	// Ana registers her calendar through instance A.
	code, body, _ := a.call("PUT", "/v1/users/201@pbx.example.com/calendar", ana, fmt.Sprintf(`{"url":%q}`, feed.URL+"/private/s3cr3t/basic.ics"))
	require.Equal(t, 200, code, body)

	// The first NOTIFYs may still be about the registration.
	var doc *pidf.Document
	for range 3 {
		n := watcher.Notify(200)
		var err error
		doc, err = pidf.Parse(n.Body())
		require.NoError(t, err, string(n.Body()))
		if len(doc.Activities) > 0 {
			break
		}
	}
	assert.Equal(t, []string{"meeting"}, doc.Activities)
	assert.Equal(t, "In a meeting", doc.Note)

	code, body, _ = b.call("GET", "/v1/presence/201@pbx.example.com", bruno, "")
	require.Equal(t, 200, code, body)
	var v struct {
		Status      string `json:"status"`
		StatusLabel string `json:"status_label"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	assert.Equal(t, "meeting", v.Status)
	assert.Equal(t, "In a meeting", v.StatusLabel)

	// Bruno asks instance B when Ana is busy: the block, nothing else.
	q := url.Values{"from": {start.Add(-time.Hour).Format(time.RFC3339)}, "to": {start.Add(3 * time.Hour).Format(time.RFC3339)}}
	code, body, _ = b.call("GET", "/v1/users/201@pbx.example.com/availability?"+q.Encode(), bruno, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, fmt.Sprintf(`"busy":[{"start":%q,"end":%q}]`, start.Format(time.RFC3339), end.Format(time.RFC3339)))
	for _, leak := range []string{"Salary", "Calanques", "Dana", "s3cr3t"} {
		assert.NotContains(t, body, leak)
	}

	// Her own settings show the last poll; the instances read the feed once.
	code, body, _ = b.call("GET", "/v1/users/201@pbx.example.com/calendar", ana, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"last_success"`)
	assert.Contains(t, body, "s3cr3t", "the user sees her own address")
	assert.Equal(t, int32(1), hits.Load(), "one instance reads the feed")
	for _, in := range []*instance{a, b} {
		assert.NotContains(t, in.logs.String(), "s3cr3t", "the address is never logged")
	}

	// A status set by hand wins over the calendar.
	code, body, _ = a.call("PUT", "/v1/presence/201@pbx.example.com/status", ana, `{"status":"dnd"}`)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"status":"dnd"`)
}

// TestCalendarGarbageFeedEmbedded: with the embedded stores (no Redis), a
// feed that returns garbage leaves presence alone and its error shows in
// the user's settings.
func TestCalendarGarbageFeedEmbedded(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "bootstrap.key")
	in := startInstance(t, "cal-embedded", "--calendar-allow-private", "--bootstrap-key-file", keyFile)
	raw, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	operator := strings.TrimSpace(string(raw))
	code, body, _ := in.call("PUT", "/v1/users/201@pbx.example.com", operator, `{"first_name":"Ana"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, minted := apiCall(t, in, "POST", "/v1/keys", operator, `{"user":"201@pbx.example.com","scopes":["contacts:personal"]}`)
	require.Equal(t, 201, code, minted)
	ana := minted["key"].(string)
	_, before, _ := in.call("GET", "/v1/presence/201@pbx.example.com", ana, "")

	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Please sign in</body></html>")
	}))
	t.Cleanup(feed.Close)
	code, body, _ = in.call("PUT", "/v1/users/201@pbx.example.com/calendar", ana, fmt.Sprintf(`{"url":%q}`, feed.URL+"/cal.ics"))
	require.Equal(t, 200, code, body)

	require.Eventually(t, func() bool {
		_, body, _ := in.call("GET", "/v1/users/201@pbx.example.com/calendar", ana, "")
		return strings.Contains(body, `"error":"the feed is not iCalendar (text/calendar)"`)
	}, 10*time.Second, 50*time.Millisecond, "the error shows in the settings")
	code, body, _ = in.call("GET", "/v1/presence/201@pbx.example.com", ana, "")
	require.Equal(t, 200, code, body)
	assert.Equal(t, statusOf(t, before), statusOf(t, body), "presence unaffected")
	assert.NotContains(t, body, `"status":"meeting"`)
}

// statusOf reads the status of a presence JSON answer.
func statusOf(t *testing.T, body string) string {
	t.Helper()
	var v struct{ Status string }
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v.Status
}

// TestCalendarDeletedWithTheUser: deleting a user deletes their calendar
// feed (its secret address included) from the shared store.
func TestCalendarDeletedWithTheUser(t *testing.T) {
	redisURL := harness.Redis(t)
	in := startInstance(t, "cal-del", "--redis", redisURL, "--nats", harness.NATS(t), "--calendar-allow-private")
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin")
	ana := mintKey(t, redisURL, "--user", "209@pbx.example.com", "--scopes", "contacts:personal")
	code, body, _ := in.call("PUT", "/v1/users/209@pbx.example.com", admin, `{"first_name":"Ana"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, body, _ = in.call("PUT", "/v1/users/209@pbx.example.com/calendar", ana, `{"url":"http://127.0.0.1:9/private/s3cr3t.ics"}`)
	require.Equal(t, 200, code, body)
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	const key = "sb:cal:feed:pbx.example.com:209"
	require.Equal(t, int64(1), rdb.Exists(context.Background(), key).Val(), "the feed is stored")

	code, body, _ = in.call("DELETE", "/v1/users/209@pbx.example.com?confirm=true", admin, "")
	require.Contains(t, []int{200, 204}, code, body)
	require.Eventually(t, func() bool { return rdb.Exists(context.Background(), key).Val() == 0 },
		5*time.Second, 50*time.Millisecond, "the feed went with the user")
}
