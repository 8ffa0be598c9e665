package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// pbxPublisher PUBLISHes full dialog-info documents for extensions from a
// trusted source, as Kamailio's pua_dialoginfo does: one publication per
// extension, refreshed with its entity-tag.
type pbxPublisher struct {
	t     *testing.T
	p     *siptest.Phone
	cseq  int
	etags map[string]string
	vers  map[string]int
}

func newPBX(t *testing.T, in *instance) *pbxPublisher {
	return &pbxPublisher{t: t, p: siptest.NewPhone(t, "UDP", in.sipAddr()), etags: map[string]string{}, vers: map[string]int{}}
}

// leg is one <dialog> of a document.
type leg struct {
	id, callID, dir, state, event, remote string
}

func (x *pbxPublisher) publish(ext string, legs ...leg) {
	x.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:%s@pbx.example.com">`, x.vers[ext], ext)
	x.vers[ext]++
	for _, l := range legs {
		ev := ""
		if l.event != "" {
			ev = fmt.Sprintf(` event=%q`, l.event)
		}
		remote := ""
		if l.remote != "" {
			remote = fmt.Sprintf(`<remote><identity>%s</identity></remote>`, l.remote)
		}
		fmt.Fprintf(&b, `
 <dialog id=%q call-id=%q direction=%q><state%s>%s</state>%s</dialog>`, l.id, l.callID, l.dir, ev, l.state, remote)
	}
	b.WriteString("\n</dialog-info>")
	hdr := "Event: dialog\nExpires: 600\n"
	if e := x.etags[ext]; e != "" {
		hdr += "SIP-If-Match: " + e + "\n"
	}
	x.cseq++
	x.p.Request("PUBLISH", "sip:"+ext+"@pbx.example.com", x.cseq, fmt.Sprintf("pbx-pub-%s-%d", ext, x.cseq), "pbx", "", hdr, b.String())
	res := x.p.Response("PUBLISH")
	require.Equal(x.t, 200, res.StatusCode, res.Reason)
	x.etags[ext] = header(res, "SIP-ETag")
}

// callJSON is a call record as GET /v1/calls answers it.
type callJSON struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Direction string    `json:"direction"`
	Number    string    `json:"number"`
	Name      string    `json:"name"`
	ContactID string    `json:"contact_id"`
	Started   time.Time `json:"started"`
	Answered  time.Time `json:"answered"`
	Ended     time.Time `json:"ended"`
	Duration  int       `json:"duration"`
	Outcome   string    `json:"outcome"`
	TakenBy   string    `json:"taken_by"`
	CallID    string    `json:"call_id"`
}

type callPage struct {
	Items        []callJSON `json:"items"`
	NextCursor   string     `json:"next_cursor"`
	MissedUnread int        `json:"missed_unread"`
}

func listCalls(t *testing.T, in *instance, key, query string) callPage {
	t.Helper()
	code, body, _ := in.call("GET", "/v1/calls"+query, key, "")
	require.Equal(t, 200, code, body)
	var p callPage
	require.NoError(t, json.Unmarshal([]byte(body), &p), body)
	return p
}

