package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/jobs"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/store"
)

// A job submission, and the release of a held one, is a sequence of
// durable steps, each recorded before the next begins:
//
//	admitted   the reservation is recorded, naming the replica (Node)
//	           that forwards the job with the tag runtimeapi.TrackTag
//	forwarded  the upstream's answer: the ownership record is written,
//	           then the reservation bound to the upstream job
//
// and for a held job: held, decided (the fate, naming its replica), the
// upstream's answer (recorded once), the reservation and ownership bound,
// the hold closed. Whatever a replica leaves between two steps when it
// stops is its follow-up, which the reconciler finishes once that replica
// is known to have stopped: it looks the job up upstream by its tag and
// records the one it finds, or, finding none, releases the reservation of
// a plain submission (its client saw no answer and may retry) or forwards
// the approved job again (its approval stands).

// Liveness tells whether a replica is running.
type Liveness interface {
	Alive(ctx context.Context, node string) (bool, error)
}

// working holds the submissions (reservation ids) and holds (job ids)
// whose follow-up this process is doing now. It is one for the process,
// as the node name is: every Gateway of the process (one per handler, and
// those of a configuration being replaced) shares it.
var working sync.Map

// ownGrace is how long this replica leaves its own unfinished follow-up
// (a forward that got no answer, a record it could not write) before the
// reconciler finishes it.
const ownGrace = 30 * time.Second

// orphaned reports whether the follow-up key, owned by node since since,
// is left for another to finish: its replica stopped (its beat expired),
// or it is this replica's and not in hand, or it is older than
// orphanAfter.
func (g *Gateway) orphaned(ctx context.Context, node string, since time.Time, key string) bool {
	age := g.Now().Sub(since)
	if node == g.Node {
		_, busy := working.Load(key)
		return !busy && age > ownGrace
	}
	if age > orphanAfter {
		return true
	}
	if g.Nodes == nil {
		return false
	}
	alive, err := g.Nodes.Alive(ctx, node)
	if err != nil {
		g.Logger.Warn("reading whether a replica runs", "node", node, "error", err)
	}
	return err == nil && !alive
}

// findTracked returns the id of the upstream job carrying the tracking
// tag of id, or "" when the upstream has none.
func (g *Gateway) findTracked(ctx context.Context, in *org.Instance, id string) (string, error) {
	var list struct {
		Jobs []struct {
			ID string `json:"id"`
		} `json:"jobs"`
	}
	path := "/jobs?exclude_params=true&limit=10&tags=" + url.QueryEscape(runtimeapi.TrackTag(id))
	status, err := g.upstreamJSON(ctx, in, http.MethodGet, path, &list)
	switch {
	case err != nil:
		return "", fmt.Errorf("looking up the job tracked as %s: %w", id, err)
	case status != http.StatusOK:
		return "", fmt.Errorf("looking up the job tracked as %s: upstream answered %d", id, status)
	case len(list.Jobs) == 0:
		return "", nil
	case len(list.Jobs) > 1:
		g.Logger.Error("several upstream jobs carry one tracking tag", "tracked", id, "jobs", len(list.Jobs))
	}
	return list.Jobs[0].ID, nil
}

// followSubmission finishes a plain submission whose replica stopped
// before recording its upstream job: the job found by its tag is recorded
// for its owner and bound to the reservation; with none found, nothing
// was created and the reservation is released. It reports whether the
// reservation is closed.
func (g *Gateway) followSubmission(ctx context.Context, in *org.Instance, r quota.Reservation) (bool, error) {
	job, err := g.findTracked(ctx, in, r.ID)
	if err != nil {
		return false, err
	}
	rec := &audit.Record{Action: audit.ActionJobFollowUp, Outcome: audit.Success, TenantID: r.Tenant, UserID: r.User, KeyID: r.KeyID,
		InitiatorAuthnName: "reconciler", Project: r.Project, Instance: r.Instance, UpstreamJobID: job,
		Resource: audit.Resource{Type: "quantum_job", ID: job}, Request: &audit.Request{Program: r.Program, Backend: r.Backend}}
	if job == "" {
		if err := g.Quota.Release(ctx, r); err != nil {
			return false, err
		}
		rec.Note = fmt.Sprintf("a submission by %s was never created upstream (replica %s stopped while forwarding it): its reservation %s was released", r.User, r.Node, r.ID)
		g.auditEvent(ctx, rec)
		return true, nil
	}
	r.JobID = job
	own := jobs.Record{ID: job, Instance: r.Instance, Tenant: r.Tenant, Project: r.Project, Owner: r.User, KeyID: r.KeyID,
		Backend: r.Backend, Program: r.Program, Session: r.Session, Created: r.Admitted}
	own.Quota, _ = json.Marshal(r)
	if err := g.Jobs.AddWith(ctx, own, func(ctx context.Context, w store.Write) error { return g.Quota.Rewrite(ctx, r, w) }); err != nil {
		return false, err
	}
	rec.Note = fmt.Sprintf("job %s of %s was created upstream while replica %s stopped before recording it: recorded for its owner", job, r.User, r.Node)
	g.auditEvent(ctx, rec)
	return false, nil
}
