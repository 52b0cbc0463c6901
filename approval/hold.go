// Package approval keeps jobs held for approval: the held request
// exactly as it would have been forwarded, who sent it, the workflows
// that must approve it, and each decision. State lives in the shared
// store, so every replica sees it and it survives restarts.
//
// Every transition is a create-if-absent of its own record, so of two
// replicas or two people racing, exactly one wins. A hold's records share
// a key prefix, so one store read returns them all:
//
//	j/<id>/h          the hold
//	j/<id>/d/<step>   a workflow step's decision (approve, reject, timeout)
//	j/<id>/f          the job's fate (released, rejected, timed_out,
//	                  cancelled) and the replica that recorded it; whoever
//	                  creates "released" owns the forward of the held
//	                  request
//	j/<id>/a/<n>      a replica's take-over of that forward from the
//	                  owner of attempt n-1, which stopped
//	j/<id>/u          what the upstream answered to that forward, or that
//	                  the job was cancelled before it was forwarded
//	o/<tenant>/<id>   the tenant's open holds: awaiting a decision, or
//	                  decided with their follow-up unfinished
//
// The forward of a released job carries the tag runtimeapi.TrackTag(id),
// so a replica that takes it over finds the upstream job the stopped
// owner may have created before it forwards again.
package approval

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/policy"
)

// Hold is a held job submission.
type Hold struct {
	// ID is the job id the client received.
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	Project  string `json:"project"`
	Instance string `json:"instance"`
	// Submitter is who sent it (never their credential).
	Submitter Submitter `json:"submitter"`
	// Request is the request to forward on approval.
	Request Request  `json:"request"`
	Backend string   `json:"backend"`
	Program string   `json:"program"`
	Session string   `json:"session_id,omitempty"`
	Tags    []string `json:"tags"`
	// Shots is the job's total shots.
	Shots int `json:"shots,omitempty"`
	// Rules name the policies and workflows that matched the job.
	Rules []string `json:"rules,omitempty"`
	// EstimatedCostUSD is the job's estimated cost when it was held.
	EstimatedCostUSD float64 `json:"estimated_cost_usd"`
	// Steps are the workflows that must each approve, as they were
	// configured when the job was held.
	Steps []policy.Workflow `json:"steps"`
	// Auto lists the steps auto_approve_for approved when the job was
	// held.
	Auto []int `json:"auto,omitempty"`
	// Reservation is the job's quota reservation, held with it.
	Reservation json.RawMessage `json:"reservation,omitempty"`
	Created     time.Time       `json:"created"`
}

// Submitter is the caller who sent a held job.
type Submitter struct {
	User  string `json:"user"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	KeyID string `json:"key_id,omitempty"`
	// Roles are the submitter's roles in the project when they submitted.
	Roles []string `json:"roles,omitempty"`
}

// Request is an HTTP request as the gateway would have forwarded it:
// method, the path below the API base, headers (no credentials) and body.
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body"`
}

// Decisions.
const (
	Approve = "approve"
	Reject  = "reject"
	Timeout = "timeout"
	// Auto is an approval by a workflow's auto_approve_for.
	Auto = "auto"
)

// Decision is one workflow step's decision.
type Decision struct {
	Decision string    `json:"decision"`
	By       string    `json:"by"`
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
	// Tier is the tier of approvers that decided (1 after escalation).
	Tier int `json:"tier"`
}

// Fates of a held job.
const (
	Released  = "released"
	Rejected  = "rejected"
	TimedOut  = "timed_out"
	Cancelled = "cancelled"
)

