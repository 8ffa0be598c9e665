package phone

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// refIndex is the matching rules written plainly, with a string key per
// stored number and no chains: the model the compact Index must agree
// with.
type refIndex struct {
	trailing int
	numbers  map[string]*refNumber // by identity: "x:" extension, "e:" E.164, "n:" national without E.164
}

type refNumber struct {
	num    Number
	owners map[uint32]bool
}

func refIdentity(num Number) string {
	switch {
	case num.Kind == KindExtension:
		return "x:" + num.Digits
	case num.E164 != "":
		return "e:" + num.E164
	}
	return "n:" + num.National
}

func (r *refIndex) add(owner uint32, num Number) {
	id := refIdentity(num)
	n := r.numbers[id]
	if n == nil {
		n = &refNumber{num: num, owners: map[uint32]bool{}}
		r.numbers[id] = n
	}
	n.owners[owner] = true
}

func (r *refIndex) remove(owner uint32, num Number) bool {
	n := r.numbers[refIdentity(num)]
	if n == nil || !n.owners[owner] {
		return false
	}
	delete(n.owners, owner)
	if len(n.owners) == 0 {
		delete(r.numbers, refIdentity(num))
	}
	return true
}

func (r *refIndex) lookup(num Number) Result {
	if num.Kind == KindExtension {
		return r.result([]*refNumber{r.numbers["x:"+num.Digits]}, RankExact)
	}
	if n := r.numbers["e:"+num.E164]; num.E164 != "" && n != nil {
		return r.result([]*refNumber{n}, RankExact)
	}
	match := func(same func(Number) bool) []*refNumber {
		var out []*refNumber
		for _, n := range r.numbers {
			s := n.num
			if s.Kind != KindExtension && same(s) &&
				(num.Kind != KindE164 || s.CountryCode == 0 || s.CountryCode == num.CountryCode) {
				out = append(out, n)
			}
		}
		return out
	}
	if num.National != "" {
		if ns := match(func(s Number) bool { return s.National == num.National }); len(ns) > 0 {
			return r.result(ns, RankNationalNumber)
		}
	}
	if t, ok := tail(num.National, r.trailing); ok {
		if ns := match(func(s Number) bool { st, ok := tail(s.National, r.trailing); return ok && st == t }); len(ns) > 0 {
			return r.result(ns, RankTrailingDigits)
		}
	}
	return Result{}
}

func (r *refIndex) result(ns []*refNumber, rank Rank) Result {
	if len(ns) == 0 || ns[0] == nil {
		return Result{}
	}
	var owners []uint32
	for _, n := range ns {
		for o := range n.owners {
			owners = append(owners, o)
		}
	}
	slices.Sort(owners)
	return Result{Owners: slices.Compact(owners), Rank: rank, Ambiguous: len(ns) > 1}
}

func TestIndexMatchesModel(t *testing.T) {
	// Random adds and removes over numbers that share national numbers,
	// tails and country codes; after every step each number of the pool
	// must look up as the model says.
	for _, region := range []string{"FR", "DE", "US"} {
		t.Run(region, func(t *testing.T) {
			norm := newNormalizer(t, region)
			var pool []Number
			for _, raw := range []string{
				"+33 1 42 68 53 00", "01 42 68 53 00", "+32 1 42 68 53 00", "+49 1 42 68 53 00", "+33 9 42 68 53 00",
				"+33 4 91 55 01 42", "+32 491 55 01 42", "0491 550142", "+49 30 1234567", "+49 89 1234567", "030 1234567",
				"1234567", "+1 202 555 0142", "555-0142", "+1 650 555 0142", "(202) 555-0142", "+44 20 7946 0958",
				"201", "2015", "4000", "+61 2 9374 4000", "+43 1 23456789", "+39 06 6988 0000", "06 12 34 56 78",
			} {
				if num, err := norm.Parse(raw); err == nil {
					pool = append(pool, num)
				}
			}
			require.Greater(t, len(pool), 15)
			rng := rand.New(rand.NewPCG(7, uint64(len(region))))
			x := NewIndex(norm)
			ref := &refIndex{trailing: norm.trailing, numbers: map[string]*refNumber{}}
			for step := range 3000 {
				num, owner := pool[rng.IntN(len(pool))], uint32(rng.IntN(6))
				if rng.IntN(3) == 0 {
					require.Equal(t, ref.remove(owner, num), x.RemoveNumber(owner, num), "step %d remove %d %s", step, owner, num.Raw)
				} else {
					x.AddNumber(owner, num)
					ref.add(owner, num)
				}
				require.Equal(t, len(ref.numbers), x.Len(), "step %d", step)
				for _, q := range pool {
					require.Equal(t, ref.lookup(q), x.LookupNumber(q), fmt.Sprintf("step %d lookup %s", step, q.Raw))
				}
			}
		})
	}
}
