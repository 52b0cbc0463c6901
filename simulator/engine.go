package simulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/qgov/qgov/circuit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/simulator/statevector"
)

// worker executes queued jobs until the server closes.
func (s *Server) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case j := <-s.queue:
			s.execute(j)
		}
	}
}

// execute runs one job within its maximum execution time. A job cancelled
// or deleted while it ran keeps its final state; its results are dropped.
func (s *Server) execute(j *job) {
	s.mu.Lock()
	if j.status != runtimeapi.StatusQueued {
		s.mu.Unlock()
		return
	}
	now := s.now()
	j.status, j.running = runtimeapi.StatusRunning, &now
	ctx, cancel := context.WithTimeout(s.ctx, time.Duration(j.maxSeconds)*time.Second)
	j.cancel = cancel
	j.logf(now, "INFO", "job started")
	s.sessionStarted(j, now)
	s.mu.Unlock()

	body, err := s.run(ctx, j)

	s.mu.Lock()
	defer s.mu.Unlock()
	cancel()
	switch {
	case runtimeapi.Final(j.status):
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		s.finish(j, runtimeapi.StatusCancelled, fmt.Sprintf("the job exceeded its maximum execution time of %d s", j.maxSeconds), runtimeapi.ReasonCodeRanTooLong)
	case s.ctx.Err() != nil:
		s.finish(j, runtimeapi.StatusFailed, "the simulator shut down while the job ran", 0)
	case err != nil:
		s.finish(j, runtimeapi.StatusFailed, err.Error(), 0)
	default:
		j.results, j.quantum = body, j.estimate
		s.rollPeriod(j.inst)
		j.inst.consumed += j.quantum
		s.finish(j, runtimeapi.StatusCompleted, "", 0)
	}
}

// finish moves a job to a final state; s.mu must be held.
func (s *Server) finish(j *job, status, reason string, code int) {
	if runtimeapi.Final(j.status) {
		return
	}
	now := s.now()
	j.status, j.reason, j.reasonCode, j.finished = status, reason, code, &now
	if j.cancel != nil {
		j.cancel()
	}
	level := "INFO"
	if status != runtimeapi.StatusCompleted {
		level = "ERROR"
	}
	j.logf(now, level, "job %s %s", status, reason)
	s.log.Info("job finished", "job", j.id, "status", status, "reason", reason)
	s.sessionFinished(j, now)
	j.inst.finished++
	s.prune(j.inst, now)
}

// remove deletes a job; s.mu must be held.
func (s *Server) remove(j *job) {
	if runtimeapi.Final(j.status) {
		j.inst.finished--
	}
	delete(s.jobs, j.id)
	j.inst.jobIDs = slices.DeleteFunc(j.inst.jobIDs, func(id string) bool { return id == j.id })
}

// pruneEvery is how often an instance's jobs are pruned by age; by count
// they are pruned once the finished ones exceed the retention count by a
// sixteenth, so that a finishing job does not walk every job kept.
const pruneEvery = time.Minute

// prune deletes the instance's finished jobs beyond the retention count or
// age, and its sessions closed before that age; s.mu must be held.
func (s *Server) prune(in *instance, now time.Time) {
	if in.finished <= s.cfg.RetainJobs+s.cfg.RetainJobs/16 && now.Sub(in.pruned) < pruneEvery {
		return
	}
	in.pruned = now
	cutoff := now.Add(-s.cfg.retention())
	finished := in.finished
	var kept []string
	for _, id := range in.jobIDs {
		j, ok := s.jobs[id]
		if !ok {
			continue
		}
		if runtimeapi.Final(j.status) && (finished > s.cfg.RetainJobs || j.finished.Before(cutoff)) {
			delete(s.jobs, id)
			finished--
			continue
		}
		kept = append(kept, id)
	}
	in.jobIDs, in.finished = kept, finished
	for id, sess := range s.sessions {
		if sess.inst == in && sess.closedAt != nil && sess.closedAt.Before(cutoff) {
			delete(s.sessions, id)
		}
	}
}

// run executes the job's pubs and encodes the results.
func (s *Server) run(ctx context.Context, j *job) ([]byte, error) {
	seed := rand.Uint64()
	if j.prim.Seed != nil {
		seed = uint64(*j.prim.Seed)
	}
	start := time.Now()
	if j.program == runtimeapi.ProgramEstimator {
		var out []runtimeapi.EstimatorPubResult
		for i, pub := range j.prim.Pubs {
			res, err := s.estimatePub(ctx, pub)
			if err != nil {
				return nil, fmt.Errorf("pubs[%d]: %w", i, err)
			}
			out = append(out, res)
		}
		return runtimeapi.EncodeEstimatorResult(out, runtimeapi.Span{Start: start, Stop: time.Now()}, j.prim.SupportQiskit)
	}
	var out []runtimeapi.SamplerPubResult
	for i, pub := range j.prim.Pubs {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		res, err := s.samplePub(ctx, pub, rng)
		if err != nil {
			return nil, fmt.Errorf("pubs[%d]: %w", i, err)
		}
		out = append(out, res)
	}
	span := runtimeapi.Span{Start: start, Stop: time.Now()}
	if j.program == runtimeapi.ProgramExecutor {
		return runtimeapi.EncodeExecutorResult(out, span)
	}
	return runtimeapi.EncodeSamplerResult(out, span, j.prim.SupportQiskit)
}

// program lowers a pub's circuit for one binding onto its active qubits.
func (s *Server) program(pub runtimeapi.Pub, binding int) (*statevector.Program, error) {
	instrs, err := pub.Circuit.Lower(pub.Bindings.Map(binding, pub.Circuit.Parameters))
	if err != nil {
		return nil, err
	}
	return statevector.NewProgram(instrs, s.cfg.MaxQubits)
}

