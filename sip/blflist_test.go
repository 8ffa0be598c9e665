package sip

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/rlmi"
)

// fakeLists is a ListResolver over lists the test edits.
type fakeLists struct {
	mu    sync.Mutex // guards lists
	lists map[string][]string
}

func (f *fakeLists) set(name string, exts ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists[name] = exts
}

func (f *fakeLists) ListMembers(_ context.Context, _ presence.AOR, domain, name string) ([]ListMember, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	exts, ok := f.lists[name]
	var out []ListMember
	for _, e := range exts {
		out = append(out, ListMember{AOR: presence.NewAOR(e, domain), Name: "Ext " + e})
	}
	return out, ok, nil
}

// yealinkListHeaders are the headers of a Yealink "BLF List" SUBSCRIBE,
// plus Accept-Encoding: deflate, which keeps this test's list NOTIFYs
// within one UDP datagram (without it they go over TCP to the Contact,
// which this test phone does not listen on).
const yealinkListHeaders = "Event: dialog\nExpires: 600\nSupported: eventlist\nAccept-Encoding: deflate\n" +
	"Accept: multipart/related, application/rlmi+xml, application/dialog-info+xml\n"

// blfResource is one resource of a BLF list NOTIFY as a phone reads it.
type blfResource struct {
	State, InstanceID string
	Doc               *dialoginfo.Document
}

