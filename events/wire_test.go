package events

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestContactEventJSONMatchesMarshal: the hand-written encoding is
// byte for byte what encoding/json writes.
func TestContactEventJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	str := func() string { return randJSONString(r) }
	for i := range 20000 {
		ev := ContactEvent{Schema: r.IntN(3), Type: str(), ID: str(), Kind: str(), Owner: str(), Domain: str(),
			Version: r.Uint64() >> uint(r.IntN(64)), Instance: str(), Origin: str(),
			At: time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("x", (r.IntN(48)-24)*1800))}
		if i%2 == 0 {
			ev.At = ev.At.UTC()
		}
		sameAsMarshal(t, ev, ev.appendJSON)
	}
	if _, err := (ContactEvent{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).appendJSON(nil); err == nil {
		t.Fatal("a year past 9999 encoded, json.Marshal refuses it")
	}
}

// TestPresenceEventJSONMatchesMarshal: the hand-written encoding is
// byte for byte what encoding/json writes, with and without the optional
// fields and the remote party.
func TestPresenceEventJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	str := func() string { return randJSONString(r) }
	when := func() time.Time {
		at := time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("x", (r.IntN(48)-24)*1800))
		if r.IntN(2) == 0 {
			at = at.UTC()
		}
		return at
	}
	for i := range 20000 {
		ev := PresenceEvent{Schema: r.IntN(3), Type: str(), Domain: str(), Extension: str(), Registered: r.IntN(2) == 0,
			Line: str(), Status: str(), Note: str(), Instance: str(), Origin: str(),
			Version: r.Uint64() >> uint(r.IntN(64)), At: when()}
		if i%3 != 0 {
			ev.Since = when()
		}
		if i%2 == 0 {
			ev.Remote = &Party{URI: str(), Display: str(), ContactID: str()}
		}
		sameAsMarshal(t, ev, ev.appendJSON)
	}
	for _, ev := range []PresenceEvent{
		{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Since: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), At: time.Now()},
	} {
		if _, err := ev.appendJSON(nil); err == nil {
			t.Fatalf("%+v encoded, json.Marshal refuses it", ev)
		}
	}
}

// randJSONString returns up to 11 bytes from an alphabet with the
// characters encoding/json escapes, invalid UTF-8 included.
func randJSONString(r *rand.Rand) string {
	const alphabet = "abcXYZ019._-@ \"\\<>&\x00\x1f\x7fé\u2028"
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// sameAsMarshal fails t unless appendJSON writes what json.Marshal writes
// for ev.
func sameAsMarshal(t *testing.T, ev any, appendJSON func([]byte) ([]byte, error)) {
	t.Helper()
	want, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendJSON(nil)
	if err != nil || string(got) != string(want) {
		t.Fatalf("appendJSON(%+v) = %s, %v\nwant %s", ev, got, err, want)
	}
}

// TestCallEventJSONMatchesMarshal: as for presence events.
func TestCallEventJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	str := func() string { return randJSONString(r) }
	when := func() time.Time {
		if r.IntN(3) == 0 {
			return time.Time{}
		}
		return time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("x", (r.IntN(48)-24)*1800))
	}
	for i := range 20000 {
		ev := CallEvent{Schema: r.IntN(3), Type: str(), Domain: str(), Extension: str(), ID: str(), CallID: str(),
			Direction: str(), Started: when(), Answered: when(), Ended: when(), Duration: r.IntN(3) * r.IntN(100000),
			Outcome: str(), TakenBy: str(), Instance: str(), Origin: str(), At: when()}
		if i%2 == 0 {
			ev.Remote = &Party{URI: str(), Display: str(), ContactID: str()}
		}
		sameAsMarshal(t, ev, ev.appendJSON)
	}
	if _, err := (CallEvent{Ended: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}).appendJSON(nil); err == nil {
		t.Fatal("a year past 9999 encoded, json.Marshal refuses it")
	}
}
