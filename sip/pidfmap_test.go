package sip

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// linphoneDoc is what liblinphone 5.1 reads of a PIDF document
// (coreapi/presence.c): the basic status of each tuple and the RPID
// activities under /presence/dm:person/rpid:activities only.
type linphoneDoc struct {
	Tuples []struct {
		Basic string `xml:"urn:ietf:params:xml:ns:pidf status>basic"`
	} `xml:"urn:ietf:params:xml:ns:pidf tuple"`
	Persons []struct {
		Activities []struct {
			Items []struct {
				XMLName xml.Name
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"urn:ietf:params:xml:ns:pidf:rpid activities"`
	} `xml:"urn:ietf:params:xml:ns:pidf:data-model person"`
}

// linphoneShows is the status linphonec prints ("Friend … is …") for a
// NOTIFY body: linphone_friend_get_status of liblinphone 5.1.65
// (coreapi/friend.c) applied to what it parses, restated here so that the
// README's table is checked on every run, with or without Linphone.
func linphoneShows(t *testing.T, body []byte) string {
	t.Helper()
	var d linphoneDoc
	require.NoError(t, xml.Unmarshal(body, &d))
	shows := "Offline"
	for _, tp := range d.Tuples {
		if tp.Basic == "open" {
			shows = "Online"
		}
	}
	for _, p := range d.Persons {
		for _, as := range p.Activities {
			for _, a := range as.Items {
				if a.XMLName.Space != pidf.RPIDNamespace {
					continue
				}
				// The first activity decides ("get status from the first one").
				switch a.XMLName.Local {
				case "breakfast", "dinner", "lunch", "meal":
					return "Out to lunch"
				case "appointment", "meeting", "performance", "presentation", "spectator", "working", "worship":
					return "Do not disturb"
				case "away", "sleeping":
					return "Away"
				case "holiday", "travel", "vacation":
					return "Vacation"
				case "busy":
					if a.Text == dndText {
						return "Do not disturb"
					}
					return "Busy"
				case "looking-for-work", "playing", "shopping", "tv":
					return "Busy"
				case "in-transit", "steering":
					return "Be right back"
				case "on-the-phone":
					return "On the phone"
				case "other", "permanent-absence":
					return "Moved"
				case "unknown":
					return shows
				}
			}
		}
	}
	return shows
}

// registered201 starts a server where 201 is registered and a watcher
// holds a presence subscription to it, its initial NOTIFY answered.
func registered201(t *testing.T) (*testServer, func() *pidfNotify) {
	t.Helper()
	srv := startServer(t, Config{})
	phone := newPhone(t, srv, "UDP")
	phone.Request("REGISTER", "sip:pbx.example.com", 1, "reg-201", "r1", "", "Expires: 600\n", "")
	require.Equal(t, 200, phone.Response("REGISTER").StatusCode)
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-201", "w1", "", "Event: presence\nAccept: application/pidf+xml\nExpires: 600\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	initial := string(watcher.Notify(200).Body())
	return srv, func() *pidfNotify {
		n := watcher.Notify(200)
		for string(n.Body()) == initial {
			// A repeat of the initial state: the REGISTER's change may
			// reach the fan-out after the subscription was added.
			n = watcher.Notify(200)
		}
		doc, err := pidf.Parse(n.Body())
		require.NoError(t, err, string(n.Body()))
		return &pidfNotify{doc: doc, body: n.Body()}
	}
}

type pidfNotify struct {
	doc  *pidf.Document
	body []byte
}

// Every status liblinphone 5.1 publishes, in the exact body it writes
// (testdata/linphone51), maps to the status the README's table gives,
// keeps its activity and note, and reaches a watcher as Linphone shows it.
func TestLinphonePublishMapping(t *testing.T) {
	tests := []struct {
		file         string
		wantStatus   presence.Status
		wantActivity string
		wantNote     string
		invisible    bool
		linphone     string // what a watching Linphone shows
	}{
		{file: "online.xml", wantStatus: presence.StatusAvailable, linphone: "Online"},
		{file: "offline.xml", wantStatus: presence.StatusAvailable, invisible: true, linphone: "Offline"},
		{file: "dnd.xml", wantStatus: presence.StatusDND, wantActivity: "busy", linphone: "Do not disturb"},
		{file: "busy.xml", wantStatus: presence.StatusDND, wantActivity: "busy", linphone: "Do not disturb"},
		{file: "berightback.xml", wantStatus: presence.StatusAway, wantActivity: "in-transit", linphone: "Be right back"},
		{file: "away.xml", wantStatus: presence.StatusAway, wantActivity: "away", linphone: "Away"},
		{file: "onthephone.xml", wantStatus: presence.StatusAvailable, wantActivity: "on-the-phone", linphone: "On the phone"},
		{file: "lunch.xml", wantStatus: presence.StatusLunch, wantActivity: "lunch", linphone: "Out to lunch"},
		{file: "vacation.xml", wantStatus: presence.StatusUnavailable, wantActivity: "vacation", linphone: "Vacation"},
		{file: "holiday.xml", wantStatus: presence.StatusUnavailable, wantActivity: "holiday", linphone: "Vacation"},
		{file: "meeting.xml", wantStatus: presence.StatusMeeting, wantActivity: "meeting", linphone: "Do not disturb"},
		{file: "appointment.xml", wantStatus: presence.StatusMeeting, wantActivity: "appointment", linphone: "Do not disturb"},
		{file: "sleeping.xml", wantStatus: presence.StatusAway, wantActivity: "sleeping", linphone: "Away"},
		{file: "moved.xml", wantStatus: presence.StatusUnavailable, linphone: "Away"},
		{file: "travel_note.xml", wantStatus: presence.StatusBusinessTrip, wantActivity: "travel", wantNote: "Business trip to Lyon", linphone: "Vacation"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "linphone51", tt.file))
			require.NoError(t, err)
			srv, notified := registered201(t)
			phone := newPhone(t, srv, "UDP")
			phone.Request("PUBLISH", ext201, 1, "pub-"+tt.file, "p1", "",
				"Event: presence\nContent-Type: application/pidf+xml\nExpires: 600\n", string(body))
			res := phone.Response("PUBLISH")
			require.Equal(t, 200, res.StatusCode, res.Reason)

			v, err := srv.core.Get(context.Background(), mustAOR(t, "201@pbx.example.com"))
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, v.Status)
			assert.Equal(t, tt.wantActivity, v.Activity)
			assert.Equal(t, tt.wantNote, v.Note)
			assert.Equal(t, tt.invisible, v.Invisible)
			assert.Equal(t, presence.LineIdle, v.Line, "the line state stays true")

			var n *pidfNotify
			if tt.file == "online.xml" {
				// Already available and registered: nothing changed.
				n = &pidfNotify{body: renderPIDF(v)}
			} else {
				n = notified()
			}
			assert.Equal(t, tt.linphone, linphoneShows(t, n.body), string(n.body))
			if tt.wantNote != "" {
				got, err := pidf.Parse(n.body)
				require.NoError(t, err)
				assert.Equal(t, tt.wantNote, got.Note, "the note is carried on")
			}
		})
	}
}

// Every Switchboard status, set over the API, reaches a watching Linphone
// as the README's table says, and reads back as itself.
func TestStatusesAsLinphoneShowsThem(t *testing.T) {
	tests := []struct {
		status   presence.Status
		linphone string
	}{
		{presence.StatusAvailable, "Online"},
		{presence.StatusAway, "Away"},
		{presence.StatusDND, "Do not disturb"},
		{presence.StatusLunch, "Out to lunch"},
		{presence.StatusBusinessTrip, "Vacation"},
		{presence.StatusUnavailable, "Away"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			v := presence.View{AOR: presence.NewAOR("201", "pbx.example.com"), Registered: true, Line: presence.LineIdle, Status: tt.status}
			body := renderPIDF(v)
			assert.Equal(t, tt.linphone, linphoneShows(t, body), string(body))
			doc, err := pidf.Parse(body)
			require.NoError(t, err)
			back := PresenceBody(doc, time.Now())
			require.NotNil(t, back.Status)
			assert.Equal(t, tt.status, back.Status.Status, "reads back as itself")

			// In a call, the status still comes first; available shows
			// "On the phone".
			v.Line = presence.LineInCall
			want := tt.linphone
			if tt.status == presence.StatusAvailable {
				want = "On the phone"
			}
			assert.Equal(t, want, linphoneShows(t, renderPIDF(v)))

			// Offline, whatever the status: closed, no activity, no note.
			v.Registered, v.Line = false, presence.LineOffline
			body = renderPIDF(v)
			assert.Equal(t, "Offline", linphoneShows(t, body))
			doc, err = pidf.Parse(body)
			require.NoError(t, err)
			assert.Empty(t, doc.Activities)
			assert.Empty(t, doc.Note)
		})
	}
}

// DND is written so that liblinphone reads "Do not disturb" (text inside
// <rpid:busy>) and baresip, which matches "<rpid:busy/>" as text, reads
// busy.
func TestDNDWrittenForLinphoneAndBaresip(t *testing.T) {
	v := presence.View{AOR: presence.NewAOR("201", "pbx.example.com"), Registered: true, Line: presence.LineIdle,
		Status: presence.StatusDND, Note: "focus time"}
	body := string(renderPIDF(v))
	assert.Contains(t, body, "<rpid:busy>Do not disturb</rpid:busy>")
	assert.Contains(t, body, "<rpid:busy/>")
	assert.Contains(t, body, "<dm:note>focus time</dm:note>")
	assert.NotContains(t, body, "permanent-absence")
}
