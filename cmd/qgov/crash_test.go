package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/identity"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/simulator"
)

// crashConfig is a gateway in front of the simulator at simAddr whose
// workflow holds every job tagged "approval:yes" for amyra (team_lead
// of ml); audrey administers the tenant. Its reconciler passes every second, so a stopped replica's beat
// expires within three.
const crashConfig = `{
	admin off
	skip_install_trust
	storage file_system {{dir}}/caddy
	qgov {
		{{store}}
		audit {
			dir {{dir}}/audit
		}
		quotas {
			reconcile_interval 1s
			limits tenant default {
				max_concurrent_jobs 1000
			}
		}
		instance QR-ml {
			crn {{crn}}
			upstream http://{{sim}}/api/v1
			iam_url http://{{sim}}
			api_key {env.QGOV_CRASH_UPSTREAM_KEY}
			backends qgov_simulator
		}
		project ml {
			instances QR-ml
		}
		access_group ml {
			members fatima
			projects ml
			roles researcher
		}
		assign amyra team_lead project ml
		workflow held {
			trigger ` + "`tags.approval`" + `
			approvers role team_lead
			timeout_hours 24
		}
		api_key fatima {
			sha256 {{fatima}}
			user fatima
		}
		api_key amyra {
			sha256 {{amyra}}
			user amyra
		}
		assign audrey admin
		api_key audrey {
			sha256 {{audrey}}
			user audrey
		}
	}
}

http://{{gw}} {
	qgov
}
`

// crashRig is a gateway process that the test kills and restarts, over
// one store, in front of a simulator in the test's own process.
type crashRig struct {
	t       *testing.T
	dir     string
	config  string
	gateway string
	sim     string
	cmd     *exec.Cmd
	log     *os.File
	// env is added to the gateway's environment.
	env []string
}

// newCrashRig writes the gateway's configuration over storeLine ("" for
// the embedded store).
func newCrashRig(t *testing.T, sim, storeLine string) *crashRig {
	dir := t.TempDir()
	gw := freeAddr(t)
	if storeLine == "" {
		storeLine = "store bolt " + filepath.Join(dir, "qgov.db")
	}
	cfg := strings.NewReplacer("{{store}}", storeLine, "{{dir}}", dir, "{{sim}}", sim, "{{gw}}", gw, "{{crn}}", simulator.DemoCRN("qr-ml"),
		"{{fatima}}", identity.HashKey("fatima-key"), "{{amyra}}", identity.HashKey("amyra-key"),
		"{{audrey}}", identity.HashKey("audrey-key")).Replace(crashConfig)
	path := filepath.Join(dir, "Caddyfile")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	log, err := os.Create(filepath.Join(dir, "gateway.log"))
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	rig := &crashRig{t: t, dir: dir, config: path, gateway: "http://" + gw, sim: "http://" + sim, log: log}
	t.Cleanup(rig.kill)
	return rig
}

// start runs the gateway and waits until it serves.
func (rig *crashRig) start() {
	rig.cmd = rig.command("run")
	rig.cmd.Stdout, rig.cmd.Stderr = rig.log, rig.log
	require.NoError(rig.t, rig.cmd.Start())
	fatima := rig.client("fatima-key")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if fatima.JSON(context.Background(), http.MethodGet, "/backends", nil, nil) == nil {
			return
		}
	}
	out, _ := os.ReadFile(rig.log.Name())
	rig.t.Fatalf("the gateway did not start:\n%s", out[max(0, len(out)-4000):])
}

// command is the qgov command verb on the rig's configuration, with its
// environment and data directory.
func (rig *crashRig) command(verb string) *exec.Cmd {
	cmd := exec.Command(binary, verb, "--config", rig.config, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "QGOV_CRASH_UPSTREAM_KEY="+simulator.DemoAPIKey,
		"XDG_CONFIG_HOME="+rig.dir, "XDG_DATA_HOME="+rig.dir)
	cmd.Env = append(cmd.Env, rig.env...)
	return cmd
}

// kill stops the gateway with SIGKILL: nothing of it runs after.
func (rig *crashRig) kill() {
	if rig.cmd == nil || rig.cmd.Process == nil {
		return
	}
	_ = rig.cmd.Process.Signal(syscall.SIGKILL)
	_ = rig.cmd.Wait()
	rig.cmd = nil
}

