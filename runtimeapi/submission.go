package runtimeapi

import (
	"encoding/json"

	"github.com/qgov/qgov/circuit"
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

// DecodeSubmission decodes a POST /jobs body. A malformed body is a 400
// naming the reason; a circuit that cannot be read is not an error but
// leaves its pub's size unknown.
func DecodeSubmission(body []byte) (*Submission, *Error) {
	req, err := DecodeJobRequest(body)
	if err != nil {
		return nil, err
	}
	sub := &Submission{JobRequest: req}
	if req.ProgramID != ProgramSampler && req.ProgramID != ProgramEstimator {
		sub.Shots = -1
		return sub, nil
	}
	prim, err := DecodePrimitive(req.ProgramID, req.Params)
	switch {
	case err == nil:
		for _, p := range prim.Pubs {
			sub.Pubs = append(sub.Pubs, PubSummary{Known: true, Facts: p.Facts, Bindings: p.Size(), Shots: p.Shots})
			sub.Shots += p.Size() * p.Shots
		}
		return sub, nil
	case err.Code == CodeInvalidCircuit:
		var pp struct {
			Pubs []json.RawMessage `json:"pubs"`
		}
		_ = json.Unmarshal(req.Params, &pp) // DecodePrimitive read this shape already
		sub.Pubs = make([]PubSummary, len(pp.Pubs))
		sub.Shots = -1
		return sub, nil
	default:
		return nil, err
	}
}
