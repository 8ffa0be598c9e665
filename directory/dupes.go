package directory

import (
	"hash/maphash"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/directory/keymap"
)

// dupIndex finds the stored contacts an imported row duplicates (see
// DupPolicy) in one map lookup per number, so that an import costs the
// same whether the store holds a thousand contacts or a million. It maps a
// hash of scope and duplicate key to the contacts having that key, oldest
// first, each named by the hash of its ID (idHash), which the index
// resolves: the maps hold no pointer for the collector to follow. The scope is what an import compares against: the
// company contacts of a domain, or one owner's personal contacts; team
// contacts are never duplicates of an imported row and are left out.
//
// Either hash may collide: callers verify a candidate against its
// contact's real keys (see Service.findDup), and a contact-ID hash
// resolves to every live contact having it. The entries of one key are
// a multiset: add records a contact once per key it has and remove takes
// one record away per key, so two contacts whose IDs collide each keep
// their own record. It is not safe for concurrent use; the Service guards
// it with mu, like the index.
//
// About 32 bytes per contact with two numbers: two 8-byte hashes per
// number in a keymap (16 bytes an entry, and up to an eighth more in its
// overlay between merges).
type dupIndex struct {
	seed maphash.Seed
	// first holds the first contact of each hash; more the others in the
	// rare case of several (contacts created through the API are not
	// deduplicated, and hashes may collide).
	first keymap.Map[uint64]
	more  map[uint64][]uint64
}

func newDupIndex() *dupIndex {
	x := &dupIndex{seed: maphash.MakeSeed(), more: map[uint64][]uint64{}}
	x.first.Defer() // merged outside the Service's mu: see Service.mergeMaps
	return x
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
	x.addHashes(c.ID, x.keyHashes(c, nil))
}

// keyHashes appends the hashes of c's keys to hs: what add records,
// computed without touching the index (so outside the Service lock).
func (x *dupIndex) keyHashes(c *Contact, hs []uint64) []uint64 {
	scope := dupScope(c)
	if scope == "" {
		return hs
	}
	return x.hashKeys(scope, dupKeys(c), hs)
}

// hashKeys is keyHashes for c's scope and keys, known to the caller.
func (x *dupIndex) hashKeys(scope string, keys []string, hs []uint64) []uint64 {
	if scope == "" {
		return hs
	}
	for _, k := range keys {
		hs = append(hs, x.hash(scope, k))
	}
	return hs
}

// addHashes records contact id under the key hashes hs (keyHashes).
func (x *dupIndex) addHashes(contactID string, hs []uint64) {
	if len(hs) == 0 {
		return
	}
	id := idHash(contactID)
	for _, h := range hs {
		if _, ok := x.first.Get(h); !ok {
			x.first.Set(h, id)
		} else {
			x.more[h] = append(x.more[h], id)
		}
	}
}

// remove forgets the keys of c, as add recorded them.
func (x *dupIndex) remove(c *Contact) {
	scope := dupScope(c)
	if scope == "" {
		return
	}
	id := idHash(c.ID)
	for _, k := range dupKeys(c) {
		h := x.hash(scope, k)
		more := x.more[h]
		if first, ok := x.first.Get(h); ok && first == id {
			if len(more) == 0 {
				x.first.Delete(h)
				continue
			}
			x.first.Set(h, more[0])
			more = more[1:]
		} else if i := slices.Index(more, id); i >= 0 {
			more = slices.Delete(slices.Clone(more), i, i+1)
		}
		if len(more) == 0 {
			delete(x.more, h)
		} else {
			x.more[h] = more
		}
	}
}

// candidates returns the ID hashes of the contacts that may have key in
// scope, oldest first; ok is false when there are none.
func (x *dupIndex) candidates(scope, key string) (first uint64, more []uint64, ok bool) {
	h := x.hash(scope, key)
	first, ok = x.first.Get(h)
	return first, x.more[h], ok
}

// hasDupKey reports whether key is one of c's duplicate keys.
func hasDupKey(c *Contact, key string) bool {
	name, digits, ok := strings.Cut(key, "|")
	if !ok || dupName(c) != name {
		return false
	}
	return slices.ContainsFunc(c.Phones, func(p Phone) bool { return Digits(p.Number) == digits })
}