// blfListState validates a BLF list NOTIFY against RFC 4662 and RFC 4235
// as their schemas have it (root elements, namespaces, required
// attributes, a part for each active instance's cid) and returns the RLMI
// document and each resource by URI.
func blfListState(t *testing.T, n *sipmsg.Request) (rlmiDoc, map[string]blfResource) {
	t.Helper()
	assert.Equal(t, "eventlist", header(n, "Require"))
	assert.Equal(t, "dialog", header(n, "Event"))
	mt, params, err := mime.ParseMediaType(header(n, "Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	require.Equal(t, rlmi.ContentType, params["type"])
	body := n.Body()
	if header(n, "Content-Encoding") == "deflate" {
		zr, err := zlib.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		body, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	first, err := mr.NextPart()
	require.NoError(t, err)
	require.Equal(t, "<"+first.Header.Get("Content-Id")+">", params["start"], "the root is the start part")
	rl, err := io.ReadAll(first)
	require.NoError(t, err)
	checkRoot(t, rl, rlmi.Namespace, "list", "uri", "version", "fullState")
	schemaValid(t, "rlmi.xsd", rl)
	var doc rlmiDoc
	require.NoError(t, xml.Unmarshal(rl, &doc))
	parts := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		assert.Contains(t, p.Header.Get("Content-Type"), typeDialogInfo)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		schemaValid(t, "dialog-info.xsd", b)
		parts[p.Header.Get("Content-Id")] = b
	}
	var ids struct {
		Resources []struct {
			URI      string `xml:"uri,attr"`
			Instance []struct {
				ID    string `xml:"id,attr"`
				State string `xml:"state,attr"`
			} `xml:"urn:ietf:params:xml:ns:rlmi instance"`
		} `xml:"urn:ietf:params:xml:ns:rlmi resource"`
	}
	require.NoError(t, xml.Unmarshal(rl, &ids))
	out := map[string]blfResource{}
	for i, r := range doc.Resources {
		require.NotEmpty(t, r.URI, "resource uri is required")
		require.Len(t, ids.Resources[i].Instance, 1)
		inst := ids.Resources[i].Instance[0]
		require.NotEmpty(t, inst.ID, "instance id is required")
		require.Contains(t, []string{"active", "pending", "terminated"}, inst.State)
		res := blfResource{State: inst.State, InstanceID: inst.ID}
		if inst.State == "active" {
			body, ok := parts[r.Instance.CID]
			require.True(t, ok, "no part for cid %s", r.Instance.CID)
			checkRoot(t, body, "urn:ietf:params:xml:ns:dialog-info", "dialog-info", "version", "state", "entity")
			res.Doc, err = dialoginfo.Parse(body)
			require.NoError(t, err)
			assert.Equal(t, r.URI, res.Doc.Entity)
		}
		out[r.URI] = res
	}
	assert.Len(t, parts, len(doc.Resources)-countNotActive(out), "one part per active resource")
	return doc, out
}

// schemaValid checks doc against testdata/schema/<xsd> (the RFCs' own
// schemas) with xmllint, from libxml2-utils.
func schemaValid(t *testing.T, xsd string, doc []byte) {
	t.Helper()
	cmd := exec.Command("xmllint", "--noout", "--nonet", "--schema", filepath.Join("testdata", "schema", xsd), "-")
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s against %s:\n%s\n%s", "document", xsd, out, doc)
}

func countNotActive(m map[string]blfResource) int {
	n := 0
	for _, r := range m {
		if r.State != "active" {
			n++
		}
	}
	return n
}

// checkRoot checks b's root element and its required attributes.
func checkRoot(t *testing.T, b []byte, space, local string, attrs ...string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		require.NoError(t, err, string(b))
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		require.Equal(t, xml.Name{Space: space, Local: local}, se.Name, string(b))
		have := map[string]bool{}
		for _, a := range se.Attr {
			have[a.Name.Local] = true
		}
		for _, a := range attrs {
			assert.True(t, have[a], "<%s> lacks required attribute %s", local, a)
		}
		return
	}
}

// ringBody is a PBX's dialog-info for a call ringing on ext.
func ringBody(ext string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:%[1]s@pbx.example.com">
 <dialog id="call-%[1]s" call-id="call-%[1]s@pbx" local-tag="lt" remote-tag="rt" direction="recipient">
  <state>early</state>
  <local><identity>sip:%[1]s@pbx.example.com</identity></local>
  <remote><identity display="Caller">sip:+33491550142@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`, ext)
}

// A desk phone's BLF list: full state, then only what changed, each
// resource with its own version; a member added shows up in full state.
func TestBLFList(t *testing.T) {
	lists := &fakeLists{lists: map[string][]string{"sales": {"201", "202"}}}
	srv := startServerWith(t, Config{EventListBatch: 20 * time.Millisecond,
		TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, serverOpts{deps: Deps{Lists: lists}})
	w := newRawPhone(t, "127.0.0.1", srv.udp)

	t.Run("refusals", func(t *testing.T) {
		sendRaw(t, w, "SUBSCRIBE", "sip:blf-sales@pbx.example.com", "blf-0", "bf0", "", 1, "Event: dialog\nExpires: 600\n", nil)
		res := w.Response("SUBSCRIBE")
		assert.Equal(t, 421, res.StatusCode)
		assert.Equal(t, "eventlist", header(res, "Require"))
		sendRaw(t, w, "SUBSCRIBE", "sip:blf-nosuch@pbx.example.com", "blf-00", "bf00", "", 1, yealinkListHeaders, nil)
		assert.Equal(t, 404, w.Response("SUBSCRIBE").StatusCode)
	})

	sendRaw(t, w, "SUBSCRIBE", "sip:blf-sales@pbx.example.com", "blf-1", "bf1", "", 1, yealinkListHeaders, nil)
	res := w.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode, res.Reason)

	doc, rs := blfListState(t, nextNotify(t, w))
	assert.Equal(t, "sip:blf-sales@pbx.example.com", doc.URI)
	assert.Equal(t, 0, doc.Version)
	assert.True(t, doc.FullState)
	require.Len(t, rs, 2)
	for _, r := range rs {
		assert.Equal(t, "active", r.State)
		assert.Empty(t, r.Doc.Dialogs)
		assert.EqualValues(t, 0, r.Doc.Version)
	}
	id201 := rs["sip:201@pbx.example.com"].InstanceID

	pbx := newRawPhone(t, "127.0.0.1", srv.udp)
	for i, ext := range []string{"201", "202"} {
		pbx.Request("PUBLISH", "sip:"+ext+"@pbx.example.com", "sip:pbx@pbx.example.com", "pub-"+ext, 1,
			"Event: dialog\nExpires: 120\nContent-Type: application/dialog-info+xml\n", ringBody(ext))
		require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
		doc, rs = blfListState(t, nextNotify(t, w))
		assert.Equal(t, 1+i, doc.Version)
		assert.False(t, doc.FullState, "partial state after the first NOTIFY")
		require.Len(t, rs, 1, "only the resource that changed")
		r := rs["sip:"+ext+"@pbx.example.com"]
		require.NotNil(t, r.Doc)
		require.Len(t, r.Doc.Dialogs, 1)
		assert.Equal(t, "early", r.Doc.Dialogs[0].State)
		assert.EqualValues(t, 1, r.Doc.Version, "the resource's second document")
		if ext == "201" {
			assert.Equal(t, id201, r.InstanceID, "instance ids do not move")
		}
	}

	lists.set("sales", "201", "202", "203")
	srv.edge.RefreshLists(t.Context())
	doc, rs = blfListState(t, nextNotify(t, w))
	assert.True(t, doc.FullState, "a membership change sends full state")
	assert.Equal(t, 3, doc.Version)
	require.Len(t, rs, 3)
	assert.Len(t, rs["sip:202@pbx.example.com"].Doc.Dialogs, 1, "still ringing")
	assert.Empty(t, rs["sip:203@pbx.example.com"].Doc.Dialogs)
}

// Each member is authorized as a single subscription to it would be; a
// refresh gets full state again.
func TestBLFListAuthorizesEachMember(t *testing.T) {
	pol := policyFunc(func(watcher, target presence.AOR) Decision {
		if target.User == "202" {
			return Deny
		}
		return Allow
	})
	lists := &fakeLists{lists: map[string][]string{"team": {"201", "202"}}}
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Lists: lists, Policy: pol}})
	w := newRawPhone(t, "127.0.0.1", srv.udp)
	sendRaw(t, w, "SUBSCRIBE", "sip:blf-team@pbx.example.com", "blf-a", "bfa", "", 1, yealinkListHeaders, nil)
	res := w.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode)
	toTag, _ := res.To().Params.Get("tag")
	doc, rs := blfListState(t, nextNotify(t, w))
	assert.Equal(t, "terminated", rs["sip:202@pbx.example.com"].State)
	assert.Nil(t, rs["sip:202@pbx.example.com"].Doc, "no state of a member the watcher may not see")
	for _, r := range doc.Resources {
		if r.URI == "sip:202@pbx.example.com" {
			assert.Equal(t, "rejected", r.Instance.Reason)
		}
	}
	assert.Equal(t, "active", rs["sip:201@pbx.example.com"].State)

	sendRaw(t, w, "SUBSCRIBE", "sip:blf-team@pbx.example.com", "blf-a", "bfa", toTag, 2, yealinkListHeaders, nil)
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	doc, rs = blfListState(t, nextNotify(t, w))
	assert.True(t, doc.FullState, "a refresh gets full state")
	assert.Equal(t, 1, doc.Version)
	assert.Len(t, rs, 2)
}

// A BLF list watched with Event: presence carries PIDF parts.
func TestBLFListPresence(t *testing.T) {
	lists := &fakeLists{lists: map[string][]string{"team": {"201"}}}
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Lists: lists}})
	w := newRawPhone(t, "127.0.0.1", srv.udp)
	sendRaw(t, w, "SUBSCRIBE", "sip:blf-team@pbx.example.com", "blf-p", "bfp", "", 1,
		"Event: presence\nExpires: 600\nSupported: eventlist\nAccept-Encoding: deflate\nAccept: multipart/related, application/rlmi+xml, application/pidf+xml\n", nil)
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	doc, shows := listState(t, nextNotify(t, w))
	assert.True(t, doc.FullState)
	assert.Equal(t, map[string]string{"sip:201@pbx.example.com": "Offline"}, shows)
}

// nextNotifyDatagram waits for a NOTIFY, answers it 200 and returns it with
// the size of the one datagram that carried it whole.
func nextNotifyDatagram(t *testing.T, p *rawPhone) (*sipmsg.Request, int) {
	t.Helper()
	buf := make([]byte, 65535)
	require.NoError(t, p.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		require.NoError(t, err, "no NOTIFY within 5s")
		m, err := sipmsg.ParseMessage(append([]byte(nil), buf[:n]...))
		req, ok := m.(*sipmsg.Request)
		if err != nil || !ok || req.Method != sipmsg.NOTIFY {
			continue
		}
		require.NotNil(t, req.ContentLength())
		require.Len(t, req.Body(), int(*req.ContentLength()), "the whole NOTIFY in one datagram")
		_, err = p.conn.WriteTo([]byte(sipmsg.NewResponseFromRequest(req, 200, "OK", nil).String()), p.server)
		require.NoError(t, err)
		return req, n
	}
}

// noTCPAt checks that nothing accepts TCP at p's address, the Contact its
// requests carry: a phone that listens on UDP only.
func noTCPAt(t *testing.T, p *rawPhone) {
	t.Helper()
	c, err := net.Dial("tcp", p.conn.LocalAddr().String())
	if err == nil {
		c.Close()
		t.Skip("something listens on TCP at the phone's port")
	}
}

// A list NOTIFY over 1300 bytes to a phone that offers neither deflate nor
// TCP: the TCP attempt to its Contact is refused, and the NOTIFY goes over
// UDP as one datagram (IP fragments it on a real network) instead of
// ending the subscription (RFC 3261 §18.1.1).
func TestBLFListLargeOverUDP(t *testing.T) {
	exts := []string{"201", "202", "203", "204", "205", "206", "207", "208", "209", "210"}
	lists := &fakeLists{lists: map[string][]string{"desk": exts}}
	srv := startServerWith(t, Config{EventListBatch: 20 * time.Millisecond,
		TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, serverOpts{deps: Deps{Lists: lists}})
	pbx := newRawPhone(t, "127.0.0.1", srv.udp)
	for _, ext := range exts {
		pbx.Request("PUBLISH", "sip:"+ext+"@pbx.example.com", "sip:pbx@pbx.example.com", "pub-"+ext, 1,
			"Event: dialog\nExpires: 120\nContent-Type: application/dialog-info+xml\n", ringBody(ext))
		require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
	}

	w := newRawPhone(t, "127.0.0.1", srv.udp)
	noTCPAt(t, w)
	headers := strings.Replace(yealinkListHeaders, "Accept-Encoding: deflate\n", "", 1)
	sendRaw(t, w, "SUBSCRIBE", "sip:blf-desk@pbx.example.com", "blf-big", "bfbig", "", 1, headers, nil)
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)

	n, size := nextNotifyDatagram(t, w)
	assert.Greater(t, size, udpMaxRequest, "a NOTIFY RFC 3261 would send over TCP")
	assert.Empty(t, header(n, "Content-Encoding"))
	doc, rs := blfListState(t, n)
	assert.True(t, doc.FullState)
	require.Len(t, rs, len(exts))
	for uri, r := range rs {
		require.NotNil(t, r.Doc, uri)
		require.Len(t, r.Doc.Dialogs, 1, uri)
		assert.Equal(t, "early", r.Doc.Dialogs[0].State, uri)
	}

	// The subscription lives on: a change of members sends full state
	// again, the same way.
	lists.set("desk", append(exts, "211")...)
	srv.edge.RefreshLists(t.Context())
	// A partial NOTIFY of the PUBLISHes above may still be on its way
	// (they reach the list after its first NOTIFY): skip those.
	for range 5 {
		n, size = nextNotifyDatagram(t, w)
		if doc, rs = blfListState(t, n); doc.FullState {
			break
		}
	}
	assert.Greater(t, size, udpMaxRequest)
	assert.True(t, doc.FullState)
	assert.Len(t, rs, len(exts)+1)
	assert.Equal(t, 1, srv.edge.Subscriptions())
}

// manyDialogs is a PBX's dialog-info for n calls ringing on ext at once.
func manyDialogs(ext string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:%s@pbx.example.com">`, ext)
	for i := range n {
		fmt.Fprintf(&b, `
 <dialog id="call-%[1]s-%[2]d" call-id="call-%[1]s-%[2]d@pbx" local-tag="lt%[2]d" remote-tag="rt%[2]d" direction="recipient">
  <state>early</state>
  <local><identity>sip:%[1]s@pbx.example.com</identity></local>
  <remote><identity display="Caller %[2]d">sip:+3349155014%[2]d@pbx.example.com</identity></remote>
 </dialog>`, ext, i)
	}
	b.WriteString("\n</dialog-info>")
	return b.String()
}

