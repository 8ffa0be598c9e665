package directory

import (
	"hash/maphash"
	"slices"
	"unsafe"

	"github.com/switchboardhq/switchboard/directory/keymap"
)

// The index keeps its per-contact data out of the collector's way: a
// million contacts as a million strings (and map keys pointing at them)
// made the collector's mark phase visit a million objects every cycle,
// which took most of the CPU of searches at that size. Doc bytes live in
// a few large slabs, contacts are found by a hash of their ID, and the
// duplicate index refers to contacts by that hash, so the per-contact
// structures hold no pointers at all.

// slabSize is the size of one slab of doc bytes.
const slabSize = 1 << 20

// slabs is an append-only store of doc bytes in slabSize chunks. Bytes
// are never written again once appended, which is what makes the
// unsafe.String views of view safe; a full slab is left as is and a new
// one started. Bytes of retired docs stay until the index is rebuilt
// (see index.settle).
type slabs struct {
	bufs [][]byte
}

// add appends b and returns where it is.
func (s *slabs) add(b []byte) (slab, off uint32) {
	n := len(s.bufs)
	if n == 0 || cap(s.bufs[n-1])-len(s.bufs[n-1]) < len(b) {
		s.bufs = append(s.bufs, make([]byte, 0, max(slabSize, len(b))))
		n++
	}
	cur := s.bufs[n-1]
	off = uint32(len(cur))
	s.bufs[n-1] = append(cur, b...)
	return uint32(n - 1), off
}

// view returns the n bytes at off in slab as a string sharing their
// memory. It must not be kept beyond the index's lock hold by anything
// outside the index: callers copy what they return (doc.contact, doc.id).
func (s *slabs) view(slab, off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&s.bufs[slab][off], n)
}

// size returns the bytes appended to the slabs.
func (s *slabs) size() int {
	n := 0
	for _, b := range s.bufs {
		n += len(b)
	}
	return n
}

// idSeed seeds the hash of contact IDs. One per process, so that an
// index, the index it is rebuilt into and the duplicate index built with
// it agree on the hash of an ID.
var idSeed = maphash.MakeSeed()

// idHashMask is all ones; tests narrow it to make IDs collide.
var idHashMask = ^uint64(0)

// idHash returns the hash of contact ID id.
func idHash(id string) uint64 { return maphash.String(idSeed, id) & idHashMask }

// idMap maps contact IDs to the doc IDs of their live docs without
// holding a string: by the ID's hash, verified against the doc's ID. An
// ID whose hash another live ID already holds goes to a small overflow
// map keyed by the ID itself (64-bit collisions: expect none).
type idMap struct {
	byHash  keymap.Map[uint32]
	collide map[string]uint32
	n       int
}

func newIDMap() idMap {
	var m idMap
	m.byHash.Defer() // merged outside the Service's mu: see Service.mergeMaps
	return m
}

// len returns the number of live contacts.
func (m *idMap) len() int { return m.n }

// docID returns the doc ID of contact id, if it is live.
func (x *index) docID(contactID string) (uint32, bool) {
	m := &x.byID
	if id, ok := m.byHash.Get(idHash(contactID)); ok && x.docs.at(id).idView(x) == contactID {
		return id, true
	}
	id, ok := m.collide[contactID]
	return id, ok
}

// setID records that id is the live doc of contactID, which must not be
// live yet.
func (x *index) setID(contactID string, id uint32) {
	m := &x.byID
	m.n++
	h := idHash(contactID)
	if _, taken := m.byHash.Get(h); !taken {
		m.byHash.Set(h, id)
		return
	}
	if m.collide == nil {
		m.collide = map[string]uint32{}
	}
	m.collide[string([]byte(contactID))] = id
}

// deleteID forgets contactID, which must be live with doc id.
func (x *index) deleteID(contactID string, id uint32) {
	m := &x.byID
	m.n--
	h := idHash(contactID)
	if cur, ok := m.byHash.Get(h); ok && cur == id {
		m.byHash.Delete(h)
		return
	}
	delete(m.collide, contactID)
}

// eachWithIDHash calls fn with the live docs whose contact ID hashes to
// h (one, barring collisions), until fn returns false.
func (x *index) eachWithIDHash(h uint64, fn func(d *doc) bool) {
	m := &x.byID
	id, ok := m.byHash.Get(h)
	if len(m.collide) == 0 {
		if ok {
			fn(x.docs.at(id))
		}
		return
	}
	// Colliding IDs come in doc order (oldest version first), not in the
	// map's random order, so that a duplicate search is deterministic.
	var ids []uint32
	if ok {
		ids = append(ids, id)
	}
	for cid, id := range m.collide {
		if idHash(cid) == h {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !fn(x.docs.at(id)) {
			return
		}
	}
}
