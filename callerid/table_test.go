package callerid

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableModel drives a table and a plain map side by side and checks that
// they agree.
type tableModel struct {
	t    *testing.T
	tab  *table
	want map[string]record // by ID
	slot map[string]uint32 // by ID
}

func newTableModel(t *testing.T) *tableModel {
	return &tableModel{t: t, tab: newTable(), want: map[string]record{}, slot: map[string]uint32{}}
}

func (m *tableModel) set(r record, version uint64) {
	if h, ok := m.tab.find(r.id); ok {
		m.tab.update(h, r, version, 7)
		require.Equal(m.t, m.slot[r.id], h, "slot of %s changed", r.id)
	} else {
		_, known := m.want[r.id]
		require.False(m.t, known, "%s stored but not found", r.id)
		m.slot[r.id] = m.tab.add(r, version, 7)
	}
	m.want[r.id] = r
}

func (m *tableModel) del(id string) {
	h, ok := m.tab.find(id)
	require.True(m.t, ok, id)
	m.tab.remove(h)
	delete(m.want, id)
	delete(m.slot, id)
}

// check compares every stored contact and the slab's bound.
func (m *tableModel) check() {
	m.t.Helper()
	require.Equal(m.t, len(m.want), m.tab.live)
	for id, r := range m.want {
		h, ok := m.tab.find(id)
		require.True(m.t, ok, id)
		require.Equal(m.t, m.slot[id], h, id)
		require.Equal(m.t, r, m.tab.record(h), id)
	}
	total, live := m.tab.slabBytes()
	// Every chunk but the current one is at least half live (a large
	// record has a chunk to itself).
	assert.LessOrEqual(m.t, total, 2*live+chunkSize, "slab %d bytes for %d live", total, live)
}

func testRecord(id string, round int, rng *rand.Rand) record {
	return record{
		id:      id,
		name:    fmt.Sprintf("Name %s %d", id, round),
		display: strings.Repeat("d", rng.IntN(40)),
		company: []string{"", "Acme", "Globex"}[rng.IntN(3)],
		raw:     fmt.Sprintf("+33 1 %08d\x0006 %08d", rng.IntN(1e8), round),
	}
}

func TestTableChurnIsBounded(t *testing.T) {
	// Updates append records and deletes free slots; neither may grow the
	// table without bound.
	rng := rand.New(rand.NewPCG(1, 2))
	m := newTableModel(t)
	const n = 3000
	for i := range n {
		m.set(testRecord(fmt.Sprintf("c_%d", i), 0, rng), 1)
	}
	m.check()
	slots := len(m.tab.pages)<<slotPageShift + len(m.tab.pages[len(m.tab.pages)-1])
	held := m.tab.record(m.slot["c_1"]) // strings handed out must survive compaction
	heldCopy := record{id: strings.Clone(held.id), name: strings.Clone(held.name), display: strings.Clone(held.display),
		company: strings.Clone(held.company), raw: strings.Clone(held.raw)}
	for round := 1; round <= 40; round++ {
		for range n / 2 {
			id := fmt.Sprintf("c_%d", rng.IntN(n))
			if _, ok := m.want[id]; ok && rng.IntN(4) == 0 {
				m.del(id)
				continue
			}
			m.set(testRecord(id, round, rng), uint64(round))
		}
		m.check()
	}
	// A large record gets a chunk of its own and frees it when replaced.
	big := testRecord("c_big", 0, rng)
	big.display = strings.Repeat("x", chunkSize)
	m.set(big, 1)
	m.check()
	m.set(testRecord("c_big", 1, rng), 2)
	m.check()

	assert.Equal(t, heldCopy, held)
	assert.LessOrEqual(t, len(m.tab.pages)<<slotPageShift+len(m.tab.pages[len(m.tab.pages)-1]), slots+1, "deleted slots are reused")
}

func TestTableHashCollisions(t *testing.T) {
	// IDs of one length share a hash: the stored ID tells them apart and
	// the loser of the hash slot lives in collide.
	rng := rand.New(rand.NewPCG(3, 4))
	m := newTableModel(t)
	m.tab.hash = func(id string) uint64 { return uint64(len(id)) }
	ids := []string{"a", "b", "c", "dd", "ee", "fff"}
	for _, id := range ids {
		m.set(testRecord(id, 0, rng), 1)
	}
	m.check()
	assert.Len(t, m.tab.collide, 3)
	_, ok := m.tab.find("g")
	assert.False(t, ok)
	// Remove the ID holding the hash slot, then its collider, and add
	// them back in the other order.
	m.del("a")
	m.check()
	m.del("b")
	m.check()
	m.set(testRecord("b", 1, rng), 2)
	m.set(testRecord("a", 1, rng), 2)
	m.set(testRecord("c", 1, rng), 2)
	m.check()
	for _, id := range ids {
		m.del(id)
	}
	m.check()
	assert.Zero(t, m.tab.byHash.Len())
	assert.Empty(t, m.tab.collide)
}
