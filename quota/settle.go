package quota

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qgov/qgov/store"
)

// Bind records the upstream job an admission became, so the reconciler
// can follow it, storing also (the job's ownership record) first in the
// same step. The upstream has accepted the job, so a failure here is
// only logged by the caller: the reconciler finds the job by its tag.
func (g *Governor) Bind(ctx context.Context, a *Admission, jobID string, also ...store.Write) error {
	a.JobID = jobID
	return g.Rewrite(ctx, a.Reservation, also...)
}

// Rewrite stores a reservation's changed record (its job id, or the
// held job it waits with), storing also first in the same step. A
// reservation admitted on local counts is rewritten there, and also in
// the shared store.
func (g *Governor) Rewrite(ctx context.Context, r Reservation, also ...store.Write) error {
	if r.ID == "" && len(also) == 0 {
		return nil
	}
	b, _ := json.Marshal(r)
	if r.Local || r.ID == "" {
		if len(also) > 0 {
			if err := g.rewriteWith(ctx, r.Tenant, r.ID, b, also); err != nil { // the reservation is not there: only also is stored
				return err
			}
		}
		if r.ID == "" {
			return nil
		}
		_, err := g.local.Rewrite(ctx, r.Tenant, r.ID, b)
		return err
	}
	if len(also) > 0 {
		return g.rewriteWith(ctx, r.Tenant, r.ID, b, also)
	}
	return g.call(ctx, func(ctx context.Context, c Counters) error {
		_, err := c.Rewrite(ctx, r.Tenant, r.ID, b)
		return err
	})
}

// rewriteWith rewrites a reservation with records to store in the same step.
// A job's records are written after its upstream accepted it, and their
// writer retries: the call is always tried (within the timeout), never
// refused because the counters failed a moment ago, and its failure does
// not mark them unreachable.
func (g *Governor) rewriteWith(ctx context.Context, scope, id string, record []byte, also []store.Write) error {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	if _, err := g.shared.Rewrite(ctx, scope, id, record, also...); err != nil {
		return fmt.Errorf("storing records with reservation %s: %w", id, err)
	}
	return nil
}

// Release undoes an admission the upstream refused: every counter it
// moved moves back, as if the job had never been submitted.
func (g *Governor) Release(ctx context.Context, r Reservation) error {
	var cs []store.Counter
	for _, h := range r.Held {
		c := h.Counter
		c.Amount, c.Alert = -c.Amount, 0
		cs = append(cs, c)
	}
	_, err := g.settle(ctx, r, cs)
	return err
}

// Settle closes the reservation of a job that ended: it leaves the
// running jobs, and its estimate is replaced by its actual cost
// (quantum seconds at the reserved price; 0 for a job that was cancelled
// or failed before running). A budget alert this crosses is reported. It
// reports false when the reservation was already settled.
func (g *Governor) Settle(ctx context.Context, r Reservation, quantumSeconds float64) (bool, error) {
	actual := micros(quantumSeconds * r.Price)
	var cs []store.Counter
	for _, h := range r.Held {
		c := h.Counter
		switch h.Kind {
		case heldConcurrent:
			c.Amount = -1
		case heldSpend:
			c.Amount = actual - r.EstimateMicros
		case heldReserved:
			c.Amount = -r.EstimateMicros
			c.Alert = 0
		default:
			continue
		}
		cs = append(cs, c)
	}
	alerts, err := g.settle(ctx, r, cs)
	for _, i := range alerts {
		g.alert(r.Tenant, cs[i].Key, cs[i].Alert, false)
	}
	return alerts != nil, err
}

// settle applies changes and closes the reservation; it returns the
// indexes of crossed alerts, nil when the reservation was not open.
func (g *Governor) settle(ctx context.Context, r Reservation, cs []store.Counter) ([]int, error) {
	var ok bool
	var alerts []int
	run := func(ctx context.Context, c Counters) error {
		var err error
		ok, alerts, err = c.Settle(ctx, r.Tenant, r.ID, cs)
		return err
	}
	var err error
	if r.Local {
		err = run(ctx, g.local)
	} else {
		err = g.call(ctx, run)
	}
	if err != nil {
		return nil, fmt.Errorf("settling reservation %s: %w", r.ID, err)
	}
	if !ok {
		return nil, nil
	}
	if alerts == nil {
		alerts = []int{}
	}
	return alerts, nil
}

// Open lists a tenant's open reservations: the shared ones, then this
// replica's local ones.
func (g *Governor) Open(ctx context.Context, tenant string) ([]Reservation, error) {
	var shared []store.Entry
	err := g.call(ctx, func(ctx context.Context, c Counters) error {
		var err error
		shared, err = c.Open(ctx, tenant)
		return err
	})
	local, _ := g.local.Open(ctx, tenant)
	var out []Reservation
	for _, e := range append(shared, local...) {
		var r Reservation
		if json.Unmarshal(e.Value, &r) == nil {
			out = append(out, r)
		}
	}
	return out, err
}
