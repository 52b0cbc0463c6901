package qiskitclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/qgov/qgov/ibm/runtimeapi"
)

// BellCircuit is the Bell-pair sampler circuit of the session.
const BellCircuit = `OPENQASM 3.0;
include "stdgates.inc";
bit[2] c;
h $0;
cx $0, $1;
c[0] = measure $0;
c[1] = measure $1;`

// SlowCircuit measures a qubit mid-circuit so every shot is simulated on
// its own; with many shots on n qubits a job on it runs for a long time.
func SlowCircuit(n int) string {
	var b strings.Builder
	b.WriteString("OPENQASM 3.0;\nbit[2] c;\n")
	for q := 0; q < n; q++ {
		fmt.Fprintf(&b, "h $%d;\n", q)
	}
	b.WriteString("c[0] = measure $0;\nx $0;\nc[1] = measure $0;\n")
	return b.String()
}

// Report is what a Session observed.
type Report struct {
	Instances      []Instance
	Backend        string
	JobID          string
	Counts         map[string]int
	QuantumSeconds float64
	BatchJobs      []string
	Cancelled      string
}

// step wraps an error with the session step it happened in.
func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

func check(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// Session replays the calls a qiskit-ibm-runtime session makes, in its
// order, and checks every answer the client depends on (section 6 of the
// wire reference): IAM token, instance discovery, backends, configuration,
// properties, usage, status, a Sampler job on a Bell circuit polled to
// completion, results, list, metrics, tags, logs, a batch, cancel and
// delete. It returns the first contract violation.
func Session(ctx context.Context, c *Client) (*Report, error) {
	r := &Report{}
	if err := step("iam token", checkToken(ctx, c)); err != nil {
		return r, err
	}
	var err error
	if r.Instances, err = c.Instances(ctx); err != nil {
		return r, step("instance discovery", err)
	}
	if !slices.ContainsFunc(r.Instances, func(in Instance) bool { return in.CRN == c.CRN }) {
		return r, fmt.Errorf("instance discovery: %s is not among %v (the client raises IBMInputValueError)", c.CRN, r.Instances)
	}
	if r.Backend, err = pickBackend(ctx, c); err != nil {
		return r, step("backends", err)
	}
	if err := step("configuration", checkConfiguration(ctx, c, r.Backend)); err != nil {
		return r, err
	}
	if err := step("properties", checkProperties(ctx, c, r.Backend)); err != nil {
		return r, err
	}
	var usage map[string]any
	if err := c.JSON(ctx, http.MethodGet, "/instances/usage", nil, &usage); err != nil {
		return r, step("usage", err)
	}
	if err := step("usage", check(usage["usage_consumed_seconds"] != nil, "usage_consumed_seconds missing: %v", usage)); err != nil {
		return r, err
	}
	for _, key := range []string{"usage_limit_seconds", "usage_allocation_seconds"} {
		// service.usage() subtracts the consumed seconds from either when
		// it is there: null raises
		if v, ok := usage[key]; ok {
			if err := step("usage", check(isNumber(v), "%s is %v, not a number", key, v)); err != nil {
				return r, err
			}
		}
	}
	var status runtimeapi.BackendStatus
	if err := c.JSON(ctx, http.MethodGet, "/backends/"+r.Backend+"/status", nil, &status); err != nil {
		return r, step("status", err)
	}
	if err := step("status", check(status.State, "backend %s is not operational: %+v", r.Backend, status)); err != nil {
		return r, err
	}
	if err := step("sampler job", runBell(ctx, c, r)); err != nil {
		return r, err
	}
	if err := step("job list", checkList(ctx, c, r)); err != nil {
		return r, err
	}
	if err := step("metrics, tags and logs", checkJobExtras(ctx, c, r)); err != nil {
		return r, err
	}
	if err := step("batch", runBatch(ctx, c, r)); err != nil {
		return r, err
	}
	return r, step("cancel and delete", cancelAndDelete(ctx, c, r))
}

// checkToken requires a JWT whose payload has numeric iat and exp (the SDK
// decodes it to schedule refreshes).
func checkToken(ctx context.Context, c *Client) error {
	tr, err := c.ExchangeAPIKey(ctx)
	if err != nil {
		return err
	}
	parts := strings.Split(tr.AccessToken, ".")
	if len(parts) != 3 {
		return fmt.Errorf("access_token is not a JWT (%d segments)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("JWT payload: %w", err)
	}
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	return check(ok1 && ok2 && exp > iat, "iat and exp must be numeric with exp > iat: %v", claims)
}

// pickBackend chooses the first online, non-simulator device.
func pickBackend(ctx context.Context, c *Client) (string, error) {
	var list struct {
		Devices []struct {
			Name        string `json:"name"`
			IsSimulator bool   `json:"is_simulator"`
			Qubits      int    `json:"qubits"`
			QueueLength *int   `json:"queue_length"`
			Status      struct {
				Name string `json:"name"`
			} `json:"status"`
		} `json:"devices"`
	}
	if err := c.JSON(ctx, http.MethodGet, "/backends", nil, &list); err != nil {
		return "", err
	}
	for _, d := range list.Devices {
		if d.Name == "" || d.QueueLength == nil {
			return "", fmt.Errorf("device %+v lacks name or queue_length (least_busy reads them)", d)
		}
		if !d.IsSimulator && d.Status.Name == "online" {
			return d.Name, nil
		}
	}
	return "", errors.New("no online hardware backend")
}

// checkConfiguration fetches a backend's configuration and checks it as
// the client builds it.
func checkConfiguration(ctx context.Context, c *Client, backend string) error {
	var config map[string]any
	if err := c.JSON(ctx, http.MethodGet, "/backends/"+backend+"/configuration", nil, &config); err != nil {
		return err
	}
	return CheckConfiguration(config)
}

// CheckConfiguration applies what qiskit-ibm-runtime (0.46,
// models/backend_configuration.py and utils/backend_decoder.py) requires
// of a backend configuration. Any exception there makes
// service.backends() drop the backend with only a logged warning, so
// each rule here is a backend a user would silently not see:
//   - the keys QasmBackendConfiguration.__init__ takes without default;
//   - each gate entry is GateConfig(**entry): name, parameters and
//     qasm_def required, and only coupling_map, latency_map,
//     conditional and description besides;
//   - online_date goes through dateutil's isoparse;
//   - rep_delay_range is a flat [min, max] in µs: each bound is
//     multiplied by 1e-6, and IBMBackend reads [0] and [1];
//   - default_rep_delay (µs), dt and dtm (ns) and each of rep_times (µs)
//     are numbers the client scales;
//   - meas_map is a list of qubit lists, timing_constraints the keyword
//     arguments of Target.
func CheckConfiguration(config map[string]any) error {
	for _, key := range []string{"backend_name", "backend_version", "n_qubits", "basis_gates", "gates", "local",
		"simulator", "conditional", "open_pulse", "memory", "coupling_map", "online_date"} {
		if _, ok := config[key]; !ok {
			return fmt.Errorf("required key %q missing", key)
		}
	}
	allowed := map[string]bool{"name": true, "parameters": true, "qasm_def": true, "coupling_map": true,
		"latency_map": true, "conditional": true, "description": true}
	gates, ok := config["gates"].([]any)
	if !ok {
		return errors.New("gates is not a list")
	}
	for i, g := range gates {
		entry, _ := g.(map[string]any)
		for _, key := range []string{"name", "parameters", "qasm_def"} {
			if _, ok := entry[key]; !ok {
				return fmt.Errorf("gate entry %d lacks %q, which GateConfig requires", i, key)
			}
		}
		for key := range entry {
			if !allowed[key] {
				return fmt.Errorf("gate entry key %q makes the client drop the backend", key)
			}
		}
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(config["online_date"])); err != nil {
		return fmt.Errorf("online_date: %w", err)
	}
	if v, ok := config["rep_delay_range"]; ok {
		bounds, ok := v.([]any)
		if !ok || len(bounds) != 2 || !isNumber(bounds[0]) || !isNumber(bounds[1]) {
			return fmt.Errorf("rep_delay_range must be a flat [min, max] of numbers in µs, got %v", v)
		}
	}
	for _, key := range []string{"default_rep_delay", "dt", "dtm"} {
		if v, ok := config[key]; ok && !isNumber(v) {
			return fmt.Errorf("%s must be a number, got %v", key, v)
		}
	}
	if v, ok := config["rep_times"]; ok {
		times, ok := v.([]any)
		if !ok || !all(times, isNumber) {
			return fmt.Errorf("rep_times must be a list of numbers in µs, got %v", v)
		}
	}
	if v, ok := config["meas_map"]; ok {
		groups, ok := v.([]any)
		if !ok || !all(groups, func(g any) bool { qs, ok := g.([]any); return ok && all(qs, isNumber) }) {
			return fmt.Errorf("meas_map must be a list of qubit lists, got %v", v)
		}
	}
	if v, ok := config["timing_constraints"]; ok {
		tc, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("timing_constraints must be an object, got %v", v)
		}
		for key, val := range tc {
			if !slices.Contains([]string{"granularity", "min_length", "pulse_alignment", "acquire_alignment"}, key) || !isNumber(val) {
				return fmt.Errorf("timing_constraints.%s is not a numeric keyword of Target", key)
			}
		}
	}
	return nil
}

func isNumber(v any) bool {
	_, ok := v.(float64)
	return ok
}

func all(xs []any, ok func(any) bool) bool {
	for _, x := range xs {
		if !ok(x) {
			return false
		}
	}
	return true
}

// checkProperties applies BackendProperties.from_dict's rules: required
// keys and SI-prefixed units.
func checkProperties(ctx context.Context, c *Client, backend string) error {
	var props struct {
		BackendName    *string `json:"backend_name"`
		BackendVersion *string `json:"backend_version"`
		LastUpdate     *string `json:"last_update_date"`
		Qubits         [][]struct {
			Date, Name, Unit *string
			Value            *float64
		} `json:"qubits"`
		Gates []struct {
			Gate       string `json:"gate"`
			Qubits     []int  `json:"qubits"`
			Parameters []struct {
				Date, Name, Unit *string
				Value            *float64
			} `json:"parameters"`
		} `json:"gates"`
		General *[]any `json:"general"`
	}
	if err := c.JSON(ctx, http.MethodGet, "/backends/"+backend+"/properties", nil, &props); err != nil {
		return err
	}
	if props.BackendName == nil || props.BackendVersion == nil || props.LastUpdate == nil || props.General == nil || len(props.Qubits) == 0 || len(props.Gates) == 0 {
		return errors.New("backend_name, backend_version, last_update_date, qubits, gates and general are required")
	}
	units := map[string]bool{"": true, "s": true, "ms": true, "us": true, "ns": true, "Hz": true, "kHz": true, "MHz": true, "GHz": true}
	for q, params := range props.Qubits {
		for _, p := range params {
			if p.Date == nil || p.Name == nil || p.Unit == nil || p.Value == nil || !units[*p.Unit] {
				return fmt.Errorf("qubit %d: every entry needs date, name, an SI unit and value", q)
			}
		}
	}
	return nil
}

func runBell(ctx context.Context, c *Client, r *Report) error {
	params := map[string]any{"pubs": []any{[]any{BellCircuit, nil, nil}}, "options": map[string]any{}, "version": 2, "support_qiskit": true}
	raw, _ := json.Marshal(params)
	created, err := c.Submit(ctx, runtimeapi.JobRequest{ProgramID: "sampler", Backend: r.Backend, Params: raw})
	if err != nil {
		return err
	}
	if created.ID == "" || created.Backend != r.Backend {
		return fmt.Errorf("POST /jobs answered %+v: id and backend are required", created)
	}
	r.JobID = created.ID
	j, err := c.Wait(ctx, created.ID, 50*time.Millisecond)
	if err != nil {
		return err
	}
	if j.State.Status != runtimeapi.StatusCompleted {
		return fmt.Errorf("job %s ended %s: %s", j.ID, j.State.Status, j.State.Reason)
	}
	var doc map[string]any
	if err := c.JSON(ctx, http.MethodGet, "/jobs/"+created.ID, nil, &doc); err != nil {
		return err
	}
	if err := CheckJob(doc); err != nil {
		return fmt.Errorf("job %s: %w", created.ID, err)
	}
	res, err := c.Results(ctx, created.ID)
	if err != nil {
		return err
	}
	if r.Counts, err = SamplerCounts(res, 0, "c"); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	total := 0
	for outcome, n := range r.Counts {
		if outcome != "00" && outcome != "11" {
			return fmt.Errorf("a Bell pair never yields %s: %v", outcome, r.Counts)
		}
		total += n
	}
	return check(total == runtimeapi.DefaultShots, "shots null must mean %d shots, got %d", runtimeapi.DefaultShots, total)
}

func checkList(ctx context.Context, c *Client, r *Report) error {
	var list runtimeapi.JobList
	q := "/jobs?exclude_params=true&limit=10&backend=" + r.Backend + "&pending=false&program=sampler"
	var doc map[string]any
	if err := c.JSON(ctx, http.MethodGet, q, nil, &doc); err != nil {
		return err
	}
	if err := CheckJobList(doc); err != nil {
		return err
	}
	if err := c.JSON(ctx, http.MethodGet, q, nil, &list); err != nil {
		return err
	}
	if list.Count < len(list.Jobs) || !slices.ContainsFunc(list.Jobs, func(j runtimeapi.Job) bool { return j.ID == r.JobID }) {
		return fmt.Errorf("job %s missing or count %d inconsistent with %d jobs", r.JobID, list.Count, len(list.Jobs))
	}
	return nil
}

func checkJobExtras(ctx context.Context, c *Client, r *Report) error {
	var metrics runtimeapi.JobMetrics
	if err := c.JSON(ctx, http.MethodGet, "/jobs/"+r.JobID+"/metrics", nil, &metrics); err != nil {
		return err
	}
	// the client's job.usage() reads usage.qpu_charge_time_seconds, and 0
	// while usage.status is "pending" (or absent)
	if metrics.Usage.Status == "" || metrics.Usage.Status == "pending" || metrics.Usage.QuantumSeconds != metrics.Usage.QPUChargeTimeSeconds {
		return fmt.Errorf("metrics usage %+v: a finished job's usage is no longer pending, with quantum_seconds = qpu_charge_time_seconds", metrics.Usage)
	}
	r.QuantumSeconds = metrics.Usage.QuantumSeconds
	status, raw, err := c.Do(ctx, http.MethodPut, "/jobs/"+r.JobID+"/tags", map[string]any{"tags": []string{"qgov-session"}})
	if err != nil {
		return err
	}
	if status != http.StatusNoContent {
		return fmt.Errorf("PUT tags answered %d (%s); the client requires exactly 204", status, raw)
	}
	j, err := c.Job(ctx, r.JobID)
	if err != nil {
		return err
	}
	if !slices.Equal(j.Tags, []string{"qgov-session"}) {
		return fmt.Errorf("tags after update: %v", j.Tags)
	}
	status, raw, err = c.Do(ctx, http.MethodGet, "/jobs/"+r.JobID+"/logs", nil)
	if err != nil {
		return err
	}
	return check(status == http.StatusOK && len(raw) > 0, "logs answered %d with %d bytes", status, len(raw))
}

func runBatch(ctx context.Context, c *Client, r *Report) error {
	var sess runtimeapi.Session
	if err := c.JSON(ctx, http.MethodPost, "/sessions", runtimeapi.SessionRequest{Mode: "batch", Backend: r.Backend, Instance: c.CRN}, &sess); err != nil {
		return err
	}
	if sess.ID == "" {
		return errors.New("POST /sessions answered no id")
	}
	params, _ := json.Marshal(map[string]any{"pubs": []any{[]any{BellCircuit, nil, 100}}, "version": 2, "support_qiskit": true})
	for i := 0; i < 2; i++ {
		created, err := c.Submit(ctx, runtimeapi.JobRequest{ProgramID: "sampler", Backend: r.Backend, SessionID: sess.ID, Params: params})
		if err != nil {
			return err
		}
		r.BatchJobs = append(r.BatchJobs, created.ID)
	}
	if err := c.JSON(ctx, http.MethodPatch, "/sessions/"+sess.ID, map[string]any{"accepting_jobs": false}, nil); err != nil {
		return err
	}
	for _, id := range r.BatchJobs {
		j, err := c.Wait(ctx, id, 20*time.Millisecond)
		if err != nil {
			return err
		}
		if j.State.Status != runtimeapi.StatusCompleted || j.SessionID != sess.ID {
			return fmt.Errorf("batch job %s: %s in session %q", id, j.State.Status, j.SessionID)
		}
	}
	var doc map[string]any
	if err := c.JSON(ctx, http.MethodGet, "/sessions/"+sess.ID, nil, &doc); err != nil {
		return err
	}
	if err := CheckSession(doc, "batch"); err != nil {
		return err
	}
	if err := c.JSON(ctx, http.MethodGet, "/sessions/"+sess.ID, nil, &sess); err != nil {
		return err
	}
	return check(sess.Mode == "batch" && sess.State == "closed", "session after its jobs: mode %q state %q", sess.Mode, sess.State)
}

func cancelAndDelete(ctx context.Context, c *Client, r *Report) error {
	params, _ := json.Marshal(map[string]any{"pubs": []any{[]any{SlowCircuit(20), nil, 100000}}, "version": 2})
	created, err := c.Submit(ctx, runtimeapi.JobRequest{ProgramID: "sampler", Backend: r.Backend, Params: params})
	if err != nil {
		return err
	}
	r.Cancelled = created.ID
	if err := c.JSON(ctx, http.MethodPost, "/jobs/"+created.ID+"/cancel", nil, nil); err != nil {
		return err
	}
	j, err := c.Wait(ctx, created.ID, 20*time.Millisecond)
	if err != nil {
		return err
	}
	if j.State.Status != runtimeapi.StatusCancelled {
		return fmt.Errorf("cancelled job is %s", j.State.Status)
	}
	status, _, err := c.Do(ctx, http.MethodPost, "/jobs/"+created.ID+"/cancel", nil)
	if err != nil {
		return err
	}
	if status != http.StatusConflict {
		return fmt.Errorf("cancelling a final job answered %d; the client expects 409", status)
	}
	if err := c.JSON(ctx, http.MethodDelete, "/jobs/"+created.ID, nil, nil); err != nil {
		return err
	}
	status, _, err = c.Do(ctx, http.MethodGet, "/jobs/"+created.ID+"?exclude_params=true", nil)
	if err != nil {
		return err
	}
	return check(status == http.StatusNotFound, "a deleted job answered %d, not 404", status)
}
