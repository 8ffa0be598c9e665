package calls

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// BenchmarkCallSteps is one call's steps (ringing, answered, ended) of a
// user who already has n calls in their history (capped at n, so it
// stays that long).
func BenchmarkCallSteps(b *testing.B) {
	for _, n := range []int{200, 20, 500} {
		for _, st := range []string{"mem", "bolt", "redis"} {
			b.Run(st+"/"+strconv.Itoa(n), func(b *testing.B) { benchCallSteps(b, st, n) })
		}
	}
}

func benchCallSteps(b *testing.B, st string, n int) {
	{
		{
			var s Store
			switch st {
			case "mem":
				s = NewMemStore()
			case "bolt":
				bs, err := OpenBolt(filepath.Join(b.TempDir(), "calls.db"))
				require.NoError(b, err)
				defer bs.Close()
				s = bs
			case "redis":
				rdb, prefix := testRedis(b)
				s = NewRedisStore(rdb, prefix)
			}
			svc, err := New(Config{DefaultRegion: "FR", MaxPerUser: n}, s, nil, zerolog.Nop())
			require.NoError(b, err)
			ctx := context.Background()
			aor := presence.NewAOR("201", "pbx.test")
			t0 := time.Now().Add(-time.Hour)
			for i := range n {
				at := t0.Add(time.Duration(i) * time.Second)
				_, err := svc.insert(ctx, Call{ID: "old" + strconv.Itoa(i), User: aor.String(), Direction: Incoming,
					Number: "+33491550142", URI: caller, Name: "Somebody Known", Started: at.UTC(), Answered: at.Add(time.Second).UTC(),
					Ended: at.Add(time.Minute).UTC(), Duration: 59, Outcome: Answered, TakenBy: "201", CallID: "call-old-" + strconv.Itoa(i)})
				require.NoError(b, err)
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				at := t0.Add(time.Hour).Add(time.Duration(i) * time.Millisecond)
				d := dlg("d"+strconv.Itoa(i), "call-"+strconv.Itoa(i), presence.DirectionRecipient, presence.DialogEarly, caller)
				d.Started = at
				for _, step := range []Step{StepStart, StepAnswer, StepEnd} {
					if err := svc.step(ctx, at, Transition{Step: step, AOR: aor, Dialog: d}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			p, err := svc.List(ctx, aor.String(), Query{Limit: 200})
			require.NoError(b, err)
			require.Len(b, p.Calls, min(n, 200))
		}
	}
}
