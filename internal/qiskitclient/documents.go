package qiskitclient

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// What qiskit-ibm-runtime (0.46) requires of the job and session
// documents it reads; "hard" keys are indexed (d["k"]) and raise when
// missing, the others default.

// jobStatuses are the state.status values the client maps (runtime_job_v2.py);
// any other is uppercased and never counts as final, so polling never ends.
var jobStatuses = []string{"Queued", "Running", "Completed", "Failed", "Cancelled"}

// CheckJob checks a job document (GET /jobs/{id}, an entry of a list):
// id and a state object with a known status are hard; reason_code, when
// present, is an integer (1305 turns a cancellation into a timeout);
// created is a time the client reads as UTC whatever its offset says, so
// it must be UTC; program, when present, is an object; tags a list.
func CheckJob(doc map[string]any) error {
	if id, ok := doc["id"].(string); !ok || id == "" {
		return errors.New("id missing")
	}
	state, ok := doc["state"].(map[string]any)
	if !ok {
		return errors.New("state is not an object (the client indexes state)")
	}
	if status, _ := state["status"].(string); !slices.ContainsFunc(jobStatuses, func(s string) bool { return strings.EqualFold(s, status) }) {
		return fmt.Errorf("state.status %q is none the client maps", state["status"])
	}
	for _, key := range []string{"reason_code", "reasonCode"} {
		if v, ok := state[key]; ok {
			if f, ok := v.(float64); !ok || f != float64(int64(f)) {
				return fmt.Errorf("state.%s %v is not an integer", key, v)
			}
		}
	}
	if err := utc(doc, "created"); err != nil {
		return err
	}
	if v, ok := doc["program"]; ok {
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("program %v is not an object (the result decoder reads program.id)", v)
		}
	}
	if v, ok := doc["tags"]; ok {
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("tags %v is not a list", v)
		}
	}
	return nil
}

// CheckJobList checks GET /jobs: jobs and count are hard, and the client
// pages until it has count - skip jobs, so count must be a number no
// smaller than the page.
func CheckJobList(doc map[string]any) error {
	jobs, ok := doc["jobs"].([]any)
	if !ok {
		return errors.New("jobs is not a list")
	}
	count, ok := doc["count"].(float64)
	if !ok || int(count) < len(jobs) {
		return fmt.Errorf("count %v is not a number of at least the %d jobs listed", doc["count"], len(jobs))
	}
	for i, j := range jobs {
		entry, _ := j.(map[string]any)
		if err := CheckJob(entry); err != nil {
			return fmt.Errorf("jobs[%d]: %w", i, err)
		}
	}
	return nil
}

// CheckSession checks a session document as Session.from_id and Batch
// read it: mode (dedicated or batch), a state the client maps,
// accepting_jobs and a non-empty backend_name; times in UTC.
func CheckSession(doc map[string]any, mode string) error {
	if doc["mode"] != mode {
		return fmt.Errorf("mode %v, the client requires %q", doc["mode"], mode)
	}
	if state, _ := doc["state"].(string); !slices.Contains([]string{"open", "active", "inactive", "pending_inactive", "pending_closed", "closed"}, state) {
		return fmt.Errorf("state %v is none the client maps", doc["state"])
	}
	if _, ok := doc["accepting_jobs"].(bool); !ok {
		return errors.New("accepting_jobs is not a boolean (the client indexes it)")
	}
	if name, _ := doc["backend_name"].(string); name == "" {
		return errors.New("backend_name is empty (Session.from_id raises)")
	}
	for _, key := range []string{"started_at", "closed_at", "activated_at", "last_job_started", "last_job_completed"} {
		if err := utc(doc, key); err != nil {
			return err
		}
	}
	return nil
}

// utc checks that a time, when present and not null, is RFC 3339 in UTC.
func utc(doc map[string]any, key string) error {
	v, ok := doc[key]
	if !ok || v == nil {
		return nil
	}
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("%s %v: %w", key, v, err)
	}
	if _, off := t.Zone(); off != 0 {
		return fmt.Errorf("%s %s is not UTC: the client drops the offset and reads it as UTC", key, s)
	}
	return nil
}
