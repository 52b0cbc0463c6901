package simulator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// job is one submitted primitive job.
type job struct {
	id         string
	inst       *instance
	backend    *backend
	program    string
	prim       *runtimeapi.Primitive
	params     json.RawMessage
	tags       []string
	sessionID  string
	private    bool
	logLevel   string
	runtime    string
	userID     string
	maxSeconds int
	estimate   float64

	status     string
	reason     string
	reasonCode int
	created    time.Time
	running    *time.Time
	finished   *time.Time
	results    []byte
	quantum    float64
	logs       []string
	cancel     context.CancelFunc
}

// newID returns a 20-character lowercase id like IBM's job ids.
func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [20]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	b[0] = alphabet[int(b[0])%26] // start with a letter
	return string(b[:])
}

// logf appends a line to the job's log; s.mu must be held.
func (j *job) logf(now time.Time, level, format string, args ...any) {
	j.logs = append(j.logs, fmt.Sprintf("%s %s %s", now.UTC().Format(time.RFC3339Nano), level, fmt.Sprintf(format, args...)))
}

// document renders the job; s.mu must be held.
func (j *job) document(withParams bool) runtimeapi.Job {
	d := runtimeapi.Job{
		ID: j.id, Backend: j.backend.Name, Status: j.status,
		State:   runtimeapi.JobState{Status: j.status, Reason: j.reason, ReasonCode: j.reasonCode},
		Program: runtimeapi.JobProgram{ID: j.program}, Created: j.created, EndTime: j.finished,
		Runtime: j.runtime, SessionID: j.sessionID, Tags: j.tags, Private: j.private,
		Cost: j.maxSeconds, LogLevel: j.logLevel, EstimatedRunningTimeSeconds: j.estimate,
		Usage:  runtimeapi.JobUsage{QuantumSeconds: j.quantum, Seconds: j.quantum},
		UserID: j.userID,
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if withParams {
		d.Params = j.params
	}
	return d
}

func notFound(id string) *runtimeapi.Error {
	return runtimeapi.Errorf(http.StatusNotFound, "job_not_found", fmt.Sprintf("job %q not found", id))
}

// lookup returns the caller's job; s.mu must be held.
func (s *Server) lookup(c *caller, id string) (*job, *runtimeapi.Error) {
	j, ok := s.jobs[id]
	if !ok || j.inst != c.inst {
		return nil, notFound(id)
	}
	return j, nil
}

// withJob runs fn on the caller's job with s.mu held.
func (s *Server) withJob(w http.ResponseWriter, r *http.Request, c *caller, fn func(j *job)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.lookup(c, r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	fn(j)
}

// handleCreateJob serves POST /jobs: it validates the whole submission
// (program, backend, session, pubs, limits) before anything is queued.
func (s *Server) handleCreateJob(w http.ResponseWriter, r *http.Request, c *caller) {
	raw, rerr := readBody(r)
	if rerr != nil {
		fail(w, rerr)
		return
	}
	req, err := runtimeapi.DecodeJobRequest(raw)
	if err != nil {
		fail(w, runtimeapi.Wire(err))
		return
	}
	if req.ProgramID != runtimeapi.ProgramSampler && req.ProgramID != runtimeapi.ProgramEstimator && req.ProgramID != runtimeapi.ProgramExecutor {
		fail(w, runtimeapi.Errorf(http.StatusNotFound, "program_not_found",
			fmt.Sprintf("program %q not found (the simulator runs sampler, estimator and executor)", req.ProgramID)))
		return
	}
	j := &job{
		id: newID(), inst: c.inst, program: req.ProgramID, params: req.Params, tags: req.Tags,
		sessionID: req.SessionID, private: req.Private, logLevel: req.LogLevel, runtime: req.Runtime,
		userID: c.IAMID, maxSeconds: s.cfg.MaxExecutionSeconds, status: runtimeapi.StatusQueued, created: s.now(),
	}
	if req.Cost != nil {
		if *req.Cost > float64(s.cfg.MaxExecutionSeconds) {
			fail(w, runtimeapi.BadRequest("invalid_cost", "max_execution_time %v s exceeds the limit of %d s", *req.Cost, s.cfg.MaxExecutionSeconds))
			return
		}
		j.maxSeconds = int(math.Ceil(*req.Cost)) // whole seconds, never 0
	}
	backendName := req.Backend
	if err := s.attachSession(j, &backendName); err != nil {
		fail(w, err)
		return
	}
	if backendName == "" {
		fail(w, runtimeapi.BadRequest("missing_backend", "backend is required"))
		return
	}
	b, berr := s.backendFor(c.inst, backendName)
	if berr != nil {
		berr.Status = http.StatusBadRequest
		fail(w, berr)
		return
	}
	if b.Status != "active" {
		fail(w, runtimeapi.BadRequest("backend_unavailable", "backend %q is in %s and accepts no jobs", b.Name, b.Status))
		return
	}
	j.backend = b
	if j.prim, err = runtimeapi.DecodePrimitive(req.ProgramID, req.Params); err != nil {
		fail(w, runtimeapi.Wire(err))
		return
	}
	if err := s.checkPubs(j); err != nil {
		fail(w, err)
		return
	}
	if !b.Simulator {
		j.estimate = quantumSeconds(j.prim)
		if u := s.usage(c.inst); u.UsageLimitReached {
			fail(w, runtimeapi.Errorf(http.StatusForbidden, "usage_limit_reached",
				fmt.Sprintf("instance %s has used its %.0f s of quantum time for this period", c.inst.Name, *u.UsageLimitSeconds)))
			return
		}
	}
	if err := s.enqueue(j); err != nil {
		fail(w, err)
		return
	}
	runtimeapi.WriteJSON(w, http.StatusOK, runtimeapi.JobCreated{ID: j.id, Backend: b.Name, SessionID: j.sessionID})
}

// checkPubs enforces the backend's and the simulator's limits on every pub.
func (s *Server) checkPubs(j *job) *runtimeapi.Error {
	for i, pub := range j.prim.Pubs {
		switch {
		case pub.Facts.NumQubits > j.backend.NumQubits:
			return runtimeapi.BadRequest("too_many_qubits", "pubs[%d]: the circuit has %d qubits, backend %s has %d",
				i, pub.Facts.NumQubits, j.backend.Name, j.backend.NumQubits)
		case len(pub.Facts.ActiveQubits) > s.cfg.MaxQubits:
			return runtimeapi.BadRequest("too_many_qubits", "pubs[%d]: the circuit acts on %d qubits, the simulator's limit is %d (max_qubits)",
				i, len(pub.Facts.ActiveQubits), s.cfg.MaxQubits)
		case pub.Shots > maxShots:
			return runtimeapi.BadRequest("too_many_shots", "pubs[%d]: %d shots exceed the backend's maximum of %d", i, pub.Shots, maxShots)
		}
	}
	return nil
}

// enqueue stores the job and queues it; a full queue is a 429.
func (s *Server) enqueue(j *job) *runtimeapi.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.queue <- j:
	default:
		return &runtimeapi.Error{Status: http.StatusTooManyRequests, Code: "queue_full", RetryAfter: 5,
			Message: fmt.Sprintf("the simulator's queue is full (%d jobs); retry later", s.cfg.QueueSize)}
	}
	s.jobs[j.id] = j
	j.inst.jobIDs = append(j.inst.jobIDs, j.id)
	j.logf(j.created, "INFO", "job queued on backend %s (%d pubs)", j.backend.Name, len(j.prim.Pubs))
	s.log.Info("job queued", "job", j.id, "instance", j.inst.Name, "backend", j.backend.Name)
	return nil
}

