package callerid

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"unsafe"

	"github.com/switchboardhq/switchboard/directory/keymap"
)

// record is what the Lookup keeps of one contact besides its slot. Its
// strings are stored in a slab; decoded, they point into the slab's bytes.
type record struct {
	id, name, display, company string
	raw                        string // the distinct numbers as stored, "\x00"-separated
}

// numbers returns the raw numbers of r.
func (r record) numbers() []string {
	if r.raw == "" {
		return nil
	}
	return strings.Split(r.raw, "\x00")
}

// slot is one contact's fixed part. It holds no pointers, so a million
// of them cost the garbage collector nothing to mark.
type slot struct {
	rec     uint64 // the record in the slab: chunk<<32 | offset
	version uint64
	index   uint32 // the phone index holding its numbers, in Lookup.indexes
	live    bool
}

// Slots live in pages so that growing never copies the whole table under
// the write lock.
const (
	slotPageShift = 12
	slotPageSize  = 1 << slotPageShift
)

// chunkSize is the slab's unit. A record longer than a quarter of it gets
// a chunk of its own.
const chunkSize = 64 << 10

// chunk is a run of records. Bytes below len(b) are never written again:
// decoded strings point at them (unsafe.String), and may outlive the
// chunk's place in the slab.
type chunk struct {
	b    []byte
	live int // bytes of records still referenced by a slot
}

// table holds the contacts of a Lookup: slots indexed by handle (the
// owner handle given to the phone indexes), their strings in append-only
// chunks, and contact ID → handle by a 64-bit hash of the ID.
//
// Memory bound under churn: a deleted contact's slot is reused by the
// next new one, so slots follow the peak number of contacts. Records are
// never overwritten; an update appends a new one. A chunk (other than the
// one being appended to) whose live records fall below half its bytes is
// compacted at once: its live records move to the current chunk and it is
// dropped. So the slab stays below twice the live records' bytes plus one
// chunk, whatever the number of updates. Maps follow the peak count too.
//
// Readers hold the Lookup's mu for reading; writers hold it for writing
// (and applyMu), except that a writer holding applyMu may read without mu,
// since only writers change the table.
type table struct {
	hash    func(id string) uint64 // maphash with a seed of the table's own; tests collide on purpose
	pages   [][]slot               // slot h is pages[h>>slotPageShift][h&(slotPageSize-1)]
	free    []uint32               // deleted slots, for reuse
	byHash  keymap.Map[uint32]     // hash of the contact ID → slot
	collide map[string]uint32      // IDs whose hash another ID holds in byHash; nil until needed
	live    int

	chunks  []chunk
	cur     int      // chunk appended to; -1 when none
	spare   []uint32 // dropped chunks' numbers, for reuse
	compact []uint32 // chunks found below half live, compacted by tidy
}

func newTable() *table {
	seed := maphash.MakeSeed()
	t := &table{
		hash: func(id string) uint64 { return maphash.String(seed, id) },
		cur:  -1,
	}
	t.byHash.Defer() // merged outside the Lookup's mu: see Lookup.mergeTable
	return t
}

// slot returns slot h.
func (t *table) slot(h uint32) *slot {
	return &t.pages[h>>slotPageShift][h&(slotPageSize-1)]
}

// record returns the record of slot h.
func (t *table) record(h uint32) record {
	_, r, _ := t.decode(t.slot(h).rec)
	return r
}

// find returns the slot of contact id. A hash hit is verified against the
// stored ID; an ID whose hash was taken is in collide.
func (t *table) find(id string) (uint32, bool) {
	h, ok, _ := t.findProbe(id)
	return h, ok
}

// probe is what find learnt of an ID's hash, for an add of that ID with
// nothing written in between: an import's every row is a find and an add.
type probe struct {
	hash  uint64
	taken bool // another ID holds the hash in byHash
}

// findProbe is find, also returning the probe of id.
func (t *table) findProbe(id string) (uint32, bool, probe) {
	hash := t.hash(id)
	h, taken := t.byHash.Get(hash)
	if taken && t.record(h).id == id {
		return h, true, probe{hash, true}
	}
	h, ok := t.collide[id]
	return h, ok, probe{hash, taken}
}

// add stores a new contact and returns its slot. The contact must not be
// stored yet.
func (t *table) add(r record, version uint64, index uint32) uint32 {
	hash := t.hash(r.id)
	_, taken := t.byHash.Get(hash)
	return t.addProbed(r, version, index, probe{hash, taken})
}

// addProbed is add with the probe of r.id from a findProbe that found
// nothing, the table unchanged since.
func (t *table) addProbed(r record, version uint64, index uint32, p probe) uint32 {
	var h uint32
	if n := len(t.free); n > 0 {
		h = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		last := len(t.pages) - 1
		if last < 0 || len(t.pages[last]) == slotPageSize {
			size := slotPageSize
			if last < 0 {
				size = 16 // small Lookups (tests, one tenant) stay small
			}
			t.pages = append(t.pages, make([]slot, 0, size))
			last++
		}
		t.pages[last] = append(t.pages[last], slot{})
		h = uint32(last<<slotPageShift + len(t.pages[last]) - 1)
	}
	*t.slot(h) = slot{rec: t.put(h, r), version: version, index: index, live: true}
	t.live++
	if !p.taken {
		t.byHash.Set(p.hash, h)
	} else {
		if t.collide == nil {
			t.collide = map[string]uint32{}
		}
		t.collide[strings.Clone(r.id)] = h
	}
	t.tidy()
	return h
}

