package gateway

import "time"

// Step names a step of the pipeline whose duration is observed.
type Step string

// The steps observed.
const (
	StepAuthenticate Step = "authenticate"
	StepAuthorize    Step = "authorize"
	StepLimits       Step = "limits"
	StepPolicies     Step = "policies"
	StepAdmission    Step = "admission"
	StepUpstream     Step = "upstream"
	StepRecord       Step = "record"
	StepAudit        Step = "audit"
)

// Steps are every step observed, for a metric's help.
var Steps = []Step{StepAuthenticate, StepAuthorize, StepLimits, StepPolicies, StepAdmission, StepUpstream, StepRecord, StepAudit}

// Timer observes how long the steps of requests took.
type Timer interface {
	Observe(step Step, took time.Duration)
}

// observe reports the duration of a step begun at start, when a Timer is
// configured.
func (g *Gateway) observe(step Step, start time.Time) {
	if g.Timer != nil {
		g.Timer.Observe(step, time.Since(start))
	}
}
