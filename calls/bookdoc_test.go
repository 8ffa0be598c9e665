package calls

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBookMatchesModel: inserts (in any order, repeated), answers,
// elsewhere patches, deletes and read marks give the book the former
// whole-document code gave (sorted newest first, one record per ID, at
// most MaxPerUser, none past retention), on every store.
func TestBookMatchesModel(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := New(Config{MaxPerUser: 20, Retention: 10 * time.Hour}, st.open(t), nil, zerolog.Nop())
			require.NoError(t, err)
			now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
			s.now = func() time.Time { return now }
			const user = "201@pbx.test"
			var model book
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 300 {
				switch op := rng.IntN(10); {
				case op < 6:
					id := strconv.Itoa(rng.IntN(60))
					started := now.Add(-time.Duration(rng.IntN(12*60)) * time.Minute)
					if rng.IntN(4) == 0 { // same start, ordered by ID
						started = now.Add(-time.Hour)
					}
					c := Call{ID: id, User: user, Started: started, Ended: started.Add(time.Minute), Outcome: Missed, Number: "n" + id}
					if j := slices.IndexFunc(model.Calls, func(x Call) bool { return x.ID == id }); j >= 0 {
						c = model.Calls[j] // the same record again
					}
					written, err := s.insert(ctx, c)
					require.NoError(t, err)
					want := false
					if !slices.ContainsFunc(model.Calls, func(x Call) bool { return x.ID == c.ID }) {
						model.Calls = append(model.Calls, c)
						slices.SortFunc(model.Calls, func(a, b Call) int {
							if before(a, b) {
								return -1
							}
							return 1
						})
						s.trim(&model)
						want = slices.ContainsFunc(model.Calls, func(x Call) bool { return x.ID == c.ID })
					}
					assert.Equal(t, want, written, "insert %d", i)
				case op < 7 && len(model.Calls) > 0:
					j := rng.IntN(len(model.Calls))
					c, changed, err := s.answerRecord(ctx, user, model.Calls[j].ID, model.Calls[j].Ended.Add(-30*time.Second), "202")
					require.NoError(t, err)
					assert.Equal(t, model.Calls[j].Outcome != Answered, changed)
					if changed {
						model.Calls[j].Answered = model.Calls[j].Ended.Add(-30 * time.Second)
						model.Calls[j].Duration, model.Calls[j].Outcome, model.Calls[j].TakenBy = 30, Answered, "202"
					}
					assert.Equal(t, model.Calls[j], c)
				case op < 8 && len(model.Calls) > 0:
					j := rng.IntN(len(model.Calls))
					require.NoError(t, s.patchElsewhere(ctx, user, model.Calls[j].ID, "203"))
					if model.Calls[j].Outcome == Missed {
						model.Calls[j].Outcome, model.Calls[j].TakenBy = AnsweredElsewhere, "203"
					}
				case op < 9 && len(model.Calls) > 0:
					j := rng.IntN(len(model.Calls))
					require.NoError(t, s.Delete(ctx, user, model.Calls[j].ID))
					require.ErrorIs(t, s.Delete(ctx, user, model.Calls[j].ID), ErrNotFound)
					model.Calls = slices.Delete(model.Calls, j, j+1)
				default:
					now = now.Add(7 * time.Minute)
					require.NoError(t, s.MarkRead(ctx, user))
					model.ReadAt = now
				}
				got, err := s.book(ctx, user)
				require.NoError(t, err)
				s.trim(&model)
				require.Equal(t, len(model.Calls), len(got.Calls), "step %d", i)
				if len(model.Calls) > 0 {
					assert.Equal(t, model.Calls, got.Calls, "step %d", i)
				}
				assert.True(t, model.ReadAt.Equal(got.ReadAt), "step %d", i)
			}
		})
	}
}

// TestBookFormerShape: a book stored as one JSON document (before
// bookdoc.go) is read as it was, and the first write keeps its calls and
// read marker.
func TestBookFormerShape(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			store := st.open(t)
			s, err := New(Config{}, store, nil, zerolog.Nop())
			require.NoError(t, err)
			now := time.Now().UTC().Truncate(time.Second)
			const user = "201@pbx.test"
			old := book{ReadAt: now.Add(-time.Minute)}
			for i := range 3 {
				at := now.Add(-time.Duration(i+1) * time.Hour)
				old.Calls = append(old.Calls, Call{ID: "c" + strconv.Itoa(i), User: user, Direction: Incoming, Number: "42",
					Started: at, Ended: at.Add(time.Minute), Outcome: Missed, CallID: "x" + strconv.Itoa(i)})
			}
			old.Calls[2].Ended = now // missed after the read marker
			old.Calls[1].ID = strings.Repeat("long", 100)
			doc, err := json.Marshal(old)
			require.NoError(t, err)
			require.NoError(t, store.Update(ctx, userKey(user), time.Hour, func([]byte) ([]byte, error) { return doc, nil }))

			p, err := s.List(ctx, user, Query{})
			require.NoError(t, err)
			assert.Equal(t, old.Calls, p.Calls)
			n, readAt, err := s.Missed(ctx, user)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.True(t, readAt.Equal(old.ReadAt))

			c := Call{ID: "new", User: user, Direction: Incoming, Number: "43", Started: now, Ended: now, Outcome: Answered}
			written, err := s.insert(ctx, c)
			require.NoError(t, err)
			assert.True(t, written)
			p, err = s.List(ctx, user, Query{})
			require.NoError(t, err)
			assert.Equal(t, append([]Call{c}, old.Calls...), p.Calls)
			_, readAt, err = s.Missed(ctx, user)
			require.NoError(t, err)
			assert.True(t, readAt.Equal(old.ReadAt))
		})
	}
}
