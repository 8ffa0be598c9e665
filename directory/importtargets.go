package directory

import (
	"hash/maphash"
	"strings"
)

// importTargets holds what an import has written or found so far — the
// contacts it created or updated and the stored contacts its rows
// duplicated — by duplicate key and by contact ID, so that a later row
// finds a contact in the state this import left it.
//
// It holds no pointer per contact: contacts are kept encoded in slabs and
// the maps are keyed by 128-bit hashes (two independent 64-bit hashes;
// a collision is not a practical concern). An import of 250,000 rows
// used to keep a Contact, a heap object and two string-keyed map entries
// per row, and every GC cycle during the import followed their millions
// of pointers: marking took seconds of CPU per cycle, about a third of
// the import's CPU.
type importTargets struct {
	seeds [2]maphash.Seed
	data  slabs
	ts    []importTarget
	byKey map[hash128]int32 // first target having each duplicate key
	byID  map[hash128]int32
	buf   []byte // encoding scratch
}

type importTarget struct {
	slab, off, n uint32 // encoded contact (see encodeTarget)
	line         int32  // input line; 0 for a contact already stored
	batch        int32  // index in the unflushed batch, else -1
}

type hash128 [2]uint64

func newImportTargets() *importTargets {
	return &importTargets{
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		byKey: map[hash128]int32{}, byID: map[hash128]int32{},
	}
}

func (m *importTargets) hash(s string) hash128 {
	return hash128{maphash.String(m.seeds[0], s), maphash.String(m.seeds[1], s)}
}

// add records c, read at line (0: stored) and written at batch (-1:
// none), under keys, its duplicate keys, and returns its target.
func (m *importTargets) add(c *Contact, line, batch int, keys []string) int32 {
	i := int32(len(m.ts))
	m.ts = append(m.ts, importTarget{line: int32(line), batch: int32(batch)})
	m.set(i, c, keys)
	m.byID[m.hash(c.ID)] = i
	return i
}

// set records c as target i's contact, also under keys; the keys it had
// keep naming it.
func (m *importTargets) set(i int32, c *Contact, keys []string) {
	m.buf = encodeTarget(m.buf[:0], c)
	t := &m.ts[i]
	t.slab, t.off = m.data.add(m.buf)
	t.n = uint32(len(m.buf))
	for _, k := range keys {
		h := m.hash(k)
		if _, ok := m.byKey[h]; !ok {
			m.byKey[h] = i
		}
	}
}

// withKey returns the first target recorded under duplicate key k.
func (m *importTargets) withKey(k string) (int32, bool) {
	i, ok := m.byKey[m.hash(k)]
	return i, ok
}

// withID returns the target of contact id.
func (m *importTargets) withID(id string) (int32, bool) {
	i, ok := m.byID[m.hash(id)]
	return i, ok
}

// contact returns target i's contact as last set.
func (m *importTargets) contact(i int32) Contact {
	t := &m.ts[i]
	s := strings.Clone(m.data.view(t.slab, t.off, t.n))
	domain, s := readStr(s)
	owner, s := readStr(s)
	c := decodeContact(s)
	c.Domain, c.Owner = domain, owner
	return c
}

// encodeTarget is encodeContact with the contact's scope, which the
// index keeps apart.
func encodeTarget(b []byte, c *Contact) []byte {
	return encodeContact(appendStr(appendStr(b, c.Domain), c.Owner), c)
}
