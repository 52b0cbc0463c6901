package quota

import (
	"math"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// The cost model. A job's quantum time is estimated from its pubs before
// it is forwarded:
//
//	seconds = 2 s per job
//	        + Σ over pubs of bindings × shots × (depth × 1.56 µs + 250 µs)
//
// 1.56 µs bounds one layer of the circuit (a measurement, the slowest
// operation) and 250 µs is the repetition delay between shots, so the
// estimate is at least the device time. A job that sets
// max_execution_time (the body's "cost") is charged at most that, so
// its estimate is the smaller of the two. The price is USD per quantum
// second of the job's backend: Prices, else 0 for a simulator, else
// DefaultPrice (1.60). When the job ends its estimate is replaced by the
// quantum seconds the upstream reports in its metrics.
const (
	jobOverheadSeconds = 2.0
	layerSeconds       = 1.56e-6
	repDelaySeconds    = 250e-6
)

// Estimate is a job's expected charge before it runs.
type Estimate struct {
	// Seconds is the expected quantum time; Known is false when the job's
	// size could not be read and it set no max_execution_time.
	Seconds float64
	Known   bool
	// PricePerSecond is the backend's price, USD.
	PricePerSecond float64
	// USD is Seconds × PricePerSecond.
	USD float64
}

// Price returns the USD price of a quantum-second on a backend.
func (c *Config) Price(backend string) float64 {
	if p, ok := c.Prices[backend]; ok {
		return p
	}
	if runtimeapi.IsSimulator(backend) {
		return 0
	}
	if c.DefaultPrice != nil {
		return *c.DefaultPrice
	}
	return DefaultPricePerSecond
}

// EstimateJob applies the cost model to a submission.
func (c *Config) EstimateJob(sub *runtimeapi.Submission, backend string) Estimate {
	e := Estimate{PricePerSecond: c.Price(backend)}
	if depthKnown(sub) {
		e.Seconds, e.Known = jobOverheadSeconds, true
		for _, p := range sub.Pubs {
			e.Seconds += float64(p.Bindings*p.Shots) * (float64(p.Facts.Depth)*layerSeconds + repDelaySeconds)
		}
	}
	if sub.Cost != nil && (!e.Known || *sub.Cost < e.Seconds) {
		e.Seconds, e.Known = *sub.Cost, true
	}
	e.USD = e.Seconds * e.PricePerSecond
	return e
}

// sizeKnown reports whether every pub of a job could be read.
func sizeKnown(sub *runtimeapi.Submission) bool {
	if sub.Shots < 0 {
		return false
	}
	for _, p := range sub.Pubs {
		if !p.Known {
			return false
		}
	}
	return true
}

// depthKnown reports whether every pub of a job could be read and the
// depth of each counted.
func depthKnown(sub *runtimeapi.Submission) bool {
	if !sizeKnown(sub) {
		return false
	}
	for _, p := range sub.Pubs {
		if !p.Facts.DepthKnown() {
			return false
		}
	}
	return true
}

// micros converts USD to whole micro-dollars, rounding up so that a
// reservation never falls short.
func micros(usd float64) int64 { return int64(math.Ceil(usd * 1e6)) }

// dollars converts micro-dollars to USD.
func dollars(m int64) float64 { return float64(m) / 1e6 }

// Estimate is a job's estimated cost on backend under the governor's
// prices.
func (g *Governor) Estimate(sub *runtimeapi.Submission, backend string) Estimate {
	return g.plan.Load().cfg.EstimateJob(sub, backend)
}
