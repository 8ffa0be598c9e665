package integration

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"os/exec"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// blfListHeaders are what a Yealink "BLF List" (account.X.blf.blf_list_uri)
// sends with its SUBSCRIBE to the list URI.
const blfListHeaders = "Event: dialog\nExpires: 600\nSupported: eventlist\n" +
	"Accept: multipart/related, application/rlmi+xml, application/dialog-info+xml\n"

// rlmiList is an RFC 4662 RLMI document as its schema has it.
type rlmiList struct {
	XMLName   xml.Name `xml:"urn:ietf:params:xml:ns:rlmi list"`
	URI       string   `xml:"uri,attr"`
	Version   *int     `xml:"version,attr"`
	FullState *bool    `xml:"fullState,attr"`
	Resources []struct {
		URI       string `xml:"uri,attr"`
		Instances []struct {
			ID    string `xml:"id,attr"`
			State string `xml:"state,attr"`
			CID   string `xml:"cid,attr"`
		} `xml:"urn:ietf:params:xml:ns:rlmi instance"`
	} `xml:"urn:ietf:params:xml:ns:rlmi resource"`
}

// listNotify validates a BLF list NOTIFY against RFC 4662 and RFC 4235
// (multipart/related with the RLMI root as start part; list, resource and
// instance with their required attributes; a dialog-info part, in its
// namespace with version, state and entity, for each active instance's
// cid) and returns the RLMI document and each active resource's document.
func listNotify(t *testing.T, n *sipmsg.Request) (rlmiList, map[string]*dialoginfo.Document) {
	t.Helper()
	assert.Equal(t, "eventlist", header(n, "Require"))
	mt, params, err := mime.ParseMediaType(header(n, "Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	require.Equal(t, "application/rlmi+xml", params["type"])
	mr := multipart.NewReader(bytes.NewReader(n.Body()), params["boundary"])
	root, err := mr.NextPart()
	require.NoError(t, err)
	require.Equal(t, "<"+root.Header.Get("Content-Id")+">", params["start"])
	b, err := io.ReadAll(root)
	require.NoError(t, err)
	var l rlmiList
	require.NoError(t, xml.Unmarshal(b, &l), string(b))
	require.NotEmpty(t, l.URI, "list uri is required")
	require.NotNil(t, l.Version, "list version is required")
	require.NotNil(t, l.FullState, "list fullState is required")
	parts := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[p.Header.Get("Content-Id")] = body
	}
	docs := map[string]*dialoginfo.Document{}
	for _, r := range l.Resources {
		require.NotEmpty(t, r.URI, "resource uri is required")
		require.Len(t, r.Instances, 1)
		in := r.Instances[0]
		require.NotEmpty(t, in.ID)
		require.Contains(t, []string{"active", "pending", "terminated"}, in.State)
		if in.State != "active" {
			continue
		}
		body, ok := parts[in.CID]
		require.True(t, ok, "no part for cid %q", in.CID)
		var root struct {
			XMLName xml.Name `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
			Version *int     `xml:"version,attr"`
			State   string   `xml:"state,attr"`
			Entity  string   `xml:"entity,attr"`
		}
		require.NoError(t, xml.Unmarshal(body, &root), string(body))
		require.NotNil(t, root.Version)
		require.Contains(t, []string{"full", "partial"}, root.State)
		require.Equal(t, r.URI, root.Entity)
		d, err := dialoginfo.Parse(body)
		require.NoError(t, err)
		docs[r.URI] = d
	}
	return l, docs
}

// ringOn is the PBX's dialog-info for a call ringing on ext.
func ringOn(ext string) string {
	return `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:` + ext + `@pbx.example.com">
 <dialog id="call-` + ext + `" call-id="call-` + ext + `@pbx" local-tag="lt" remote-tag="rt" direction="recipient">
  <state>early</state>
  <remote><identity display="Marseille Office">sip:+33491550142@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`
}

// A desk phone's BLF list of a shared group, through the binary: full
// state, then partial state as calls ring on two members (one published
// on another instance), a member added to the group, and the list going
// on after a restart.
func TestBLFListOfSharedGroup(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "blflist", "--redis", redisURL, "--nats", natsURL, "--eventlist-batch", "50ms")
	other := startInstance(t, "blflist-b", "--redis", redisURL, "--nats", natsURL)
	admin := mintKey(t, redisURL, "--admin", "--domain", "pbx.example.com", "--scopes", "users:admin,company:write")
	for _, ext := range []string{"201", "202", "203"} {
		code, body, _ := in.call("PUT", "/v1/users/"+ext+"@pbx.example.com", admin, `{"first_name":"Ext","last_name":"`+ext+`"}`)
		require.Contains(t, []int{200, 201}, code, body)
	}
	code, body, _ := in.call("POST", "/v1/shared-groups", admin, `{"domain":"pbx.example.com","name":"Front Desk"}`)
	require.Equal(t, 201, code, body)
	const group = "shared:pbx.example.com:front-desk"
	mark := func(ext string) {
		code, body, _ := in.call("PUT", "/v1/contacts/team:"+ext+"@pbx.example.com/marks/"+group, admin, "")
		require.Contains(t, []int{200, 204}, code, body)
	}
	mark("201")
	mark("202")

	phone := siptest.NewListeningPhone(t)
	phone.Dial(in.sipAddr())
	phone.Request("SUBSCRIBE", "sip:blf-front-desk@pbx.example.com", 1, "blf-it-1", "bl1", "", "Event: dialog\nExpires: 600\n", "")
	res := phone.Response("SUBSCRIBE")
	require.Equal(t, 421, res.StatusCode, "a list URI without Supported: eventlist")
	assert.Equal(t, "eventlist", header(res, "Require"))

	phone.Request("SUBSCRIBE", "sip:blf-front-desk@pbx.example.com", 1, "blf-it-2", "bl2", "", blfListHeaders, "")
	res = phone.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode, res.Reason)
	l, docs := listNotify(t, phone.Notify(200))
	assert.True(t, *l.FullState)
	assert.Equal(t, 0, *l.Version)
	assert.Equal(t, "sip:blf-front-desk@pbx.example.com", l.URI)
	require.Len(t, docs, 2)

	// 201 rings on this instance, 202 on the other: the list hears both.
	pbxA := siptest.NewPhone(t, "UDP", in.sipAddr())
	pbxB := siptest.NewPhone(t, "UDP", other.sipAddr())
	for i, ext := range []string{"201", "202"} {
		pbx := pbxA
		if ext == "202" {
			pbx = pbxB
		}
		pbx.Request("PUBLISH", "sip:"+ext+"@pbx.example.com", 1, "blf-pub-"+ext, "pb", "", "Event: dialog\nExpires: 120\n", ringOn(ext))
		require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
		l, docs = listNotify(t, phone.Notify(200))
		assert.False(t, *l.FullState)
		assert.Equal(t, i+1, *l.Version)
		require.Len(t, docs, 1, "only the resource that changed")
		d := docs["sip:"+ext+"@pbx.example.com"]
		require.NotNil(t, d)
		require.Len(t, d.Dialogs, 1)
		assert.Equal(t, "early", d.Dialogs[0].State)
		assert.EqualValues(t, 1, d.Version)
	}

	mark("203")
	l, docs = listNotify(t, phone.Notify(200))
	assert.True(t, *l.FullState, "a member added: full state")
	require.Len(t, docs, 3)
	assert.Empty(t, docs["sip:203@pbx.example.com"].Dialogs)
	assert.Len(t, docs["sip:201@pbx.example.com"].Dialogs, 1)

	// A crash and a restart: the list goes on in the same dialog, full
	// state, versions moving forward.
	last := *l.Version
	in.kill()
	in.start()
	n := phone.Notify(200)
	l, docs = listNotify(t, n)
	assert.True(t, *l.FullState)
	assert.Greater(t, *l.Version, last)
	require.Len(t, docs, 3)
	assert.Len(t, docs["sip:202@pbx.example.com"].Dialogs, 1, "still ringing")
}

// The SIPp scenario sipp/blflist.xml subscribes to the whole team's list
// over TCP, checks the RFC 4662 NOTIFY and unsubscribes.
func TestSIPpBLFList(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatal("sipp is required (Debian package sip-tester)")
		}
		t.Skip("sipp not installed (Debian package sip-tester)")
	}
	redisURL := harness.Redis(t)
	in := startInstance(t, "sipp-blf", "--redis", redisURL, "--nats", harness.NATS(t))
	admin := mintKey(t, redisURL, "--admin", "--domain", "pbx.example.com", "--scopes", "users:admin")
	for _, ext := range []string{"201", "202"} {
		code, body, _ := in.call("PUT", "/v1/users/"+ext+"@pbx.example.com", admin, `{"first_name":"Ext","last_name":"`+ext+`"}`)
		require.Contains(t, []int{200, 201}, code, body)
	}
	out, err := exec.Command("sipp", in.sipAddr(), "-sf", "sipp/blflist.xml", "-t", "t1", "-m", "1", "-i", "127.0.0.1",
		"-set", "domain", "pbx.example.com", "-timeout", "20s", "-recv_timeout", "5000", "-nostdin").CombinedOutput()
	require.NoError(t, err, string(out))
}