// samplePub samples every binding of a sampler pub into packed BitArrays,
// one per classical register.
func (s *Server) samplePub(ctx context.Context, pub runtimeapi.Pub, rng *rand.Rand) (runtimeapi.SamplerPubResult, error) {
	c := pub.Circuit
	res := runtimeapi.SamplerPubResult{Shape: pub.Shape, Shots: pub.Shots}
	for _, r := range c.Registers {
		reg := runtimeapi.RegisterBits{Name: r.Name, NumBits: r.Size()}
		reg.Array = make([]byte, pub.Size()*pub.Shots*reg.BytesPerShot())
		res.Registers = append(res.Registers, reg)
	}
	for b := 0; b < pub.Bindings.Size(); b++ {
		prog, err := s.program(pub, b)
		if err != nil {
			return res, err
		}
		shots, err := prog.Sample(ctx, c.NumClbits, pub.Shots, rng)
		if err != nil {
			return res, err
		}
		for k, r := range c.Registers {
			reg := res.Registers[k]
			width := reg.BytesPerShot()
			for shot := 0; shot < pub.Shots; shot++ {
				base := (b*pub.Shots + shot) * width
				for bit, clbit := range r.Bits {
					if shots.Bit(shot, clbit) {
						reg.Array[base+width-1-bit/8] |= 1 << (bit % 8)
					}
				}
			}
		}
	}
	return res, nil
}

// estimatePub computes exact expectation values for every element of an
// estimator pub. stds are the standard errors a measurement with the pub's
// shot count would have: sqrt(Σ c²(1−⟨P⟩²) / shots).
func (s *Server) estimatePub(ctx context.Context, pub runtimeapi.Pub) (runtimeapi.EstimatorPubResult, error) {
	n := pub.Size()
	res := runtimeapi.EstimatorPubResult{Shape: pub.Shape, Evs: make([]float64, n), Stds: make([]float64, n), Precision: pub.Precision, Shots: pub.Shots}
	elements := make([][]int, pub.Bindings.Size()) // pub elements of each binding
	for i := 0; i < n; i++ {
		b := runtimeapi.BroadcastIndex(i, pub.Shape, pub.Bindings.Shape)
		elements[b] = append(elements[b], i)
	}
	for b, mine := range elements {
		prog, err := s.program(pub, b)
		if err != nil {
			return res, err
		}
		state, err := prog.Final(ctx)
		if err != nil {
			return res, err
		}
		for _, i := range mine {
			ev, variance := 0.0, 0.0
			for _, t := range pub.Observables.Terms[runtimeapi.BroadcastIndex(i, pub.Shape, pub.Observables.Shape)] {
				e := expectation(state, prog, t.Label)
				ev += t.Coeff * e
				variance += t.Coeff * t.Coeff * (1 - e*e)
			}
			res.Evs[i], res.Stds[i] = ev, math.Sqrt(max(variance, 0)/float64(pub.Shots))
		}
	}
	return res, nil
}

// expectation returns ⟨P⟩ for a Pauli label whose last character acts on
// qubit 0. Qubits the circuit never touches are |0⟩: Z there contributes
// 1, X or Y make the expectation 0.
func expectation(state *statevector.State, prog *statevector.Program, label string) float64 {
	var x, z uint64
	for pos := 0; pos < len(label); pos++ {
		p := label[pos]
		if p == 'I' {
			continue
		}
		local, active := prog.Local(len(label) - 1 - pos)
		if !active {
			if p == 'Z' {
				continue
			}
			return 0
		}
		if p == 'X' || p == 'Y' {
			x |= 1 << local
		}
		if p == 'Z' || p == 'Y' {
			z |= 1 << local
		}
	}
	return state.ExpectPauli(x, z)
}

// quantumSeconds is the timing model for usage: a fixed job overhead plus,
// for every binding and shot, the circuit's duration and the repetition
// delay, rounded up to whole seconds.
func quantumSeconds(p *runtimeapi.Primitive) float64 {
	total := jobOverheadSeconds
	for _, pub := range p.Pubs {
		total += float64(pub.Size()*pub.Shots) * (circuitSeconds(pub.Circuit) + repDelaySeconds)
	}
	return math.Ceil(total)
}

// circuitSeconds is the duration of a circuit's critical path: 60 ns per
// single-qubit gate (rz and phase gates are virtual: 0), 660 ns per
// multi-qubit gate, 1.56 µs per measurement or reset, delays as written;
// barriers align their qubits.
func circuitSeconds(c *circuit.Circuit) float64 {
	clock := map[int]float64{}
	end := 0.0
	for _, op := range c.Ops {
		start := 0.0
		for _, q := range op.Qubits {
			start = max(start, clock[q])
		}
		d := 0.0
		switch op.Kind {
		case circuit.OpMeasure:
			d = measureSeconds
		case circuit.OpReset:
			d = resetSeconds
		case circuit.OpDelay:
			v, _ := op.Params[0].Eval(nil)
			d = v * map[string]float64{"dt": dtSeconds, "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1}[op.Unit]
		case circuit.OpGate:
			switch {
			case len(op.Qubits) > 1:
				d = twoQubitGateSeconds
			case op.Name != "rz" && op.Name != "p" && op.Name != "u1" && op.Name != "phase":
				d = oneQubitGateSeconds
			}
		}
		for _, q := range op.Qubits {
			clock[q] = start + d
		}
		end = max(end, start+d)
	}
	return end
}
