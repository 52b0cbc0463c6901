package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/approval"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// TestReleaseLeftByAStoppedReplica leaves releases as a replica that
// stopped mid-release leaves them, and has a surviving replica finish
// each: a release never forwarded is forwarded once; one whose forward
// reached the upstream is found by its tracking tag and bound, not
// forwarded again; one cancelled by its submitter is recorded cancelled,
// never forwarded, its reservation released. A release whose replica
// still runs is left to it, and a cancel waits (409 job_releasing).
func TestReleaseLeftByAStoppedReplica(t *testing.T) {
	pr := newPolicyRig(t, examplePolicies(t), time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	st := openBolt(t, filepath.Join(t.TempDir(), "qgov.db"))
	defer st.Close()
	srv, gw := pr.gateway(t, st, "survivor")
	nodes := store.Nodes{Store: st, TTL: 200 * time.Millisecond}
	gw.Nodes = nodes
	ctx := context.Background()
	in := gw.Directory.Load().Instance("QR-ml")

	release := func(node string) *approval.State {
		id := submitHeld(t, srv)
		s, err := gw.Approvals.Get(ctx, id)
		require.NoError(t, err)
		won, err := gw.Approvals.Finish(ctx, s, approval.Fate{Fate: approval.Released, By: "root", At: pr.clock.Now().UTC(), Node: node})
		require.NoError(t, err)
		require.True(t, won)
		return s
	}
	tagged := func(id string) []string {
		var list struct{ Jobs []struct{ ID string } }
		status, err := gw.upstreamJSON(ctx, in, http.MethodGet, "/jobs?tags="+runtimeapi.TrackTag(id), &list)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		var ids []string
		for _, j := range list.Jobs {
			ids = append(ids, j.ID)
		}
		return ids
	}
	reservation := func(s *approval.State) string {
		var r quota.Reservation
		require.NoError(t, json.Unmarshal(s.Reservation, &r))
		return r.ID
	}

	require.NoError(t, nodes.Beat(ctx, "stopped"))
	never := release("stopped")
	forwarded := release("stopped")
	body, err := runtimeapi.WithTag(forwarded.Request.Body, runtimeapi.TrackTag(forwarded.ID))
	require.NoError(t, err)
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
	r.Header = forwarded.Request.Header.Clone()
	c, ferr := gw.forwardCaptured(&request{r: r, rest: "/jobs", in: in}, nil, body)
	require.Nil(t, ferr)
	require.Equal(t, http.StatusOK, c.status, c.body.String())
	cancelled := release("stopped")
	busy := release("live")
	require.NoError(t, nodes.Beat(ctx, "live"))

	status, body := call(t, srv, "fatima-key", http.MethodPost, "/api/v1/jobs/"+cancelled.ID+"/cancel", "")
	assert.Equal(t, http.StatusConflict, status, "its replica's beat has not expired: %s", body)
	code, _ := errorCode(t, body)
	assert.Equal(t, "job_releasing", code)

	time.Sleep(300 * time.Millisecond) // the stopped replica's beat expires
	require.NoError(t, nodes.Beat(ctx, "live"))
	status, body = call(t, srv, "fatima-key", http.MethodPost, "/api/v1/jobs/"+cancelled.ID+"/cancel", "")
	require.Equal(t, http.StatusNoContent, status, string(body))
	j := upstreamJob(t, srv, "fatima-key", cancelled.ID)
	assert.Equal(t, runtimeapi.StatusCancelled, j.Status)
	assert.Contains(t, j.State.Reason, "cancelled by fatima before it reached the backend")
	assert.Empty(t, tagged(cancelled.ID), "never forwarded")

	status, body = call(t, srv, "fatima-key", http.MethodPost, "/api/v1/jobs/"+busy.ID+"/cancel", "")
	assert.Equal(t, http.StatusConflict, status, "the release is in its live replica's hands: %s", body)

	_, err = gw.Reconcile(ctx)
	require.NoError(t, err)
	for _, s := range []*approval.State{never, forwarded} {
		fresh, err := gw.Approvals.Get(ctx, s.ID)
		require.NoError(t, err)
		require.NotNil(t, fresh.Upstream, s.ID)
		assert.Equal(t, []string{fresh.Upstream.JobID}, tagged(s.ID), "one upstream job carries the tag of %s", s.ID)
		owner, _ := fresh.Owner()
		assert.Equal(t, "survivor", owner)
		require.Eventually(t, func() bool {
			return upstreamJob(t, srv, "fatima-key", s.ID).Status == runtimeapi.StatusCompleted
		}, 20*time.Second, 50*time.Millisecond, "%s ends under its client's id", s.ID)
	}
	fresh, err := gw.Approvals.Get(ctx, busy.ID)
	require.NoError(t, err)
	assert.Nil(t, fresh.Upstream, "a live replica's release is its own")

	open, err := gw.Quota.Open(ctx, "default")
	require.NoError(t, err)
	for _, r := range open {
		assert.NotEqual(t, reservation(cancelled), r.ID, "the cancelled job's reservation is released")
	}
	pending, err := gw.Approvals.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"default": 1}, pending, "only the live replica's release is still open")
}