func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		runtimeapi.WriteJSON(w, http.StatusOK, j.document(r.URL.Query().Get("exclude_params") != "true"))
	})
}

// handleListJobs serves GET /jobs with the client's filters; count is the
// number of matches regardless of limit and offset.
func (s *Server) handleListJobs(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	f, err := parseJobFilter(q)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matches []*job
	for _, id := range c.inst.jobIDs {
		if j, ok := s.jobs[id]; ok && f.match(j) {
			matches = append(matches, j)
		}
	}
	if !f.ascending {
		slices.Reverse(matches)
	}
	list := runtimeapi.JobList{Jobs: []runtimeapi.Job{}, Count: len(matches), Limit: f.limit, Offset: f.offset}
	for i := f.offset; i < len(matches) && i < f.offset+f.limit; i++ {
		list.Jobs = append(list.Jobs, matches[i].document(q.Get("exclude_params") != "true"))
	}
	runtimeapi.WriteJSON(w, http.StatusOK, list)
}

type jobFilter struct {
	limit, offset         int
	backend, program, sid string
	pending               *bool
	tags                  []string
	after, before         *time.Time
	ascending             bool
}

func parseJobFilter(q map[string][]string) (jobFilter, *runtimeapi.Error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := jobFilter{limit: 200, backend: get("backend"), program: get("program"), sid: get("session_id"), tags: q["tags"]}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"limit", &f.limit, 1000}, {"offset", &f.offset, 1 << 30}} {
		if v := get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > p.max {
				return f, runtimeapi.BadRequest("invalid_"+p.name, "%s must be an integer from 0 to %d, got %q", p.name, p.max, v)
			}
			*p.dst = n
		}
	}
	switch v := get("pending"); v {
	case "":
	case "true", "false":
		b := v == "true"
		f.pending = &b
	default:
		return f, runtimeapi.BadRequest("invalid_pending", "pending must be true or false, got %q", v)
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"created_after", &f.after}, {"created_before", &f.before}} {
		if v := get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return f, runtimeapi.BadRequest("invalid_"+p.name, "%s must be an ISO 8601 date-time with a time zone, got %q", p.name, v)
			}
			*p.dst = &t
		}
	}
	switch v := strings.ToUpper(get("sort")); v {
	case "", "DESC":
	case "ASC":
		f.ascending = true
	default:
		return f, runtimeapi.BadRequest("invalid_sort", "sort must be ASC or DESC, got %q", v)
	}
	return f, nil
}

