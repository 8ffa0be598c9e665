package sip

import (
	"strings"
	"unique"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/switchboardhq/switchboard/presence"
)

// intern returns the canonical copy of s: strings many subscriptions
// repeat (hosts, our Contact, a phone's source address, its watcher key)
// are kept once, and a string cut from a parsed request no longer keeps
// that request's header line alive.
func intern(s string) string { return unique.Make(s).Value() }

func internAOR(a presence.AOR) presence.AOR {
	return presence.AOR{User: intern(a.User), Domain: intern(a.Domain)}
}

// compactURI returns u holding strings and parameter lists of its own,
// not slices of the parsed request, with the scheme, host and parameter
// names interned. A non-SIP URI (its raw part private to sipgo) is
// returned as it is.
func compactURI(u sipmsg.Uri) sipmsg.Uri {
	if u.Raw() != "" {
		return u
	}
	u.Scheme = intern(u.Scheme)
	u.Host = intern(u.Host)
	u.User = strings.Clone(u.User)
	u.Password = strings.Clone(u.Password)
	u.UriParams = compactParams(u.UriParams)
	u.Headers = compactParams(u.Headers)
	return u
}

func compactParams(p sipmsg.HeaderParams) sipmsg.HeaderParams {
	if p == nil {
		return nil
	}
	out := make(sipmsg.HeaderParams, len(p))
	for i, kv := range p {
		out[i] = sipmsg.HeaderKV{K: intern(kv.K), V: strings.Clone(kv.V)}
	}
	return out
}