// update replaces the record of slot h.
func (t *table) update(h uint32, r record, version uint64, index uint32) {
	s := t.slot(h)
	old := s.rec
	s.rec, s.version, s.index = t.put(h, r), version, index
	t.release(old)
	t.tidy()
}

// remove deletes the contact in slot h and frees the slot.
func (t *table) remove(h uint32) {
	s := t.slot(h)
	_, r, _ := t.decode(s.rec)
	hash := t.hash(r.id)
	if cur, ok := t.byHash.Get(hash); ok && cur == h {
		t.byHash.Delete(hash)
	} else {
		delete(t.collide, r.id)
	}
	t.release(s.rec)
	*s = slot{}
	t.free = append(t.free, h)
	t.live--
	t.tidy()
}

// Record layout: uvarints of the slot and of the five string lengths,
// then the strings' bytes. The slot lets compaction tell live records
// from dead ones.
const maxHeader = 6 * binary.MaxVarintLen64

// put appends r, owned by slot h, to the slab and returns its reference.
func (t *table) put(h uint32, r record) uint64 {
	fields := [...]string{r.id, r.name, r.display, r.company, r.raw}
	var hdr [maxHeader]byte
	n := binary.PutUvarint(hdr[:], uint64(h))
	size := 0
	for _, f := range fields {
		n += binary.PutUvarint(hdr[n:], uint64(len(f)))
		size += len(f)
	}
	size += n
	c := t.room(size)
	b := t.chunks[c].b
	off := len(b)
	b = append(b, hdr[:n]...)
	for _, f := range fields {
		b = append(b, f...)
	}
	t.chunks[c].b = b
	t.chunks[c].live += size
	return uint64(c)<<32 | uint64(off)
}

// room returns a chunk with size free bytes, starting a new one when the
// current one is full. A large record gets a chunk of its own.
func (t *table) room(size int) int {
	if size > chunkSize/4 {
		return t.newChunk(size)
	}
	if t.cur >= 0 && cap(t.chunks[t.cur].b)-len(t.chunks[t.cur].b) >= size {
		return t.cur
	}
	if old := t.cur; old >= 0 && t.chunks[old].live*2 < len(t.chunks[old].b) {
		t.compact = append(t.compact, uint32(old))
	}
	t.cur = t.newChunk(chunkSize)
	return t.cur
}

// newChunk allocates a chunk of capacity size, reusing a dropped number.
func (t *table) newChunk(size int) int {
	c := chunk{b: make([]byte, 0, size)}
	if n := len(t.spare); n > 0 {
		i := t.spare[n-1]
		t.spare = t.spare[:n-1]
		t.chunks[i] = c
		return int(i)
	}
	t.chunks = append(t.chunks, c)
	return len(t.chunks) - 1
}

// decode returns the slot and the record at ref, and the record's size.
func (t *table) decode(ref uint64) (uint32, record, int) {
	b := t.chunks[ref>>32].b[uint32(ref):]
	h, n := binary.Uvarint(b)
	var lens [5]uint64
	for i := range lens {
		l, m := binary.Uvarint(b[n:])
		lens[i], n = l, n+m
	}
	var f [5]string
	for i, l := range lens {
		if l > 0 {
			f[i] = unsafe.String(&b[n], int(l))
		}
		n += int(l)
	}
	return uint32(h), record{id: f[0], name: f[1], display: f[2], company: f[3], raw: f[4]}, n
}

// release marks the record at ref dead; its chunk is compacted when less
// than half of it stays live.
func (t *table) release(ref uint64) {
	c := int(ref >> 32)
	_, _, size := t.decode(ref)
	t.chunks[c].live -= size
	if c != t.cur && t.chunks[c].live*2 < len(t.chunks[c].b) {
		t.compact = append(t.compact, uint32(c))
	}
}

// tidy compacts the chunks found below half live: their live records
// move to the current chunk, then the chunk is dropped (strings already
// handed out keep its bytes alive). Each pass copies less than half a
// chunk, unless a large record moves.
func (t *table) tidy() {
	for len(t.compact) > 0 {
		c := t.compact[len(t.compact)-1]
		t.compact = t.compact[:len(t.compact)-1]
		if t.chunks[c].b == nil || int(c) == t.cur {
			continue // already dropped, or appended to again
		}
		b := t.chunks[c].b
		for off := 0; off < len(b); {
			ref := uint64(c)<<32 | uint64(off)
			h, r, size := t.decode(ref)
			if int(h) < len(t.pages)<<slotPageShift && t.slotExists(h) && t.slot(h).live && t.slot(h).rec == ref {
				t.chunks[c].live -= size
				t.slot(h).rec = t.put(h, r)
			}
			off += size
		}
		t.chunks[c] = chunk{}
		t.spare = append(t.spare, c)
	}
}

// slotExists reports whether slot h has been allocated.
func (t *table) slotExists(h uint32) bool {
	p := int(h >> slotPageShift)
	return p < len(t.pages) && int(h&(slotPageSize-1)) < len(t.pages[p])
}

// slabBytes returns the bytes the slab holds and how many are live.
func (t *table) slabBytes() (total, live int) {
	for _, c := range t.chunks {
		total += cap(c.b)
		live += c.live
	}
	return total, live
}
