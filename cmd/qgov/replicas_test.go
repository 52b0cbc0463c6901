package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/gateway"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/notify"
)

// webhookSecret signs the replicas' webhooks in TestTwoReplicas.
var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("two replicas share this 32B key!"))

// hookReceiver is a webhook receiver that can be down (503): it checks
// every delivery's signature and counts, by webhook-id, the messages it
// took, a message being taken when it answers a sender still there.
type hookReceiver struct {
	*httptest.Server
	down     atomic.Bool
	mu       sync.Mutex
	tries    int
	unsigned []string
	took     map[string]int
	events   map[string]string
	// ids are the message ids taken for each job (the data's job_id)
	ids map[string]map[string]bool
}

// newHookReceiver starts a receiver that takes each delivery after delay.
func newHookReceiver(t *testing.T, delay time.Duration) *hookReceiver {
	h := &hookReceiver{took: map[string]int{}, events: map[string]string{}, ids: map[string]map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(delay)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.tries++
		if r.Context().Err() != nil { // the sender went away: nothing was taken
			return
		}
		if err := testenv.VerifyStandardWebhook(webhookSecret, r.Header, body, time.Now()); err != nil {
			h.unsigned = append(h.unsigned, err.Error())
		}
		if h.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m notify.Message
		if json.Unmarshal(body, &m) != nil || m.ID != r.Header.Get("webhook-id") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.took[m.ID]++
		h.events[m.ID] = m.Event
		if job, _ := m.Data["job_id"].(string); job != "" {
			if h.ids[job] == nil {
				h.ids[job] = map[string]bool{}
			}
			h.ids[job][m.ID] = true
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// taken counts the messages of an event taken, and the most times one
// was taken.
func (h *hookReceiver) taken(event string) (messages, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.took {
		if h.events[id] == event {
			messages, most = messages+1, max(most, n)
		}
	}
	return messages, most
}

// traceparents records the trace ids of the job creations the upstream
// receives.
type traceparents struct {
	mu  sync.Mutex
	ids []string
}

func (tp *traceparents) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs") {
			if parts := strings.Split(r.Header.Get("traceparent"), "-"); len(parts) == 4 {
				tp.mu.Lock()
				tp.ids = append(tp.ids, parts[1])
				tp.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestTwoReplicas runs two gateway processes over one Redis, and over a
// Redis Cluster, with tracing, the audit stream and a signed webhook,
// and checks together what replicas promise:
//   - a traced submission's steps are spans of the trace the upstream
//     joins (exported by the OpenTelemetry SDK's stdout exporter);
//   - every step's latency histogram is at /metrics;
//   - approval requests sent while the receiver is down, with one
//     replica killed (SIGKILL) and restarted in between, all arrive,
//     each taken once by its webhook-id, every try signed;
//   - one replica at a time holds the reconciler's lease, sampled
//     throughout, across the kill and the restart;
//   - the tenant's audit query through either replica returns both
//     replicas' records, and each replica's own chain verifies.
func TestTwoReplicas(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) string
	}{
		{"redis", func(t *testing.T) string { return "store redis " + testenv.Redis(t) }},
		{"cluster", func(t *testing.T) string {
			return "store redis " + strings.Join(testenv.RedisCluster(t), " ") + " {\n\t\t\tcluster\n\t\t}"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { twoReplicas(t, tc.store(t)) })
	}
}

func twoReplicas(t *testing.T, storeLine string) {
	ctx := context.Background()
	up := &traceparents{}
	sim := startSimulator(t, up.wrap)
	hook := newHookReceiver(t, 0)
	hook.down.Store(true)
	rigs, admins := startReplicas(t, sim, storeLine, hook)

	// One replica at a time leads, sampled until the test ends.
	var leaders sync.Map // sample -> replicas leading at once
	sampling, sampled := make(chan struct{}), make(chan struct{})
	var samples atomic.Int32
	go func() {
		defer close(sampled)
		for {
			select {
			case <-sampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			n := 0
			for _, a := range admins {
				n += int(scrapeValue(a, "qgov_reconciler_leader"))
			}
			leaders.Store(samples.Add(1), n)
		}
	}()

	// Approval requests while the receiver is down: three held jobs
	// through each replica.
	for i := range 6 {
		_, err := rigs[i%2].client("fatima-key").Submit(ctx, crashJob("approval:yes"))
		require.NoError(t, err)
	}

	// A traced submission: its steps are spans of the trace the upstream
	// joined.
	created, err := rigs[0].client("fatima-key").Submit(ctx, crashJob())
	require.NoError(t, err)
	require.NotEmpty(t, created.ID)
	up.mu.Lock()
	require.Len(t, up.ids, 1, "one job went upstream")
	trace := up.ids[0]
	up.mu.Unlock()
	var names []string
	require.Eventually(t, func() bool {
		names = rigs[0].spans(trace)
		return len(names) > len(gateway.Steps)
	}, 10*time.Second, 50*time.Millisecond, "the submission's spans are exported")
	for _, step := range gateway.Steps {
		assert.Contains(t, names, "qgov."+string(step), "the %s step is a span of the upstream's trace", step)
	}
	assert.True(t, slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "redis ") }),
		"the submission's Redis calls are spans of its trace: %v", names)
	for _, a := range admins {
		body := scrape(t, a)
		for _, step := range gateway.Steps {
			assert.Contains(t, body, `qgov_step_duration_seconds_bucket{step="`+string(step)+`"`, "replica %s times %s", a, step)
		}
		for _, name := range []string{"qgov_notifications_pending ", "qgov_store_errors_total ", "qgov_reconciler_leader "} {
			assert.Contains(t, body, name)
		}
	}

	// Each replica refuses fatima once; the audit query through either
	// shows both refusals.
	var refusals []string
	for _, rig := range rigs {
		status, _, body, err := call(ctx, rig.client("fatima-key"), http.MethodGet, "/jobs/never-existed", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, status, string(body))
		var refusal runtimeapi.ErrorBody
		require.NoError(t, json.Unmarshal(body, &refusal))
		refusals = append(refusals, refusal.Trace)
	}
	for i, rig := range rigs {
		body := rig.govGet(t, "/governance/v1/audit/logs?outcomes=denied&users=fatima")
		for j, trace := range refusals {
			assert.Contains(t, body, trace, "replica %d's query shows replica %d's refusal", i, j)
		}
	}

	// Replica 0 dies and comes back while the receiver is still down;
	// then the receiver comes back.
	time.Sleep(500 * time.Millisecond)
	rigs[0].kill()
	time.Sleep(time.Second)
	rigs[0].start()
	time.Sleep(time.Second)
	hook.down.Store(false)
	require.Eventually(t, func() bool {
		n, _ := hook.taken("qgov.approval.requested")
		return n == 6
	}, 90*time.Second, 100*time.Millisecond, "every approval request arrives")
	time.Sleep(time.Second) // a duplicate would come now
	n, most := hook.taken("qgov.approval.requested")
	assert.Equal(t, 6, n)
	assert.Equal(t, 1, most, "each message taken once")
	hook.mu.Lock()
	assert.Empty(t, hook.unsigned, "every try is signed")
	assert.Greater(t, hook.tries, 6, "tries were refused while the receiver was down")
	hook.mu.Unlock()

	// Each approval request's sending is a span of its submission's
	// trace, and its tries spans of that trace, whichever replica made
	// them.
	sent, tried := map[string]bool{}, map[string]bool{}
	require.Eventually(t, func() bool {
		for _, rig := range rigs {
			for _, s := range rig.exported() {
				switch s.Name {
				case "qgov.notify":
					sent[s.SpanContext.TraceID] = true
				case "qgov.notify.deliver":
					tried[s.SpanContext.TraceID] = true
				}
			}
		}
		return len(sent) >= 6 && len(tried) > 0
	}, 10*time.Second, 100*time.Millisecond, "the sendings and tries are exported")
	for trace := range tried {
		assert.True(t, sent[trace], "a try in trace %s, which sent no message", trace)
	}

	require.Eventually(t, func() bool {
		return scrapeValue(admins[0], "qgov_reconciler_leader")+scrapeValue(admins[1], "qgov_reconciler_leader") == 1
	}, 10*time.Second, 50*time.Millisecond, "a replica leads")
	close(sampling)
	<-sampled
	leaders.Range(func(k, v any) bool {
		assert.LessOrEqual(t, v.(int), 1, "sample %d: one leader at most", k)
		return true
	})
	assert.Greater(t, samples.Load(), int32(20))

	for i, rig := range rigs {
		rig.kill()
		out, err := exec.Command(binary, "gov", "audit", "verify", filepath.Join(rig.dir, "audit")).CombinedOutput()
		assert.NoError(t, err, "replica %d's chain: %s", i, out)
		assert.Contains(t, string(out), "intact")
	}
}

// startReplicas starts two gateways over storeLine, each with tracing
// to stdout, the audit stream, an admin endpoint for its metrics, and the
// signed webhook hook that the held workflow notifies.
func startReplicas(t *testing.T, sim, storeLine string, hook *hookReceiver) (rigs []*crashRig, admins []string) {
	for range 2 {
		rig := newCrashRig(t, sim, storeLine)
		admin := freeAddr(t)
		rig.edit("admin off", "admin "+admin)
		rig.edit("audit {\n", "audit {\n\t\t\tstream\n")
		rig.edit("\t\tworkflow held {\n", "\t\tnotification_channel hook "+hook.URL+" {\n\t\t\tsecret {env.QGOV_TEST_WEBHOOK_SECRET}\n\t\t}\n"+
			"\t\tworkflow held {\n\t\t\tnotify hook\n")
		rig.edit("{\n\tqgov\n}", "{\n\ttracing {\n\t\tspan request\n\t}\n\tqgov\n}")
		rig.env = []string{"QGOV_TEST_WEBHOOK_SECRET=" + webhookSecret,
			"OTEL_TRACES_EXPORTER=console", "OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_SERVICE_NAME=qgov"}
		rig.start()
		rigs, admins = append(rigs, rig), append(admins, admin)
	}
	return rigs, admins
}

// TestNotificationsSurviveKills kills one of two replicas (SIGKILL) at
// random points while it holds jobs, and so sends their approval
// requests, to a receiver that takes 300 ms over each, then restarts it,
// trial after trial. Every job whose submission was answered has its
// request delivered, under one message id however many times it went,
// every try signed.
func TestNotificationsSurviveKills(t *testing.T) {
	const trials, perTrial = 4, 4
	sim := startSimulator(t, func(h http.Handler) http.Handler { return h })
	hook := newHookReceiver(t, 300*time.Millisecond)
	rigs, _ := startReplicas(t, sim, "store redis "+testenv.Redis(t), hook)
	ctx := context.Background()
	var (
		mu       sync.Mutex
		answered []string
	)
	for trial := range trials {
		var wg sync.WaitGroup
		for range perTrial {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if created, err := rigs[0].client("fatima-key").Submit(ctx, crashJob("approval:yes")); err == nil {
					mu.Lock()
					answered = append(answered, created.ID)
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(50+rand.IntN(400)) * time.Millisecond) // before, during or after its tries
		rigs[0].kill()
		wg.Wait()
		if trial < trials-1 {
			rigs[0].start()
		}
	}
	require.NotEmpty(t, answered)
	require.Eventually(t, func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		for _, id := range answered {
			if len(hook.ids[id]) == 0 {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond, "every answered hold's approval request arrives")
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, id := range answered {
		assert.Len(t, hook.ids[id], 1, "job %s's request is one message", id)
	}
	assert.Empty(t, hook.unsigned)
	t.Logf("%d holds answered over %d kills; %d messages taken, %d tries", len(answered), trials, len(hook.took), hook.tries)
}

// edit replaces text in the rig's configuration, once.
func (rig *crashRig) edit(old, new string) {
	cfg, err := os.ReadFile(rig.config)
	require.NoError(rig.t, err)
	require.Contains(rig.t, string(cfg), old)
	require.NoError(rig.t, os.WriteFile(rig.config, []byte(strings.Replace(string(cfg), old, new, 1)), 0o600))
}

// govGet reads a governance API path as audrey, the tenant's admin.
func (rig *crashRig) govGet(t *testing.T, path string) string {
	token, err := rig.client("audrey-key").Token(context.Background())
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, rig.gateway+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// exported is a span the gateway's OpenTelemetry stdout exporter wrote
// to its log.
type exported struct {
	Name        string
	SpanContext struct{ TraceID string }
}

// exported are the spans in the gateway's log.
func (rig *crashRig) exported() []exported {
	f, err := os.Open(rig.log.Name())
	require.NoError(rig.t, err)
	defer f.Close()
	var out []exported
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var span exported
		if json.Unmarshal(sc.Bytes(), &span) == nil && span.Name != "" && span.SpanContext.TraceID != "" {
			out = append(out, span)
		}
	}
	return out
}

// spans are the names of the spans of a trace in the gateway's log.
func (rig *crashRig) spans(trace string) []string {
	var names []string
	for _, s := range rig.exported() {
		if s.SpanContext.TraceID == trace {
			names = append(names, s.Name)
		}
	}
	return names
}

// scrape reads a replica's admin /metrics.
func scrape(t *testing.T, admin string) string {
	resp, err := http.Get("http://" + admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// scrapeValue is an unlabelled metric's value at a replica's admin
// /metrics, 0 when the replica does not answer.
func scrapeValue(admin, name string) float64 {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}
