package simulator

import (
	"fmt"
	"net/http"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// maxSessionTTL is the longest a session or batch may stay open, seconds.
const maxSessionTTL = 28800

// session is a dedicated session or a batch.
type session struct {
	id            string
	inst          *instance
	backend       *backend
	mode          string
	maxTTL        int
	created       time.Time
	activated     *time.Time
	closedAt      *time.Time
	lastStarted   *time.Time
	lastCompleted *time.Time
	accepting     bool
}

// pendingJobs counts the session's queued and running jobs; s.mu must be
// held.
func (s *Server) pendingJobs(sess *session) int {
	n := 0
	for _, id := range sess.inst.jobIDs {
		if j := s.jobs[id]; j != nil && j.sessionID == sess.id && !runtimeapi.Final(j.status) {
			n++
		}
	}
	return n
}

// state derives the session's state; s.mu must be held. A session closes
// when its max_ttl passes, when it is cancelled, or when it stops accepting
// jobs and has none left.
func (s *Server) state(sess *session, now time.Time) string {
	if sess.closedAt == nil && now.Sub(sess.created) > time.Duration(sess.maxTTL)*time.Second {
		expired := sess.created.Add(time.Duration(sess.maxTTL) * time.Second)
		sess.closedAt, sess.accepting = &expired, false
	}
	pending := s.pendingJobs(sess)
	switch {
	case sess.closedAt != nil:
		return "closed"
	case !sess.accepting && pending == 0:
		closed := now
		sess.closedAt = &closed
		return "closed"
	case pending > 0:
		return "active"
	case sess.activated == nil:
		return "open"
	}
	return "inactive"
}

// document renders the session; s.mu must be held.
func (s *Server) sessionDocument(sess *session) runtimeapi.Session {
	now := s.now()
	state := s.state(sess, now)
	d := runtimeapi.Session{
		ID: sess.id, BackendName: sess.backend.Name, Mode: sess.mode, State: state,
		AcceptingJobs: sess.accepting && state != "closed", InteractiveTTL: 60, MaxTTL: sess.maxTTL,
		ActiveTTL: sess.maxTTL, StartedAt: &sess.created, ActivatedAt: sess.activated, ClosedAt: sess.closedAt,
		LastJobStarted: sess.lastStarted, LastJobCompleted: sess.lastCompleted, CreatedAt: sess.created,
	}
	if sess.activated != nil {
		end := now
		if sess.closedAt != nil {
			end = *sess.closedAt
		}
		d.ElapsedTime = end.Sub(*sess.activated).Seconds()
	}
	return d
}

// attachSession checks a job's session_id and fills in the session's
// backend when the job names none.
func (s *Server) attachSession(j *job, backendName *string) *runtimeapi.Error {
	if j.sessionID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[j.sessionID]
	if !ok || sess.inst != j.inst {
		return runtimeapi.BadRequest("session_not_found", "session %q not found", j.sessionID)
	}
	if s.state(sess, s.now()) == "closed" || !sess.accepting {
		return runtimeapi.BadRequest("session_closed", "session %q is closed and accepts no more jobs", j.sessionID)
	}
	if *backendName == "" {
		*backendName = sess.backend.Name
	} else if *backendName != sess.backend.Name {
		return runtimeapi.BadRequest("session_backend_mismatch", "session %q runs on %s, not %s", j.sessionID, sess.backend.Name, *backendName)
	}
	return nil
}

// sessionStarted records a job start in its session; s.mu must be held.
func (s *Server) sessionStarted(j *job, now time.Time) {
	if sess := s.sessions[j.sessionID]; sess != nil {
		if sess.activated == nil {
			sess.activated = &now
		}
		sess.lastStarted = &now
	}
}

// sessionFinished records a job end in its session; s.mu must be held.
func (s *Server) sessionFinished(j *job, now time.Time) {
	if sess := s.sessions[j.sessionID]; sess != nil && j.running != nil {
		sess.lastCompleted = &now
	}
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, c *caller) {
	var req runtimeapi.SessionRequest
	if err := decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	switch {
	case req.Mode != "dedicated" && req.Mode != "batch":
		fail(w, runtimeapi.BadRequest("invalid_mode", "mode must be \"dedicated\" or \"batch\", got %q", req.Mode))
		return
	case req.Backend == "":
		fail(w, runtimeapi.BadRequest("missing_backend", "backend is required"))
		return
	case req.Instance != "" && req.Instance != c.inst.CRN && req.Instance != c.inst.Name:
		fail(w, runtimeapi.BadRequest("instance_mismatch", "instance %q does not match the Service-CRN header", req.Instance))
		return
	case req.MaxTTL < 0 || req.MaxTTL > maxSessionTTL:
		fail(w, runtimeapi.BadRequest("invalid_max_ttl", "max_ttl must be 1 to %d seconds", maxSessionTTL))
		return
	}
	b, err := s.backendFor(c.inst, req.Backend)
	if err != nil {
		err.Status = http.StatusBadRequest
		fail(w, err)
		return
	}
	sess := &session{id: newID(), inst: c.inst, backend: b, mode: req.Mode, maxTTL: req.MaxTTL, created: s.now(), accepting: true}
	if sess.maxTTL == 0 {
		sess.maxTTL = maxSessionTTL
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.id] = sess
	runtimeapi.WriteJSON(w, http.StatusOK, s.sessionDocument(sess))
}

// withSession runs fn on the caller's session with s.mu held.
func (s *Server) withSession(w http.ResponseWriter, r *http.Request, c *caller, fn func(*session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[r.PathValue("id")]
	if !ok || sess.inst != c.inst {
		fail(w, runtimeapi.Errorf(http.StatusNotFound, "session_not_found", fmt.Sprintf("session %q not found", r.PathValue("id"))))
		return
	}
	fn(sess)
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withSession(w, r, c, func(sess *session) {
		runtimeapi.WriteJSON(w, http.StatusOK, s.sessionDocument(sess))
	})
}

// handleUpdateSession serves PATCH {"accepting_jobs": bool}.
func (s *Server) handleUpdateSession(w http.ResponseWriter, r *http.Request, c *caller) {
	var req runtimeapi.SessionUpdate
	if err := decodeBody(r, &req); err != nil {
		fail(w, err)
		return
	}
	if req.AcceptingJobs == nil {
		fail(w, runtimeapi.BadRequest("missing_accepting_jobs", "the body must be {\"accepting_jobs\": false}"))
		return
	}
	s.withSession(w, r, c, func(sess *session) {
		if *req.AcceptingJobs && s.state(sess, s.now()) == "closed" {
			fail(w, runtimeapi.Errorf(http.StatusConflict, "session_closed", fmt.Sprintf("session %q is closed and cannot be reopened", sess.id)))
			return
		}
		sess.accepting = *req.AcceptingJobs
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleCloseSession cancels the session's queued and running jobs and
// closes it.
func (s *Server) handleCloseSession(w http.ResponseWriter, r *http.Request, c *caller) {
	s.withSession(w, r, c, func(sess *session) {
		for _, id := range sess.inst.jobIDs {
			if j := s.jobs[id]; j != nil && j.sessionID == sess.id {
				s.finish(j, runtimeapi.StatusCancelled, "the session was cancelled", 0)
			}
		}
		if sess.closedAt == nil {
			now := s.now()
			sess.closedAt = &now
		}
		sess.accepting = false
		w.WriteHeader(http.StatusNoContent)
	})
}
