package runtimeapi

import (
	"errors"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/denial"
	"github.com/qgov/qgov/internal/strictjson"
)

// Submission is what the gateway reads from a POST /jobs body before it
// forwards it: enough for access decisions, quotas and policies.
type Submission struct {
	*JobRequest
	// Pubs summarises each pub of a sampler or estimator job; it is nil
	// for other programs, whose params are not read.
	Pubs []PubSummary
	// Shots is the job's total shots (bindings × shots, summed over its
	// pubs), or -1 when some pub's size is unknown.
	Shots int
}

// PubSummary is what is known of one pub.
type PubSummary struct {
	// Known is false when the circuit could not be read here (for example
	// QPY with custom gates, which the upstream may still accept); Facts,
	// Bindings and Shots are then zero.
	Known    bool
	Facts    circuit.Facts
	Bindings int
	// Shots per binding (estimator: derived from the precision).
	Shots int
}

var errTooManyPubs = errors.New("too many pubs")

// jobHead is a job request whose params are read in place.
type jobHead struct {
	JobRequest
	Params strictjson.Skip `json:"params"`
}

// DecodeSubmission decodes a POST /jobs body for the gateway: the body is
// checked to have one reading, then read once, in place, keeping only the
// facts of its circuits and drawing their instructions and inflated bytes
// from one budget of limits. A malformed body is a 400 naming the reason,
// circuits beyond the budget a 413; a circuit that cannot be read is not
// an error but leaves its pub's size unknown.
func DecodeSubmission(body []byte, limits circuit.Limits) (*Submission, *denial.Denial) {
	if err := strictjson.Check(body, jobNames); err != nil {
		return nil, denial.Newf("invalid_json", "malformed JSON: %v", err)
	}
	var head jobHead
	if err := strictjson.Unmarshal(body, &head, false); err != nil {
		return nil, denial.Newf("invalid_json", "malformed JSON: %v", err)
	}
	req := &head.JobRequest
	req.Params = member(body, "params") // a view of the body: nothing is copied
	if err := req.check(); err != nil {
		return nil, err
	}
	sub := &Submission{JobRequest: req}
	pr := pubReader{budget: circuit.NewBudget(limits)}
	var sized *Submission
	var serr *denial.Denial
	switch req.ProgramID {
	case ProgramSampler, ProgramEstimator:
	case ProgramExecutor:
		sized, serr = pr.executor(req.Params)
	case ProgramNoiseLearner:
		sized, serr = pr.noiseLearner(req.Params)
	default:
		sized = &Submission{Shots: -1} // a program whose size is not known here
	}
	switch {
	case serr != nil:
		return nil, serr
	case sized != nil:
		sub.Pubs, sub.Shots = sized.Pubs, sized.Shots
		return sub, nil
	case req.ProgramID != ProgramSampler && req.ProgramID != ProgramEstimator:
		sub.Shots = -1 // a schema whose size is not known here
		return sub, nil
	}
	prim, err := pr.primitive(req.ProgramID, req.Params)
	switch {
	case err == nil:
		for _, p := range prim.Pubs {
			sub.Pubs = append(sub.Pubs, PubSummary{Known: true, Facts: p.Facts, Bindings: p.Size(), Shots: p.Shots})
			sub.Shots += p.Size() * p.Shots
		}
		return sub, nil
	case err.Code == codeCircuitNotRead:
		n := 0
		_ = strictjson.Elements(member(req.Params, "pubs"), func([]byte) error {
			if n++; n > MaxPubs {
				return errTooManyPubs
			}
			return nil
		})
		if n > MaxPubs {
			return nil, denial.Newf("invalid_pubs", "params.pubs holds more than %d pubs", MaxPubs)
		}
		sub.Pubs = make([]PubSummary, n)
		sub.Shots = -1
		return sub, nil
	default:
		return nil, err
	}
}