// waitCall waits until key's history holds a call with callID and returns it.
func waitCall(t *testing.T, in *instance, key, callID string, ok func(callJSON) bool) callJSON {
	t.Helper()
	var got callJSON
	require.Eventually(t, func() bool {
		for _, c := range listCalls(t, in, key, "?limit=200").Items {
			if c.CallID == callID && (ok == nil || ok(c)) {
				got = c
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "call %s in the history", callID)
	return got
}

// sseEvents reads the named events of key's presence stream on in.
func sseEvents(t *testing.T, in *instance, key, name string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+"/v1/presence/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	out := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == name:
				out <- strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(func() { cancel(); res.Body.Close(); <-done })
	return out
}

const (
	mum     = "sip:+33491550142@trunk.example.net"
	unknown = "sip:+33478000000@trunk.example.net"
)

func provision(t *testing.T, in *instance, admin string, exts ...string) {
	t.Helper()
	for _, ext := range exts {
		code, body, _ := in.call("PUT", "/v1/users/"+ext+"@pbx.example.com", admin, `{"first_name":"User `+ext+`"}`)
		require.Contains(t, []int{200, 201}, code, body)
	}
}

// TestCallHistoryFromDialogEvents: PUBLISHed dialog sequences become the
// right records — answered, missed, taken by a colleague of the ring
// group — named for their owner only, announced on the owner's event
// stream and on NATS without personal names.
func TestCallHistoryFromDialogEvents(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "calls", "--redis", redisURL, "--nats", natsURL, "--region", "FR")
	admin := mintKey(t, redisURL, "--admin", "--domain", "pbx.example.com", "--scopes", "users:admin")
	provision(t, in, admin, "201", "202")
	k201 := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal,lookup")
	k202 := mintKey(t, redisURL, "--user", "202@pbx.example.com", "--scopes", "contacts:personal,lookup")
	code, body, _ := in.call("POST", "/v1/contacts", k201, `{"kind":"personal","first_name":"Mum","phones":[{"type":"mobile","number":"04 91 55 01 42"}]}`)
	require.Equal(t, 201, code, body)

	stream := sseEvents(t, in, k201, "call")
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	wire := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("switchboard.calls.pbx_example_com.>", wire)
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, nc.Flush())

	pbx := newPBX(t, in)

	// Answered: rings, is answered, hangs up.
	pbx.publish("201", leg{"a1", "ans@pbx", "recipient", "early", "", mum})
	pbx.publish("201", leg{"a1", "ans@pbx", "recipient", "confirmed", "", mum})
	pbx.publish("201", leg{"a1", "ans@pbx", "recipient", "terminated", "", ""})
	c := waitCall(t, in, k201, "ans@pbx", nil)
	assert.Equal(t, "answered", c.Outcome)
	assert.Equal(t, "incoming", c.Direction)
	assert.Equal(t, "+33491550142", c.Number)
	assert.Equal(t, "Mum", c.Name, "named from 201's own contacts")
	assert.Equal(t, "201", c.TakenBy)
	assert.False(t, c.Answered.IsZero())
	assert.False(t, c.Answered.Before(c.Started) || c.Ended.Before(c.Answered))

	for _, want := range []string{"started", "ended"} {
		select {
		case data := <-stream:
			var ev struct {
				Type string   `json:"type"`
				Call callJSON `json:"call"`
			}
			require.NoError(t, json.Unmarshal([]byte(data), &ev))
			assert.Equal(t, want, ev.Type)
			assert.Equal(t, c.ID, ev.Call.ID)
			assert.Equal(t, "Mum", ev.Call.Name, "the owner's stream names the caller for the owner")
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s call event on 201's stream", want)
		}
		select {
		case m := <-wire:
			assert.Equal(t, "switchboard.calls.pbx_example_com.201", m.Subject)
			assert.Contains(t, string(m.Data), `"type":"`+want+`"`)
			assert.NotContains(t, string(m.Data), "Mum", "no personal name on NATS")
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s call event on NATS", want)
		}
	}

	// Missed: rings, the caller gives up.
	pbx.publish("201", leg{"m1", "miss@pbx", "recipient", "early", "", unknown})
	pbx.publish("201", leg{"m1", "miss@pbx", "recipient", "terminated", "cancelled", ""})
	c = waitCall(t, in, k201, "miss@pbx", nil)
	assert.Equal(t, "missed", c.Outcome)
	assert.Empty(t, c.TakenBy)
	page := listCalls(t, in, k201, "?missed=true")
	require.Len(t, page.Items, 1)
	assert.Equal(t, "miss@pbx", page.Items[0].CallID)
	assert.Equal(t, 1, page.MissedUnread)
	code, body, _ = in.call("POST", "/v1/calls/read", k201, "")
	require.Equal(t, 204, code, body)
	code, body, _ = in.call("GET", "/v1/calls/unread", k201, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"missed":0`)

	// Picked up elsewhere: a ring group rings 201 and 202 with one
	// Call-ID; 202 answers.
	pbx.publish("201", leg{"g1", "grp@pbx", "recipient", "early", "", mum})
	pbx.publish("202", leg{"g2", "grp@pbx", "recipient", "early", "", mum})
	pbx.publish("202", leg{"g2", "grp@pbx", "recipient", "confirmed", "", mum})
	pbx.publish("201", leg{"g1", "grp@pbx", "recipient", "terminated", "cancelled", ""})
	pbx.publish("202", leg{"g2", "grp@pbx", "recipient", "terminated", "", ""})
	c = waitCall(t, in, k201, "grp@pbx", func(c callJSON) bool { return c.Outcome != "missed" })
	assert.Equal(t, "answered_elsewhere", c.Outcome)
	assert.Equal(t, "202", c.TakenBy)
	c202 := waitCall(t, in, k202, "grp@pbx", nil)
	assert.Equal(t, "answered", c202.Outcome)
	assert.NotEqual(t, "Mum", c202.Name, "202 never sees 201's personal name")
	assert.Equal(t, "+33491550142", c202.Number)
	assert.Empty(t, listCalls(t, in, k201, "?missed=true").Items[1:], "the pickup is not missed")

	// The same with 201's end reported before 202's answer: 201's call is
	// first recorded as missed, then taken by 202.
	pbx.publish("201", leg{"h1", "grp2@pbx", "recipient", "early", "", mum})
	pbx.publish("202", leg{"h2", "grp2@pbx", "recipient", "early", "", mum})
	pbx.publish("201", leg{"h1", "grp2@pbx", "recipient", "terminated", "", ""})
	waitCall(t, in, k201, "grp2@pbx", nil)
	pbx.publish("202", leg{"h2", "grp2@pbx", "recipient", "confirmed", "", mum})
	c = waitCall(t, in, k201, "grp2@pbx", func(c callJSON) bool { return c.Outcome != "missed" })
	assert.Equal(t, "answered_elsewhere", c.Outcome)
	assert.Equal(t, "202", c.TakenBy)
	pbx.publish("202", leg{"h2", "grp2@pbx", "recipient", "terminated", "", ""})

	// Directed pickup (RFC 4235 event "replaced") and a declined call.
	pbx.publish("201", leg{"p1", "pick@pbx", "recipient", "early", "", unknown})
	pbx.publish("201", leg{"p1", "pick@pbx", "recipient", "terminated", "replaced", ""})
	assert.Equal(t, "answered_elsewhere", waitCall(t, in, k201, "pick@pbx", nil).Outcome)
	pbx.publish("201", leg{"r1", "rej@pbx", "recipient", "early", "", unknown})
	pbx.publish("201", leg{"r1", "rej@pbx", "recipient", "terminated", "rejected", ""})
	assert.Equal(t, "rejected", waitCall(t, in, k201, "rej@pbx", nil).Outcome)
	// An outgoing call nobody answered.
	pbx.publish("201", leg{"o1", "out@pbx", "initiator", "trying", "", "sip:0612345678@pbx.example.com"})
	pbx.publish("201", leg{"o1", "out@pbx", "initiator", "terminated", "", ""})
	c = waitCall(t, in, k201, "out@pbx", nil)
	assert.Equal(t, "unanswered", c.Outcome)
	assert.Equal(t, "outgoing", c.Direction)
	for _, id := range []string{"grp2@pbx", "pick@pbx", "rej@pbx", "out@pbx"} {
		code, _, _ := in.call("DELETE", "/v1/calls/"+waitCall(t, in, k201, id, nil).ID, k201, "")
		require.Equal(t, 204, code)
	}

	// Newest first, paged with a cursor; one call deleted.
	page = listCalls(t, in, k201, "?limit=2")
	require.Len(t, page.Items, 2)
	assert.Equal(t, "grp@pbx", page.Items[0].CallID)
	require.NotEmpty(t, page.NextCursor)
	rest := listCalls(t, in, k201, "?limit=2&cursor="+url.QueryEscape(page.NextCursor))
	require.Len(t, rest.Items, 1)
	assert.Equal(t, "ans@pbx", rest.Items[0].CallID)
	assert.Empty(t, rest.NextCursor)
	code, _, _ = in.call("DELETE", "/v1/calls/"+rest.Items[0].ID, k202, "")
	assert.Equal(t, 404, code, "another user's call does not exist for 202")
	code, _, _ = in.call("DELETE", "/v1/calls/"+rest.Items[0].ID, k201, "")
	assert.Equal(t, 204, code)
	assert.Len(t, listCalls(t, in, k201, "").Items, 2)
	code, _, _ = in.call("GET", "/v1/calls?cursor=%25%25", k201, "")
	assert.Equal(t, 400, code)
	code, _, _ = in.call("GET", "/v1/calls", admin, "")
	assert.Equal(t, 403, code, "an admin key has no call history")

	// Deleting the user deletes the history.
	rdb := redisClient(t, redisURL)
	require.Equal(t, int64(1), rdb.Exists(context.Background(), "sb:calls:user:201@pbx.example.com").Val())
	code, body, _ = in.call("DELETE", "/v1/users/201@pbx.example.com?confirm=true", admin, "")
	require.Contains(t, []int{200, 204}, code, body)
	require.Eventually(t, func() bool {
		return rdb.Exists(context.Background(), "sb:calls:user:201@pbx.example.com").Val() == 0
	}, 10*time.Second, 50*time.Millisecond, "201's history goes with 201")
}

func redisClient(t *testing.T, u string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(u)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestCallSeenByTwoInstancesRecordedOnce: the PBX sends each report to
// both instances, or some to one and some to the other; either way one
// record results, with its answer.
func TestCallSeenByTwoInstancesRecordedOnce(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	ins := startTogether(t, []string{"calls-a", "calls-b"}, "--redis", redisURL, "--nats", natsURL, "--region", "FR")
	a, b := ins[0], ins[1]
	k := mintKey(t, redisURL, "--user", "203@pbx.example.com", "--scopes", "contacts:personal")
	code, body, _ := a.call("POST", "/v1/contacts", k, `{"kind":"personal","first_name":"Mum","phones":[{"type":"mobile","number":"04 91 55 01 42"}]}`)
	require.Equal(t, 201, code, body)
	pa, pb := newPBX(t, a), newPBX(t, b)

	// A call only instance A sees reaches the user's stream on B, named
	// there for the user.
	onB := sseEvents(t, b, k, "call")
	pa.publish("203", leg{"d0", "onlya@pbx", "recipient", "early", "", mum})
	pa.publish("203", leg{"d0", "onlya@pbx", "recipient", "terminated", "", ""})
	for _, want := range []string{"started", "ended"} {
		select {
		case data := <-onB:
			assert.Contains(t, data, `"type":"`+want+`"`)
			assert.Contains(t, data, `"name":"Mum"`)
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s call event on B's stream", want)
		}
	}
	code, _, _ = a.call("DELETE", "/v1/calls/"+waitCall(t, b, k, "onlya@pbx", nil).ID, k, "")
	require.Equal(t, 204, code)

	for _, st := range []string{"early", "confirmed", "terminated"} {
		remote := mum
		if st == "terminated" {
			remote = ""
		}
		pa.publish("203", leg{"d1", "both@pbx", "recipient", st, "", remote})
		pb.publish("203", leg{"d1", "both@pbx", "recipient", st, "", remote})
	}
	// Rings on A, answered on B, hung up on A.
	pa.publish("203", leg{"d2", "split@pbx", "recipient", "early", "", unknown})
	pb.publish("203", leg{"d2", "split@pbx", "recipient", "confirmed", "", ""})
	pa.publish("203", leg{"d2", "split@pbx", "recipient", "terminated", "", ""})

	// An answer seen on one instance after the other ended the leg
	// corrects the record a moment later: wait for the final record.
	answered := func(c callJSON) bool { return c.Outcome == "answered" }
	waitCall(t, a, k, "both@pbx", answered)
	c := waitCall(t, b, k, "split@pbx", answered)
	assert.Equal(t, "answered", c.Outcome)
	assert.Equal(t, "+33478000000", c.Number)
	assert.False(t, c.Answered.IsZero())
	// Both instances serve the same history: one record per call.
	for _, in := range []*instance{a, b} {
		n := map[string]int{}
		for _, c := range listCalls(t, in, k, "").Items {
			n[c.CallID]++
			assert.Equal(t, "answered", c.Outcome, c.CallID)
		}
		assert.Equal(t, map[string]int{"both@pbx": 1, "split@pbx": 1}, n)
	}
}

// TestContactAndBlockFromCall: a caller saved from the history becomes a
// contact that caller ID names; a blocked caller is refused by lookup —
// a stranger through the block list, a contact through its mark, the
// last caller through the PBX's star code.
func TestContactAndBlockFromCall(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "calls-block", "--redis", redisURL, "--nats", natsURL, "--region", "FR")
	k := mintKey(t, redisURL, "--user", "204@pbx.example.com", "--scopes", "contacts:personal,lookup")
	pbxKey := mintKey(t, redisURL, "--pbx", "--domain", "pbx.example.com")
	pbx := newPBX(t, in)
	missed := func(id, remote string) callJSON {
		pbx.publish("204", leg{id, id + "@pbx", "recipient", "early", "", remote})
		pbx.publish("204", leg{id, id + "@pbx", "recipient", "terminated", "", ""})
		return waitCall(t, in, k, id+"@pbx", nil)
	}
	lookup := func(number string) (int, string, http.Header) {
		code, body, hdr := in.callHeaders("GET", "/v1/lookup?callee=204&number="+url.QueryEscape(number)+"&key="+pbxKey)
		return code, body, hdr
	}

	// Save a stranger as a new contact, prefilled from the call.
	c := missed("plumber", "sip:+33612345678@trunk.example.net")
	code, body, _ := in.call("POST", "/v1/calls/"+c.ID+"/contact", k, `{"first_name":"Plumber","phone_type":"mobile"}`)
	require.Equal(t, 201, code, body)
	var entry struct {
		Contact struct {
			ID     string `json:"id"`
			Phones []struct{ Type, Number string }
		} `json:"contact"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &entry))
	assert.Equal(t, "mobile", entry.Contact.Phones[0].Type)
	require.Eventually(t, func() bool {
		code, body, _ := lookup("0612345678")
		return code == 200 && strings.Contains(body, `"name":"Plumber"`)
	}, 5*time.Second, 50*time.Millisecond)

	// Another number of the plumber's, into the existing contact.
	c2 := missed("plumber2", "sip:+33699999999@trunk.example.net")
	code, body, _ = in.call("POST", "/v1/calls/"+c2.ID+"/contact", k, `{"contact_id":"`+entry.Contact.ID+`","phone_type":"home"}`)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, "+33699999999")
	assert.Contains(t, body, `"home"`)

	// Block a stranger from a call: on the block list, lookup refuses.
	s := missed("spam", unknown)
	code, body, _ = in.call("POST", "/v1/calls/"+s.ID+"/block", k, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"blocked":"number"`)
	code, body, _ = in.call("GET", "/v1/blocklist", k, "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"+33478000000"`)
	code, body, _ = lookup("04 78 00 00 00")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"blocked":true`)
	code, _, hdr := in.callHeaders("GET", "/v1/lookup?format=text&callee=204&number=0478000000&key="+pbxKey)
	assert.Equal(t, 404, code)
	assert.Equal(t, "1", hdr.Get("X-Switchboard-Blocked"))
	code, body, _ = in.call("GET", "/v1/lookup?callee=205&number=0478000000&key="+pbxKey, "", "")
	assert.Equal(t, 404, code, "205 blocked nobody: %s", body)

	// Block a contact's call: the contact gets the Blocked mark.
	code, body, _ = in.call("POST", "/v1/calls/"+c.ID+"/block", k, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"blocked":"contact"`)
	code, body, _ = lookup("0612345678")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"blocked":true`)
	assert.Contains(t, body, `"name":"Plumber"`)

	// "Block my last caller" from the dialplan with the pbx key.
	missed("last", "sip:+33140000000@trunk.example.net")
	code, _, _ = lookup("0140000000")
	assert.Equal(t, 404, code)
	code, body, _ = in.call("POST", "/v1/blocklist/last-caller?callee=204&key="+pbxKey, "", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"number":"+33140000000"`)
	code, body, _ = lookup("0140000000")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"blocked":true`)
	code, _, _ = in.call("POST", "/v1/blocklist/last-caller?callee=204@other.example&key="+pbxKey, "", "")
	assert.Equal(t, 403, code)

	// Unblock: lookup answers as before.
	code, _, _ = in.call("DELETE", "/v1/blocklist/"+url.PathEscape("+33140000000"), k, "")
	assert.Equal(t, 204, code)
	code, _, _ = lookup("0140000000")
	assert.Equal(t, 404, code)
	code, _, _ = in.call("POST", "/v1/blocklist", k, `{"number":"not a number"}`)
	assert.Equal(t, 400, code)
}

// callHeaders is a GET without a bearer key (the key is in the query, as
// a dialplan sends it) that also returns the response headers.
func (in *instance) callHeaders(method, path string) (int, string, http.Header) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+in.http+path, nil)
	require.NoError(in.t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return res.StatusCode, b.String(), res.Header
}

// TestHiddenCallerStaysInOwnHistory: with --caller-display hidden the
// lamps and NATS show nothing of the caller, yet the callee's own history
// keeps the number (taken from the report before the core hides it).
func TestHiddenCallerStaysInOwnHistory(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "calls-hidden", "--redis", redisURL, "--nats", natsURL, "--region", "FR", "--caller-display", "hidden")
	k := mintKey(t, redisURL, "--user", "206@pbx.example.com", "--scopes", "contacts:personal")
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	wire := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("switchboard.calls.>", wire)
	require.NoError(t, err)
	defer sub.Unsubscribe()
	require.NoError(t, nc.Flush())

	pbx := newPBX(t, in)
	pbx.publish("206", leg{"x1", "hid@pbx", "recipient", "early", "", unknown})
	pbx.publish("206", leg{"x1", "hid@pbx", "recipient", "terminated", "", ""})
	c := waitCall(t, in, k, "hid@pbx", nil)
	assert.Equal(t, "+33478000000", c.Number)
	for range 2 {
		select {
		case m := <-wire:
			assert.NotContains(t, string(m.Data), "33478000000", "colleagues see nothing of the caller")
			assert.NotContains(t, string(m.Data), `"remote"`)
		case <-time.After(10 * time.Second):
			t.Fatal("no call event on NATS")
		}
	}
}