// audited counts the audit records that contain text.
func (rig *crashRig) audited(text string) int {
	files, err := filepath.Glob(filepath.Join(rig.dir, "audit", "*"))
	require.NoError(rig.t, err)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(rig.t, err)
		n += bytes.Count(data, []byte(text))
	}
	return n
}

func (rig *crashRig) client(key string) *qiskitclient.Client {
	return &qiskitclient.Client{BaseURL: rig.gateway, APIKey: key, CRN: "QR-ml",
		HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// approve asks for a held job's approval as amyra; the answer may never
// come (the gateway is killed).
func (rig *crashRig) approve(ctx context.Context, amyra *qiskitclient.Client, id string) {
	token, err := amyra.Token(ctx)
	if err != nil {
		return
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rig.gateway+"/governance/v1/approvals/"+id,
		strings.NewReader(`{"decision":"approve","comment":"go"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// hold is what the approvals API shows of a held job.
type hold struct {
	Status   string `json:"status"`
	Upstream *struct {
		JobID       string `json:"job_id"`
		CancelledBy string `json:"cancelled_by"`
	} `json:"upstream"`
}

func (rig *crashRig) hold(ctx context.Context, amyra *qiskitclient.Client, id string) (hold, error) {
	var h hold
	token, err := amyra.Token(ctx)
	if err != nil {
		return h, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rig.gateway+"/governance/v1/approvals/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("approvals/%s: %d", id, resp.StatusCode)
	}
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

// startSimulator serves the simulator, wrapped by wrap, on a free
// address of the test's own process, which outlives every gateway it
// kills.
func startSimulator(t *testing.T, wrap func(http.Handler) http.Handler) string {
	cfg := simulator.Default()
	cfg.QueueSize = 1000
	sim, err := simulator.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	addr := freeAddr(t)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: wrap(sim)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return addr
}

// slowCreate answers the simulator's job creations after a random delay
// of up to 30 ms, once the job exists: the window in which a gateway
// killed has forwarded a job and not yet heard of it.
func slowCreate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/jobs") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestCrashAtAnyPoint kills a real gateway (SIGKILL) at random points
// while approvers release held jobs and users submit plain ones, the
// upstream slow to answer each creation, then restarts it over the same
// store, trial after trial. Once the last one has run a reconcile past
// the killed ones' beats: every approved job has exactly one upstream job
// carrying its tracking tag and ends Completed under the id its client
// was given (or still awaits a decision); every job the upstream holds is
// known to qgov and readable by its owner; and every concurrency slot is
// free again.
func TestCrashAtAnyPoint(t *testing.T) {
	const trials, perTrial = 20, 3
	simAddr := startSimulator(t, slowCreate)
	var err error

	rig := newCrashRig(t, simAddr, "")
	ctx := context.Background()
	fatima, amyra := rig.client("fatima-key"), rig.client("amyra-key")
	var (
		held     []string            // every held job's client id
		answered = map[string]bool{} // plain jobs whose id the client received
		mu       sync.Mutex
	)
	for trial := 0; trial < trials; trial++ {
		rig.start()
		var ids []string
		for range perTrial {
			created, err := fatima.Submit(ctx, crashJob("approval:yes"))
			require.NoError(t, err, "trial %d: holding a job", trial)
			ids = append(ids, created.ID)
		}
		held = append(held, ids...)
		var wg sync.WaitGroup
		for _, id := range held { // this trial's, and any an earlier kill left undecided
			wg.Add(1)
			go func() { defer wg.Done(); rig.approve(ctx, amyra, id) }()
		}
		for range perTrial {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if created, err := fatima.Submit(ctx, crashJob()); err == nil {
					mu.Lock()
					answered[created.ID] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
		rig.kill()
		wg.Wait()
	}

	rig.start()
	for _, id := range held { // the decisions a kill lost
		rig.approve(ctx, amyra, id)
	}
	upstream := &qiskitclient.Client{BaseURL: rig.sim, APIKey: simulator.DemoAPIKey, CRN: simulator.DemoCRN("qr-ml")}
	tagged := func(tag string) []string {
		var list runtimeapi.JobList
		require.NoError(t, upstream.JSON(ctx, http.MethodGet, "/jobs?limit=200&tags="+tag, nil, &list))
		var ids []string
		for _, j := range list.Jobs {
			ids = append(ids, j.ID)
		}
		return ids
	}
	for _, id := range held {
		var h hold
		require.Eventually(t, func() bool {
			h, err = rig.hold(ctx, amyra, id)
			return err == nil && h.Upstream != nil
		}, 60*time.Second, 200*time.Millisecond, "held job %s is released and its forward finished: %+v, %v", id, h, err)
		assert.Equal(t, "released", h.Status, id)
		assert.Equal(t, []string{h.Upstream.JobID}, tagged(runtimeapi.TrackTag(id)), "exactly one upstream job carries the tag of %s", id)
		job, err := fatima.Wait(ctx, id, 50*time.Millisecond)
		require.NoError(t, err, id)
		assert.Equal(t, runtimeapi.StatusCompleted, job.Status, "%s ends Completed under its client's id", id)
	}

	var all runtimeapi.JobList
	require.NoError(t, upstream.JSON(ctx, http.MethodGet, "/jobs?limit=1000", nil, &all))
	isHold := map[string]bool{}
	for _, id := range held {
		isHold[runtimeapi.TrackTag(id)] = true
	}
	plain := 0
	for _, j := range all.Jobs {
		if slices.ContainsFunc(j.Tags, func(tag string) bool { return isHold[tag] }) {
			continue
		}
		plain++
		require.Eventually(t, func() bool {
			_, err := fatima.Job(ctx, j.ID)
			return err == nil
		}, 30*time.Second, 200*time.Millisecond, "upstream job %s (tags %v) is known to qgov and its owner's", j.ID, j.Tags)
		delete(answered, j.ID)
	}
	assert.Empty(t, answered, "every job a client was given exists upstream")
	tookOver, followed := rig.audited("forward finished by replica"), rig.audited(`"action":"qgov.job.follow_up"`)
	t.Logf("%d trials: %d held jobs released once each (%d forwards finished by another process), %d plain jobs upstream (%d submissions finished by another process)",
		trials, len(held), tookOver, plain, followed)
	assert.Positive(t, tookOver, "some kills landed mid-release")
	assert.Positive(t, followed, "some kills landed mid-submission")

	require.Eventually(t, func() bool {
		var usage struct {
			Qgov struct {
				Limits []struct {
					Limit string `json:"limit"`
					Used  int64  `json:"used"`
				} `json:"limits"`
			} `json:"qgov"`
		}
		if fatima.JSON(ctx, http.MethodGet, "/instances/usage", nil, &usage) != nil {
			return false
		}
		for _, l := range usage.Qgov.Limits {
			if l.Limit == "max_concurrent_jobs" {
				return l.Used == 0
			}
		}
		return false
	}, 60*time.Second, 250*time.Millisecond, "every concurrency slot is free again")
}

// crashJob is a small sampler job on the simulator.
func crashJob(tags ...string) runtimeapi.JobRequest {
	params := fmt.Sprintf(`{"pubs":[[%q,null,16]],"version":2}`, `OPENQASM 3.0; include "stdgates.inc"; bit[1] c; x $0; c[0] = measure $0;`)
	return runtimeapi.JobRequest{ProgramID: "sampler", Backend: "qgov_simulator", Params: json.RawMessage(params), Tags: tags}
}

// TestValidateBesideARunningGateway validates the configuration of a
// gateway that runs on the same data directory: validation opens neither
// the store nor the audit trail, so it neither waits for their locks nor
// leaves files behind.
func TestValidateBesideARunningGateway(t *testing.T) {
	sim := startSimulator(t, func(h http.Handler) http.Handler { return h })

	fresh := newCrashRig(t, sim, "")
	out, err := fresh.command("validate").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NoFileExists(t, filepath.Join(fresh.dir, "qgov.db"), "validation creates no store")
	assert.NoDirExists(t, filepath.Join(fresh.dir, "audit"), "nor an audit trail")

	rig := newCrashRig(t, sim, "")
	rig.start()
	validate := rig.command("validate")
	began := time.Now()
	out, err = validate.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Less(t, time.Since(began), 5*time.Second, "validation waits for no lock")
	_, err = rig.client("fatima-key").Submit(context.Background(), crashJob())
	assert.NoError(t, err, "the running gateway is untouched")
}