// A single dialog NOTIFY over 1300 bytes follows the same order as a list
// (there is no deflate for single subscriptions): TCP to the Contact, and
// when that is refused, one UDP datagram.
func TestDialogNotifyLargeOverUDP(t *testing.T) {
	srv := startServer(t, Config{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	w := newRawPhone(t, "127.0.0.1", srv.udp)
	noTCPAt(t, w)
	sendRaw(t, w, "SUBSCRIBE", "sip:201@pbx.example.com", "dlg-big", "dbig", "", 1,
		"Event: dialog\nExpires: 600\nAccept: application/dialog-info+xml\n", nil)
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	_, size := nextNotifyDatagram(t, w)
	require.LessOrEqual(t, size, udpMaxRequest, "the idle state fits")

	pbx := newRawPhone(t, "127.0.0.1", srv.udp)
	pbx.Request("PUBLISH", "sip:201@pbx.example.com", "sip:pbx@pbx.example.com", "pub-many", 1,
		"Event: dialog\nExpires: 120\nContent-Type: application/dialog-info+xml\n", manyDialogs("201", 8))
	require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
	n, size := nextNotifyDatagram(t, w)
	assert.Greater(t, size, udpMaxRequest)
	schemaValid(t, "dialog-info.xsd", n.Body())
	assert.Len(t, dialogDoc(t, n).Dialogs, 8)
	assert.Equal(t, 1, srv.edge.Subscriptions())
}
