package sip

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// recordingTx is a fake sipgo server transaction that keeps the responses.
type recordingTx struct {
	mu        sync.Mutex // guards responses
	responses []*sipmsg.Response
	done      chan struct{}
}

var _ sipmsg.ServerTransaction = (*recordingTx)(nil)

func newRecordingTx() *recordingTx { return &recordingTx{done: make(chan struct{})} }

func (tx *recordingTx) Respond(res *sipmsg.Response) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.responses = append(tx.responses, res)
	return nil
}
func (tx *recordingTx) Acks() <-chan *sipmsg.Request          { return nil }
func (tx *recordingTx) OnCancel(sipmsg.FnTxCancel) bool       { return false }
func (tx *recordingTx) Terminate()                            {}
func (tx *recordingTx) OnTerminate(sipmsg.FnTxTerminate) bool { return false }
func (tx *recordingTx) Done() <-chan struct{}                 { return tx.done }
func (tx *recordingTx) Err() error                            { return nil }

// codes returns the status codes answered.
func (tx *recordingTx) codes() (out []int) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	for _, r := range tx.responses {
		out = append(out, r.StatusCode)
	}
	return out
}

// okNotifier answers every NOTIFY 200 without touching the network.
type okNotifier struct{}

func (okNotifier) Do(_ context.Context, req *sipmsg.Request, _ ...sipgo.ClientRequestOption) (*sipmsg.Response, error) {
	return sipmsg.NewResponseFromRequest(req, 200, "OK", nil), nil
}

// fuzzServer is a Server that is never served: requests go straight to
// its handlers and NOTIFYs to okNotifier.
func fuzzServer(tb testing.TB) *Server {
	tb.Helper()
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	s, err := New(Config{Domains: []string{"pbx.example.com"}, RateLimit: -1}, Deps{Core: core}, zerolog.Nop())
	require.NoError(tb, err)
	s.notifier = okNotifier{}
	tb.Cleanup(func() {
		s.drain(time.Second)
		s.senders.Wait()
		_ = s.ua.Close()
	})
	return s
}

// FuzzHandlers feeds arbitrary bytes through the real request path: what
// sipgo parses goes to the handler, guard included, that sipgo would call.
// No input may panic, and every answer is one final or provisional code.
func FuzzHandlers(f *testing.F) {
	files, _ := filepath.Glob("testdata/torture/*/*.dat")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sipmsg.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sipmsg.Request)
		if !ok || req.Via() == nil || req.CSeq() == nil {
			return // sipgo's transaction layer stops these before any handler
		}
		req.SetSource("127.0.0.1:5062")
		tx := newRecordingTx()
		s.dispatch(req, tx)
		codes := tx.codes()
		if len(codes) > 1 {
			t.Fatalf("%d responses to one request: %v", len(codes), codes)
		}
		for _, c := range codes {
			if c < 100 || c > 699 {
				t.Fatalf("status %d out of range", c)
			}
		}
	})
}

// FuzzPublishBody feeds arbitrary documents to the PUBLISH body decoder of
// both event packages.
func FuzzPublishBody(f *testing.F) {
	for _, seed := range []string{
		earlyBody(0, "early"),
		`<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:201@pbx.example.com"><tuple id="t"><status><basic>open</basic></status></tuple><dm:person id="p"><rpid:activities><rpid:away/></rpid:activities></dm:person></presence>`,
		`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="4294967295" state="partial" entity="sip:201@pbx.example.com"/>`,
		`<!DOCTYPE d [<!ENTITY a "aa">]><presence entity="&a;"/>`,
	} {
		f.Add(true, []byte(seed))
		f.Add(false, []byte(seed))
	}
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, dialog bool, body []byte) {
		event := presence.EventPresence
		if dialog {
			event = presence.EventDialog
		}
		pb, err := publishBody(event, body, now)
		if err != nil {
			if pb != nil {
				t.Fatalf("body %v returned with error %v", pb, err)
			}
			return
		}
		require.NotNil(t, pb)
	})
}
