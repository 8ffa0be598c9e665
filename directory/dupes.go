package directory

import (
	"hash/maphash"
	"slices"
	"strings"
)

// dupIndex finds the stored contacts an imported row duplicates (see
// DupPolicy) in one map lookup per number, so that an import costs the
// same whether the store holds a thousand contacts or a million. It maps a
// hash of scope and duplicate key to the IDs of the contacts having that
// key, oldest first. The scope is what an import compares against: the
// company contacts of a domain, or one owner's personal contacts; team
// contacts are never duplicates of an imported row and are left out.
//
// A hash may collide: callers verify a candidate against its contact's
// real keys (see Service.findDup). It is not safe for concurrent use; the
// Service guards it with mu, like the index.
//
// About 60 bytes per contact with two numbers: an 8-byte hash and a
// 16-byte string header (the ID string itself is shared with the contact)
// per number, plus the map's own overhead.
type dupIndex struct {
	seed maphash.Seed
	// first holds the first contact of each hash; more the others in the
	// rare case of several (contacts created through the API are not
	// deduplicated, and hashes may collide).
	first map[uint64]string
	more  map[uint64][]string
}

func newDupIndex() *dupIndex {
	return &dupIndex{seed: maphash.MakeSeed(), first: map[uint64]string{}, more: map[uint64][]string{}}
}

// dupScope returns the scope c is deduplicated in, "" for none.
func dupScope(c *Contact) string {
	switch c.Kind {
	case KindCompany:
		return "c\x00" + c.Domain
	case KindPersonal:
		return "p\x00" + c.Owner
	}
	return ""
}

func (x *dupIndex) hash(scope, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(x.seed)
	h.WriteString(scope)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// add records the keys of c.
func (x *dupIndex) add(c *Contact) {
	scope := dupScope(c)
	if scope == "" {
		return
	}
	for _, k := range dupKeys(c) {
		h := x.hash(scope, k)
		first, ok := x.first[h]
		switch {
		case !ok:
			x.first[h] = c.ID
		case first != c.ID && !slices.Contains(x.more[h], c.ID):
			x.more[h] = append(x.more[h], c.ID)
		}
	}
}

// remove forgets the keys of c, as add recorded them.
func (x *dupIndex) remove(c *Contact) {
	scope := dupScope(c)
	if scope == "" {
		return
	}
	for _, k := range dupKeys(c) {
		h := x.hash(scope, k)
		more := x.more[h]
		if x.first[h] == c.ID {
			if len(more) == 0 {
				delete(x.first, h)
				continue
			}
			x.first[h], more = more[0], more[1:]
		} else if i := slices.Index(more, c.ID); i >= 0 {
			more = slices.Delete(slices.Clone(more), i, i+1)
		}
		if len(more) == 0 {
			delete(x.more, h)
		} else {
			x.more[h] = more
		}
	}
}

// candidates returns the IDs of the contacts that may have key in scope,
// oldest first.
func (x *dupIndex) candidates(scope, key string) (first string, more []string) {
	h := x.hash(scope, key)
	return x.first[h], x.more[h]
}

// hasDupKey reports whether key is one of c's duplicate keys.
func hasDupKey(c *Contact, key string) bool {
	name, digits, ok := strings.Cut(key, "|")
	if !ok || dupName(c) != name {
		return false
	}
	return slices.ContainsFunc(c.Phones, func(p Phone) bool { return Digits(p.Number) == digits })
}