func (f jobFilter) match(j *job) bool {
	switch {
	case f.backend != "" && j.backend.Name != f.backend,
		f.program != "" && j.program != f.program,
		f.sid != "" && j.sessionID != f.sid,
		f.pending != nil && *f.pending == runtimeapi.Final(j.status),
		f.after != nil && j.created.Before(*f.after), // the client documents both bounds as inclusive
		f.before != nil && j.created.After(*f.before):
		return false
	}
	for _, t := range f.tags {
		if !slices.Contains(j.tags, t) {
			return false
		}
	}
	return true
}

// handleResults serves the encoded results of a completed job and the
// reason text of a failed or cancelled one (the client reads it as text).
func (s *Server) handleResults(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		switch j.status {
		case runtimeapi.StatusCompleted:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(j.results)
		case runtimeapi.StatusFailed, runtimeapi.StatusCancelled:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = fmt.Fprintf(w, "Job %s %s: %s\n", j.id, strings.ToLower(j.status), j.reason)
		default:
			fail(w, runtimeapi.Errorf(http.StatusNotFound, "results_not_ready",
				fmt.Sprintf("job %q is %s; results are available once it completes", j.id, j.status)))
		}
	})
}

// handleCancelJob cancels a queued or running job; a final job is a 409.
func (s *Server) handleCancelJob(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		if runtimeapi.Final(j.status) {
			fail(w, runtimeapi.Errorf(http.StatusConflict, "job_not_cancellable",
				fmt.Sprintf("job %q is already %s and cannot be cancelled", j.id, j.status)))
			return
		}
		s.finish(j, runtimeapi.StatusCancelled, "cancelled by the user", 0)
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleDeleteJob deletes a job (cancelling it first if it is not final).
func (s *Server) handleDeleteJob(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		if !runtimeapi.Final(j.status) {
			s.finish(j, runtimeapi.StatusCancelled, "deleted by the user", 0)
		}
		s.remove(j)
		w.WriteHeader(http.StatusNoContent)
	})
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprint(w, strings.Join(j.logs, "\n")+"\n")
	})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withJob(w, r, c, func(j *job) {
		usageStatus := "pending"
		if runtimeapi.Final(j.status) {
			usageStatus = "completed" // as the real service's metrics say once the usage is known
		}
		m := runtimeapi.JobMetrics{
			Timestamps: runtimeapi.MetricsTimestamps{Created: j.created, Running: j.running, Finished: j.finished},
			Bss:        map[string]any{"seconds": j.quantum},
			Usage: runtimeapi.MetricsUsage{Status: usageStatus, QuantumSeconds: j.quantum, Seconds: j.quantum,
				QPUChargeTimeSeconds: j.quantum},
			NumCircuits: len(j.prim.Pubs), QiskitVersion: "qgov-simulator", Caller: "qiskit_ibm_runtime",
			NumQubits: []int{}, CircuitDepths: []int{},
		}
		for _, p := range j.prim.Pubs {
			m.Executions += p.Size() * p.Shots
			m.NumQubits = append(m.NumQubits, len(p.Facts.ActiveQubits))
			m.CircuitDepths = append(m.CircuitDepths, p.Facts.Depth)
		}
		runtimeapi.WriteJSON(w, http.StatusOK, m)
	})
}

// handleTags replaces a job's tags and answers exactly 204.
func (s *Server) handleTags(w http.ResponseWriter, r *http.Request, c *caller) {
	var body struct {
		Tags *[]string `json:"tags"`
	}
	if err := decodeBody(r, &body); err != nil {
		fail(w, err)
		return
	}
	if body.Tags == nil {
		fail(w, runtimeapi.BadRequest("missing_tags", "the body must be {\"tags\": [...]}"))
		return
	}
	if err := runtimeapi.CheckTags(*body.Tags); err != nil {
		fail(w, runtimeapi.Wire(err))
		return
	}
	s.withJob(w, r, c, func(j *job) {
		j.tags = slices.Clone(*body.Tags)
		w.WriteHeader(http.StatusNoContent)
	})
}
