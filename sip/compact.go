package sip

import (
	"runtime"
	"strings"
	"sync"
	"unique"
	"weak"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// What a held subscription keeps must not keep the request that made it
// alive, and it should take few allocations: a small object that outlives
// the burst of requests it was made in keeps the page it shares with
// their garbage from being returned. With some eight such strings per
// subscription, 50,000 made by SIPp left 31 MB of pages of 16- to 48-byte
// objects holding 11 MB of them; now 9 MB holding 1 MB. So a
// subscription's own strings go into one allocation
// (packer), its parameter lists into another, and what many
// subscriptions repeat is shared: hosts, schemes and parameter names by
// intern, the notifier's side of the dialog by shareLocal.

// intern returns the canonical copy of s: strings many subscriptions
// repeat (hosts, our Contact, a phone's source address) are kept once,
// and a string cut from a parsed request no longer keeps that request's
// header line alive.
func intern(s string) string { return unique.Make(s).Value() }

func internAOR(a presence.AOR) presence.AOR {
	return presence.AOR{User: intern(a.User), Domain: intern(a.Domain)}
}

// compactURI returns u holding strings and parameter lists of its own,
// not slices of the parsed request, with the scheme, host and parameter
// names interned.
func compactURI(u sipmsg.Uri) sipmsg.Uri {
	var p packer
	p.uri(&u)
	p.pack()
	return u
}

// packer copies strings and URIs out of the message they were cut from,
// all strings into one allocation and all parameter lists into another:
// add or uri each, then pack once.
type packer struct {
	// The strings to copy: room for a subscription's in strs, the rest
	// in more.
	strs [16]*string
	ns   int
	more []*string
	n    int // their bytes
	// The URIs whose parameters to copy, likewise.
	uris  [4]*sipmsg.Uri
	nu    int
	moreU []*sipmsg.Uri
	kvs   int // their parameters
	// room, if set, holds the parameters when they fit.
	room sipmsg.HeaderParams
}

// add has pack replace *s with a copy of it; s must stay valid until then.
func (p *packer) add(s *string) {
	if *s == "" {
		return
	}
	if p.ns < len(p.strs) {
		p.strs[p.ns] = s
		p.ns++
	} else {
		p.more = append(p.more, s)
	}
	p.n += len(*s)
}

// uri has pack replace u's user, password and parameters with copies;
// its scheme and host are interned at once. A non-SIP URI, whose
// scheme-specific part is private to sipgo, is parsed again from its text.
func (p *packer) uri(u *sipmsg.Uri) {
	if u.Raw() != "" {
		var c sipmsg.Uri
		if sipmsg.ParseUri(u.String(), &c) == nil { // a fresh string
			c.Scheme = intern(c.Scheme)
			*u = c
		}
		return
	}
	u.Scheme = intern(u.Scheme)
	u.Host = intern(u.Host)
	p.add(&u.User)
	p.add(&u.Password)
	if len(u.UriParams)+len(u.Headers) > 0 {
		if p.nu < len(p.uris) {
			p.uris[p.nu] = u
			p.nu++
		} else {
			p.moreU = append(p.moreU, u)
		}
		p.kvs += len(u.UriParams) + len(u.Headers)
	}
}

// pack makes the copies.
func (p *packer) pack() {
	if p.kvs > 0 {
		kvs := p.room[:0]
		if p.kvs > len(p.room) {
			kvs = make(sipmsg.HeaderParams, 0, p.kvs)
		}
		for _, us := range [][]*sipmsg.Uri{p.uris[:p.nu], p.moreU} {
			for _, u := range us {
				u.UriParams, kvs = p.params(u.UriParams, kvs)
				u.Headers, kvs = p.params(u.Headers, kvs)
			}
		}
	}
	if p.n == 0 {
		return
	}
	var b strings.Builder
	b.Grow(p.n)
	for _, ss := range [][]*string{p.strs[:p.ns], p.more} {
		for _, s := range ss {
			b.WriteString(*s)
		}
	}
	all, off := b.String(), 0
	for _, ss := range [][]*string{p.strs[:p.ns], p.more} {
		for _, s := range ss {
			n := len(*s)
			*s = all[off : off+n]
			off += n
		}
	}
}

// params copies in into the free room of kvs, names interned, values
// added for pack. The copy's capacity is its length, so that appending
// to one URI's list never writes into another's.
func (p *packer) params(in, kvs sipmsg.HeaderParams) (sipmsg.HeaderParams, sipmsg.HeaderParams) {
	if in == nil {
		return nil, kvs
	}
	start := len(kvs)
	for _, kv := range in {
		kvs = append(kvs, sipmsg.HeaderKV{K: intern(kv.K), V: kv.V})
	}
	out := kvs[start:len(kvs):len(kvs)]
	for i := range out {
		p.add(&out[i].V)
	}
	return out, kvs
}

// localKey identifies lp among the localParties: its parts joined, the
// URI as text.
func localKey(lp *localParty) string {
	var b strings.Builder
	b.Grow(96)
	for _, s := range []string{string(lp.event), lp.transport, lp.contact, lp.aor.User, lp.aor.Domain} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	lp.local.StringWrite(&b)
	return b.String()
}

// localParties holds the localParty of each resource while a subscription
// uses it.
var localParties = struct {
	sync.Mutex
	m map[string]weak.Pointer[localParty]
}{m: make(map[string]weak.Pointer[localParty])}

// shareLocal returns the localParty equal to lp that live subscriptions
// share, or a compact copy of lp that later ones will share: the
// watchers of one extension over one transport hold one.
func shareLocal(lp localParty) *localParty {
	k := localKey(&lp)
	localParties.Lock()
	defer localParties.Unlock()
	if p := localParties.m[k].Value(); p != nil {
		return p
	}
	p := &localParty{local: compactURI(lp.local), aor: internAOR(lp.aor), event: presence.Event(intern(string(lp.event))),
		contact: intern(lp.contact), transport: intern(lp.transport)}
	localParties.m[k] = weak.Make(p)
	runtime.AddCleanup(p, dropLocal, k)
	return p
}

// dropLocal forgets the localParty of k once no subscription holds it
// (unless a new one took its place meanwhile).
func dropLocal(k string) {
	localParties.Lock()
	defer localParties.Unlock()
	if wp, ok := localParties.m[k]; ok && wp.Value() == nil {
		delete(localParties.m, k)
	}
}
