package store

import (
	"context"
	"time"
)

// Counter is one integer counter an admission checks and moves. Counters
// and admissions live in a scope (a tenant): on Redis every key of a
// scope shares one hash tag, so an admission touches one Cluster slot.
type Counter struct {
	// Key names the counter within its scope.
	Key string
	// Limit is the highest value the counter may reach; negative counts
	// without limiting.
	Limit int64
	// Amount is added to the counter (negative subtracts; the result is
	// never below zero).
	Amount int64
	// TTL, when positive, expires a counter created by this change (a
	// window's counter outlives its window by it).
	TTL time.Duration
	// Alert, when positive, is a value whose crossing is reported once:
	// the first change that takes the counter from below Alert to at
	// least Alert sets the marker AlertKey and reports it.
	Alert    int64
	AlertKey string
	// OverKey, when set, marks the first refusal by this counter's limit
	// so that it is reported once.
	OverKey string
}

// Admission is what Admit records: an open reservation holding Record
// until Settle closes it. An empty ID records no reservation (the
// counters move, as for a request counted against a rate).
type Admission struct {
	ID     string
	Record []byte
	// TTL bounds how long an unsettled reservation is kept.
	TTL time.Duration
}

// Verdict is the outcome of Admit.
type Verdict struct {
	// Admitted is true when every counter stayed within its limit; then
	// every counter moved and the reservation was recorded. Otherwise
	// nothing changed.
	Admitted bool
	// Refused is the index of the first counter over its limit, and
	// Current its value, when not admitted. FirstOver is true when this
	// refusal set the counter's OverKey.
	Refused   int
	Current   int64
	FirstOver bool
	// Values are the counters' values after an admission.
	Values []int64
	// Alerts are the indexes of counters whose Alert this change crossed.
	Alerts []int
}

// Counters keep admission counters and open reservations. Admit and
// Settle are each one atomic step: one Redis round trip (a server-side
// script) or one bbolt transaction.
type Counters interface {
	// Admit checks every counter against its limit and, only when all
	// pass, adds their amounts and records the admission.
	Admit(ctx context.Context, scope string, a Admission, cs []Counter) (Verdict, error)
	// Settle closes an open reservation, applying the changes (limits
	// are not checked); it reports false, changing nothing, when the
	// reservation is not open (already settled, or never admitted).
	Settle(ctx context.Context, scope, id string, cs []Counter) (bool, []int, error)
	// Rewrite stores also, then replaces an open reservation's record,
	// in one step: one bbolt transaction, one Redis round trip (in
	// order) where one server holds both, and on a Redis Cluster also
	// first and then the reservation. It reports false when the
	// reservation is not open (also is stored all the same). The memory
	// counters keep no records and refuse also.
	Rewrite(ctx context.Context, scope, id string, record []byte, also ...Write) (bool, error)
	// Open lists a scope's open reservations by id.
	Open(ctx context.Context, scope string) ([]Entry, error)
	// Values reads counters; an absent one is zero.
	Values(ctx context.Context, scope string, keys []string) ([]int64, error)
}

// counterTx is one transaction over a scope's counters and reservations,
// for the stores that run admission in Go.
type counterTx interface {
	value(key string) int64
	setValue(key string, v int64, ttl time.Duration)
	exists(key string) bool
	// mark sets a marker key unless it exists, reporting whether it did.
	mark(key string, ttl time.Duration) bool
	reserved(id string) bool
	putReservation(id string, record []byte, ttl time.Duration)
	deleteReservation(id string)
}

// markerTTL keeps alert and over-limit markers past any budget period.
const markerTTL = 40 * 24 * time.Hour

// move applies one counter's change within tx, returning its new value
// and whether it crossed the counter's alert value.
func move(tx counterTx, c Counter) (int64, bool) {
	cur := tx.value(c.Key)
	next := max(cur+c.Amount, 0)
	ttl := time.Duration(0)
	if !tx.exists(c.Key) {
		ttl = c.TTL
	}
	tx.setValue(c.Key, next, ttl)
	return next, c.Alert > 0 && cur < c.Alert && next >= c.Alert && tx.mark(c.AlertKey, markerTTL)
}

// admitTx is Admit's logic for the stores that run it in Go; the Redis
// script mirrors it.
func admitTx(tx counterTx, a Admission, cs []Counter) Verdict {
	for i, c := range cs {
		if cur := tx.value(c.Key); c.Limit >= 0 && cur+c.Amount > c.Limit {
			return Verdict{Refused: i, Current: cur, FirstOver: c.OverKey != "" && tx.mark(c.OverKey, markerTTL)}
		}
	}
	v := Verdict{Admitted: true, Refused: -1, Values: make([]int64, len(cs))}
	for i, c := range cs {
		var crossed bool
		if v.Values[i], crossed = move(tx, c); crossed {
			v.Alerts = append(v.Alerts, i)
		}
	}
	if a.ID != "" {
		tx.putReservation(a.ID, a.Record, a.TTL)
	}
	return v
}

// settleTx is Settle's logic for the stores that run it in Go.
func settleTx(tx counterTx, id string, cs []Counter) (bool, []int) {
	if !tx.reserved(id) {
		return false, nil
	}
	var alerts []int
	for i, c := range cs {
		if _, crossed := move(tx, c); crossed {
			alerts = append(alerts, i)
		}
	}
	tx.deleteReservation(id)
	return true, alerts
}