// Fate is how a held job's hold ended.
type Fate struct {
	Fate    string    `json:"fate"`
	By      string    `json:"by"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// Node is the replica that recorded the fate and owns its follow-up.
	Node string `json:"node,omitempty"`
}

// Attempt is a replica's take-over of a released job's forward.
type Attempt struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
}

// Upstream is the upstream's answer to the released request.
type Upstream struct {
	// JobID is the upstream's job id; empty when it refused the job.
	JobID string `json:"job_id,omitempty"`
	// Status and Error describe a refusal.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// CancelledBy names who cancelled the job before it was forwarded.
	CancelledBy string    `json:"cancelled_by,omitempty"`
	At          time.Time `json:"at"`
}

// State is a hold with everything decided about it so far.
type State struct {
	Hold
	Decisions map[int]Decision `json:"decisions"`
	Fate      *Fate            `json:"fate,omitempty"`
	// Attempts are the take-overs of a released job's forward, in order.
	Attempts []Attempt `json:"attempts,omitempty"`
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Owner is the replica that owns the hold's follow-up and since when:
// the last to take over its forward, else the one that recorded its
// fate.
func (s *State) Owner() (node string, since time.Time) {
	if n := len(s.Attempts); n > 0 {
		return s.Attempts[n-1].Node, s.Attempts[n-1].At
	}
	return s.Fate.Node, s.Fate.At
}

// NewState is a hold's state before anyone decides: its steps
// approved by auto_approve_for, and nothing else.
func NewState(h Hold) *State {
	s := &State{Hold: h, Decisions: map[int]Decision{}}
	s.fillAuto()
	return s
}

// fillAuto records the steps auto_approve_for approved as decisions.
func (s *State) fillAuto() {
	for _, i := range s.Auto {
		s.Decisions[i] = Decision{Decision: Auto, By: s.Submitter.User, Comment: "auto_approve_for", At: s.Created}
	}
}

// Pending lists the steps nobody has decided.
func (s *State) Pending() []int {
	var out []int
	for i := range s.Steps {
		if _, ok := s.Decisions[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

// Approved reports whether every step approved.
func (s *State) Approved() bool {
	for i := range s.Steps {
		if d, ok := s.Decisions[i]; !ok || (d.Decision != Approve && d.Decision != Auto) {
			return false
		}
	}
	return true
}

// Deadline is when the first pending step's time is up.
func (s *State) Deadline() time.Time {
	var first time.Time
	for _, i := range s.Pending() {
		if d := s.Steps[i].Deadline(s.Created); first.IsZero() || d.Before(first) {
			first = d
		}
	}
	return first
}

// Expired lists the pending steps whose every tier's time is up at now.
func (s *State) Expired(now time.Time) []int {
	var out []int
	for _, i := range s.Pending() {
		if _, open := s.Steps[i].Tier(s.Created, now); !open {
			out = append(out, i)
		}
	}
	return out
}

// Waiting describes what the job waits for at now, for its state reason.
func (s *State) Waiting(now time.Time) string {
	var parts []string
	for _, i := range s.Pending() {
		w := &s.Steps[i]
		tier, _ := w.Tier(s.Created, now)
		tiers := w.Tiers()
		targets := tiers[min(tier, len(tiers)-1)]
		names := make([]string, len(targets))
		for j, t := range targets {
			names[j] = t.String()
		}
		parts = append(parts, fmt.Sprintf("workflow %s (approvers: %s; decide by %s)",
			w.Name, strings.Join(names, ", "), s.Created.Add(time.Duration(tier+1)*w.Timeout()).UTC().Format(time.RFC3339)))
	}
	return "awaiting approval: " + strings.Join(parts, "; ")
}

// Job is the Runtime API job document of a job not (yet) upstream: Queued
// while held or being released, Cancelled when rejected, timed out or
// cancelled, Failed when the upstream refused it on release.
func (s *State) Job(now time.Time) runtimeapi.Job {
	st := runtimeapi.JobState{Status: runtimeapi.StatusQueued, Reason: s.Waiting(now)}
	var end *time.Time
	switch {
	case s.Fate == nil:
	case s.Fate.Fate == Released && s.Upstream == nil:
		st.Reason = "approved; being submitted to the backend"
	case s.Fate.Fate == Released && s.Upstream.JobID != "":
		st.Reason = "approved and submitted to the backend"
	case s.Fate.Fate == Released && s.Upstream.CancelledBy != "":
		st = runtimeapi.JobState{Status: runtimeapi.StatusCancelled, Reason: "approved, then cancelled by " + s.Upstream.CancelledBy + " before it reached the backend"}
		end = &s.Upstream.At
	case s.Fate.Fate == Released:
		st = runtimeapi.JobState{Status: runtimeapi.StatusFailed, Reason: fmt.Sprintf("approved, but the upstream refused the job (%d): %s", s.Upstream.Status, s.Upstream.Error)}
		end = &s.Upstream.At
	default:
		st = runtimeapi.JobState{Status: runtimeapi.StatusCancelled, Reason: s.Reason()}
		end = &s.Fate.At
	}
	return runtimeapi.Job{ID: s.ID, Backend: s.Backend, State: st, Status: st.Status, Program: runtimeapi.JobProgram{ID: s.Program},
		Created: s.Created, EndTime: end, SessionID: s.Session, Tags: orEmpty(s.Tags), UserID: s.Submitter.User}
}

// Reason says why a hold ended other than by release.
func (s *State) Reason() string {
	f := s.Fate
	switch f.Fate {
	case Rejected:
		return fmt.Sprintf("rejected by %s: %s", f.By, orDash(f.Comment))
	case TimedOut:
		return "approval timed out: " + f.Comment
	case Cancelled:
		return "cancelled by " + f.By + " before approval"
	}
	return f.Fate
}

// MayDecide reports whether a person may decide step i at now: they match
// the tier of approvers deciding now, or an earlier one (escalation adds
// approvers, it does not remove them).
func (s *State) MayDecide(i int, now time.Time, user, email string, roles []string) bool {
	w := &s.Steps[i]
	tier, open := w.Tier(s.Created, now)
	if !open {
		return false
	}
	return slices.ContainsFunc(w.Tiers()[:tier+1], func(targets []policy.Target) bool {
		return policy.Matches(targets, user, email, roles)
	})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "no comment"
	}
	return s
}
