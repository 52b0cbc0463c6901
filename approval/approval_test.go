package approval

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/policy"
	"github.com/qgov/qgov/store"
)

func stores(t *testing.T) map[string]store.Store {
	b, err := store.OpenBolt(filepath.Join(t.TempDir(), "a.db"))
	require.NoError(t, err)
	r := store.NewRedis(redis.NewClient(&redis.Options{Addr: testenv.Redis(t)}), "qgov:", 0)
	t.Cleanup(func() { _ = b.Close(); _ = r.Close() })
	return map[string]store.Store{"bolt": b, "redis": r}
}

var created = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func hold(id string) Hold {
	return Hold{ID: id, Tenant: "lab", Project: "ml", Instance: "QR-ml", Submitter: Submitter{User: "fatima"},
		Request: Request{Method: "POST", Path: "/jobs", Body: []byte(`{"program_id":"sampler"}`)}, Backend: "ibm_qgov_eagle",
		Steps: []policy.Workflow{
			{Name: "high_cost_job", Approvers: []policy.Target{{Role: "team_lead"}}, TimeoutHours: 24, OnTimeout: policy.OnTimeoutReject},
			{Name: "hardware_access", Approvers: []policy.Target{{Role: "admin"}}, EscalateTo: []policy.Target{{User: "root"}}, TimeoutHours: 4, OnTimeout: policy.OnTimeoutEscalate},
		}, Created: created}
}

// TestBook: holds round-trip exactly; of concurrent deciders and
// finishers exactly one wins; the open list follows the fates.
func TestBook(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := NewBook(st)
			require.NoError(t, b.Put(ctx, hold("job1")))
			require.NoError(t, b.Put(ctx, hold("job10")), "an id extending another is its own hold")
			require.Error(t, b.Put(ctx, hold("job1")), "an id is held once")
			s, err := b.Get(ctx, "job1")
			require.NoError(t, err)
			assert.Equal(t, hold("job1"), s.Hold)
			assert.Equal(t, []int{0, 1}, s.Pending())
			_, err = b.Get(ctx, "job2")
			assert.ErrorIs(t, err, ErrNotFound)

			var wins atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if won, err := b.Decide(ctx, "job1", 0, Decision{Decision: Approve, By: "lee"}); err == nil && won {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.EqualValues(t, 1, wins.Load())
			s, err = b.Get(ctx, "job1")
			require.NoError(t, err)
			assert.Equal(t, []int{1}, s.Pending())
			assert.False(t, s.Approved())

			wins.Store(0)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					fate := []string{Released, Rejected}[i%2]
					if won, err := b.Finish(ctx, s, Fate{Fate: fate}); err == nil && won {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			assert.EqualValues(t, 1, wins.Load())
			open, err := b.Open(ctx, "lab")
			require.NoError(t, err)
			require.Len(t, open, 2, "a decided hold stays open until its follow-up is closed")
			assert.Equal(t, "job1", open[0].ID)
			assert.NotNil(t, open[0].Fate)
			require.NoError(t, b.Close(ctx, open[0]))
			open, err = b.Open(ctx, "lab")
			require.NoError(t, err)
			require.Len(t, open, 1)
			assert.Equal(t, "job10", open[0].ID)
			pending, err := b.Pending(ctx)
			require.NoError(t, err)
			assert.Equal(t, map[string]int{"lab": 1}, pending, "counted from the open list")

			// A take-over and the upstream's answer are each recorded once.
			for _, node := range []string{"b", "c"} {
				won, err := b.TakeOver(ctx, "job1", 1, Attempt{Node: node})
				require.NoError(t, err)
				assert.Equal(t, node == "b", won, node)
			}
			won, err := b.TakeOver(ctx, "job1", 2, Attempt{Node: "c"})
			require.NoError(t, err)
			assert.True(t, won)
			for _, up := range []string{"u1", "u2"} {
				won, err := b.Answer(ctx, "job1", Upstream{JobID: up, Status: 200})
				require.NoError(t, err)
				assert.Equal(t, up == "u1", won, up)
			}
			s, err = b.Get(ctx, "job1")
			require.NoError(t, err)
			owner, _ := s.Owner()
			assert.Equal(t, "c", owner, "the last take-over owns the follow-up")
			assert.Equal(t, "u1", s.Upstream.JobID)

			for n := 0; n < 3; n++ {
				_, ok, err := b.TakeSlot(ctx, "lab", "priority_queue", "2026-11-23", 2, "x")
				require.NoError(t, err)
				assert.Equal(t, n < 2, ok, n)
			}
		})
	}
}

func TestStateOverTime(t *testing.T) {
	s := &State{Hold: hold("j"), Decisions: map[int]Decision{}}
	assert.Equal(t, created.Add(4*time.Hour), s.Deadline().Add(-4*time.Hour), "hardware_access: two tiers of 4 h")
	early, late := created.Add(time.Hour), created.Add(5*time.Hour)
	assert.True(t, s.MayDecide(1, early, "x", "", []string{"admin"}))
	assert.False(t, s.MayDecide(1, early, "root", "", nil), "the escalation tier waits its turn")
	assert.True(t, s.MayDecide(1, late, "root", "", nil))
	assert.True(t, s.MayDecide(1, late, "x", "", []string{"admin"}), "escalation adds approvers")
	assert.Empty(t, s.Expired(late))
	assert.Equal(t, []int{1}, s.Expired(created.Add(8*time.Hour)))
	assert.Contains(t, s.Waiting(late), "workflow hardware_access (approvers: user root; decide by 2026-11-23T18:00:00Z)")
	s.Fate = &Fate{Fate: Rejected, By: "lee", Comment: "use the simulator"}
	j := s.Job(late)
	assert.Equal(t, "Cancelled", j.Status)
	assert.Equal(t, "rejected by lee: use the simulator", j.State.Reason)
}
