package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/notify"
	"github.com/qgov/qgov/org"
	"github.com/qgov/qgov/quota"
	"github.com/qgov/qgov/rbac"
)

func TestSimulatorCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  Simulator
		err   string
	}{
		{input: "qgov_simulator", want: Simulator{}},
		{input: "qgov_simulator sim.json", want: Simulator{ConfigFile: "sim.json"}},
		{input: "qgov_simulator {\n config sim.json\n max_qubits 20\n workers 3\n queue_size 5000\n}", want: Simulator{ConfigFile: "sim.json", MaxQubits: 20, Workers: 3, QueueSize: 5000}},
		{input: "qgov_simulator a.json b.json", err: "wrong argument count"},
		{input: "qgov_simulator {\n max_qubits many\n}", err: `max_qubits must be a positive integer, got "many"`},
		{input: "qgov_simulator {\n workers 0\n}", err: "workers must be a positive integer"},
		{input: "qgov_simulator {\n config\n}", err: "wrong argument count"},
		{input: "qgov_simulator {\n max_qubits 4 5\n}", err: "wrong argument count"},
		{input: "qgov_simulator {\n qubits 4\n}", err: `unrecognized qgov_simulator option "qubits"`},
	} {
		t.Run(tc.input, func(t *testing.T) {
			var got Simulator
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestCaddyfileAdapt compares each testdata/caddyfile_adapt fixture
// ("Caddyfile ---------- JSON") with the adapter's output.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		caddyfileText, want, ok := strings.Cut(string(raw), "----------")
		require.True(t, ok, "%s: no ---------- separator", f)
		assert.True(t, caddytest.CompareAdapt(t, f, caddyfileText, "caddyfile", strings.TrimSpace(want)), f)
	}
}

// TestExampleAdapts keeps Caddyfile.example loadable.
func TestExampleAdapts(t *testing.T) {
	raw, err := os.ReadFile("../Caddyfile.example")
	require.NoError(t, err)
	adapted, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(raw, map[string]any{"filename": "Caddyfile.example"})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Contains(t, string(adapted), `"handler":"qgov_simulator"`)
}

func TestAppCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		check       func(t *testing.T, a *App)
		err         string
	}{
		{name: "redis store", input: "qgov {\n store redis 10.0.0.1:6379 {\n addrs 10.0.0.2:6379\n master_name m\n username u\n password {env.REDIS_PW}\n db 2\n tls\n key_prefix x:\n }\n token_ttl 15m\n issuer gw\n max_body_size 1MiB\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, &StoreConfig{Backend: "redis", Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379"}, MasterName: "m", Username: "u",
					Password: "{env.REDIS_PW}", DB: 2, TLS: true, KeyPrefix: "x:"}, a.Store)
				assert.Equal(t, caddy.Duration(15*time.Minute), a.TokenTTL)
				assert.Equal(t, "gw", a.Issuer)
				assert.EqualValues(t, 1<<20, a.MaxBodySize)
			}},
		{name: "redis for production", input: "qgov {\n store redis cfg.example:6379 {\n cluster\n tls_ca ca.pem\n tls_cert client.pem client-key.pem\n tls_server_name redis.example\n pool_size 32\n dial_timeout 2s\n }\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, &StoreConfig{Backend: "redis", Addrs: []string{"cfg.example:6379"}, Cluster: true, TLSCA: "ca.pem", TLSCert: "client.pem", TLSKey: "client-key.pem",
					TLSServerName: "redis.example", PoolSize: 32, DialTimeout: caddy.Duration(2 * time.Second)}, a.Store)
			}},
		{name: "objects", input: "qgov {\n instance QR-a {\n crn c\n tenant t\n upstream u\n iam_url i\n api_key {env.K}\n plan open\n backends b1 b2\n }\n project p {\n tenant t\n instances QR-a\n }\n api_key k {\n sha256 abc\n user u\n name \"U U\"\n email u@x\n tenant t\n projects p q\n }\n}",
			check: func(t *testing.T, a *App) {
				require.Len(t, a.Instances, 1)
				assert.Equal(t, "QR-a", a.Instances[0].Alias)
				assert.Equal(t, []string{"b1", "b2"}, a.Instances[0].Backends)
				assert.Equal(t, "{env.K}", a.Instances[0].APIKey)
				assert.Equal(t, []string{"QR-a"}, a.Projects[0].Instances)
				assert.Equal(t, "U U", a.APIKeys[0].Name)
				assert.Equal(t, []string{"p", "q"}, a.APIKeys[0].Projects)
			}},
		{name: "identity", input: "qgov {\n public_url https://gw.example\n signing_key_rotation 12h\n tenant acme {\n mfa_required\n api_key_creation\n session_idle 15m\n session_max 8h\n ip_allowlist 10.0.0.0/8 2001:db8::/32\n ip_mode audit\n default_backend simulator\n default_shots 1024\n max_shots 100000\n require_job_approval 100\n allow_priority_queue\n user_list_visible\n notification_channels email slack\n }\n identity_provider appid {\n issuer https://idp.example/oauth/v4/t\n client_id c\n client_secret {env.S}\n audiences c other\n algorithms RS256\n clock_skew 1m\n tenant acme\n claim user email\n }\n identity_provider ibm {\n type iam\n accounts acct\n }\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, "https://gw.example", a.PublicURL)
				assert.Equal(t, caddy.Duration(12*time.Hour), a.SigningKeyRotation)
				assert.Equal(t, org.TenantSettings{Name: "acme", MFARequired: true, APIKeyCreation: true, SessionIdleSeconds: 900, SessionMaxSeconds: 28800,
					IPAllowlist: []string{"10.0.0.0/8", "2001:db8::/32"}, IPMode: "audit", DefaultBackend: "simulator", DefaultShots: 1024, MaxShots: 100000,
					RequireJobApproval: true, ApprovalThresholdUSD: 100, AllowPriorityQueue: true, UserListVisible: true,
					NotificationChannels: []string{"email", "slack"}, Source: "Testfile:4"}, a.Tenants[0])
				p := a.IdentityProviders[0]
				assert.Equal(t, "{env.S}", p.ClientSecret)
				assert.Equal(t, 60, p.ClockSkewSeconds)
				assert.Equal(t, "email", p.Claims.User)
				assert.Equal(t, "iam", a.IdentityProviders[1].Type)
			}},
		{name: "organisation", input: "qgov {\n project research\n project ml {\n parent research\n cost_center CC-1\n grant_id G-1\n display_name \"Quantum ML\"\n instances QR-a\n resource_groups rg\n }\n role MLwriter {\n description \"writes\"\n inherits MLreader\n permissions quantum-computing.job.cancel job:view:own\n limits {\n max_shots_per_job 1000\n backends simulator\n }\n }\n access_group project-ml {\n provider appid\n rule project has_word ml\n rule groups in a b\n members fatima\n projects ml\n instances QR-a\n roles MLwriter\n }\n assign admin admin\n assign tom team_lead project ml expires 2026-12-31\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, org.Project{Name: "ml", Parent: "research", CostCenter: "CC-1", GrantID: "G-1", DisplayName: "Quantum ML",
					Instances: []string{"QR-a"}, ResourceGroups: []string{"rg"}, Source: "Testfile:3"}, a.Projects[1])
				max := 1000
				assert.Equal(t, rbac.RoleConfig{Name: "MLwriter", Description: "writes", Inherits: []string{"MLreader"},
					Permissions: []string{"quantum-computing.job.cancel", "job:view:own"}, Limits: &quota.Limits{MaxShotsPerJob: &max, AllowedBackends: []string{"simulator"}},
					Source: "Testfile:11"}, a.Roles[0])
				assert.Equal(t, org.AccessGroup{Name: "project-ml", Members: []string{"fatima"}, Projects: []string{"ml"}, Instances: []string{"QR-a"},
					Roles: []string{"MLwriter"}, Source: "Testfile:20", Rules: []org.Rule{
						{Provider: "appid", Claim: "project", Operator: "has_word", Value: "ml"},
						{Provider: "appid", Claim: "groups", Operator: "in", Values: []string{"a", "b"}}}}, a.AccessGroups[0])
				assert.Equal(t, org.Assignment{User: "admin", Role: "admin", Source: "Testfile:29"}, a.Assignments[0])
				assert.Equal(t, "2027-01-01T00:00:00Z", a.Assignments[1].ExpiresAt.Format(time.RFC3339))
				assert.Equal(t, "ml", a.Assignments[1].Project)
			}},
		{name: "quotas", input: "qgov {\n quotas {\n limits tenant lab {\n max_jobs_per_day 500\n allowed_backends simulator ibm_brisbane\n }\n" +
			" limits user fatima {\n tenant lab\n max_jobs_per_day 900\n raise\n }\n budget project ml {\n tenant lab\n monthly_limit_usd 1000.50\n alert_threshold_percent 75\n }\n" +
			" price ibm_brisbane 1.75\n default_price 2\n fail_mode budget open\n reconcile_interval 5s\n store_timeout 200ms\n }\n notification_channel slack {env.SLACK}\n}",
			check: func(t *testing.T, a *App) {
				q := a.Quotas
				require.NotNil(t, q)
				require.Len(t, q.Limits, 2)
				assert.Equal(t, quota.ScopeTenant, q.Limits[0].Scope)
				assert.Equal(t, 500, *q.Limits[0].MaxJobsPerDay)
				assert.Equal(t, []string{"simulator", "ibm_brisbane"}, q.Limits[0].AllowedBackends)
				assert.Equal(t, "lab", q.Limits[1].Tenant)
				assert.True(t, q.Limits[1].Raise)
				assert.Equal(t, quota.Budget{Scope: "project", Tenant: "lab", Name: "ml", MonthlyLimitUSD: 1000.50, AlertThresholdPercent: 75, Source: q.Budgets[0].Source}, q.Budgets[0])
				assert.Equal(t, map[string]float64{"ibm_brisbane": 1.75}, q.Prices)
				assert.Equal(t, 2.0, *q.DefaultPrice)
				assert.Equal(t, map[string]string{"budget": "open"}, q.FailModes)
				assert.Equal(t, caddy.Duration(5*time.Second), q.ReconcileInterval)
				assert.Equal(t, caddy.Duration(200*time.Millisecond), q.StoreTimeout)
				assert.Equal(t, []notify.Channel{{Name: "slack", URL: "{env.SLACK}"}}, a.NotificationChannels)
			}},
		{name: "audit", input: "qgov {\n audit {\n fsync decisions\n sync_interval 500ms\n fold_reads 5s\n }\n}",
			check: func(t *testing.T, a *App) {
				assert.Equal(t, "decisions", a.Audit.Fsync)
				assert.Equal(t, caddy.Duration(5*time.Second), a.Audit.FoldReads)
			}},
		{name: "audit folding no reads", input: "qgov {\n audit {\n fold_reads off\n }\n}",
			check: func(t *testing.T, a *App) { assert.Negative(t, a.Audit.FoldReads) }},
		{name: "audit fold window", input: "qgov {\n audit {\n fold_reads often\n }\n}", err: `"often" is not a duration`},
		{name: "quotas twice", input: "qgov {\n quotas\n quotas\n}", err: "quotas is configured twice"},
		{name: "limits without a name", input: "qgov {\n quotas {\n limits user\n }\n}", err: "wrong argument count"},
		{name: "unknown budget option", input: "qgov {\n quotas {\n budget tenant t {\n monthly 5\n }\n }\n}", err: `unrecognized budget option "monthly"`},
		{name: "bad price", input: "qgov {\n quotas {\n price ibm_x free\n }\n}", err: `"free" is not a non-negative amount of USD`},
		{name: "unknown quotas option", input: "qgov {\n quotas {\n ceiling 5\n }\n}", err: `unrecognized quotas option "ceiling"`},
		{name: "rule too short", input: "qgov {\n access_group g {\n rule project has_word\n }\n}", err: "rule syntax"},
		{name: "rule with two values", input: "qgov {\n access_group g {\n rule project equals a b\n }\n}", err: "takes one value"},
		{name: "assign without role", input: "qgov {\n assign fatima\n}", err: "assign syntax"},
		{name: "assign bad expiry", input: "qgov {\n assign fatima viewer expires someday\n}", err: `"someday" is neither`},
		{name: "assign unknown option", input: "qgov {\n assign fatima viewer until 2027-01-01\n}", err: `unknown option "until"`},
		{name: "unknown limit", input: "qgov {\n role r {\n limits {\n max_qpus 2\n }\n }\n}", err: `unrecognized limit "max_qpus"`},
		{name: "negative limit", input: "qgov {\n role r {\n limits {\n max_jobs_per_day -1\n }\n }\n}", err: "not a non-negative integer"},
		{name: "unknown group option", input: "qgov {\n access_group g {\n owner x\n }\n}", err: `unrecognized access_group option "owner"`},
		{name: "missing org file", input: "qgov {\n org_file nowhere.yaml\n}", err: "org_file: reading organisation file"},
		{name: "unknown claim field", input: "qgov {\n identity_provider x {\n claim role r\n }\n}", err: `unknown field "role"`},
		{name: "bad session duration", input: "qgov {\n tenant t {\n session_idle forever\n }\n}", err: "session_idle"},
		{name: "unknown tenant option", input: "qgov {\n tenant t {\n colour blue\n }\n}", err: `unrecognized tenant option "colour"`},
		{name: "unknown option", input: "qgov {\n colour blue\n}", err: `unrecognized qgov option "colour"`},
		{name: "unknown store", input: "qgov {\n store sqlite\n}", err: `unknown store backend "sqlite"`},
		{name: "redis without address", input: "qgov {\n store redis\n}", err: "at least one address"},
		{name: "tls_cert without its key", input: "qgov {\n store redis r:6379 {\n tls_cert client.pem\n }\n}", err: "tls_cert takes"},
		{name: "bad pool size", input: "qgov {\n store redis r:6379 {\n pool_size 0\n }\n}", err: "pool_size"},
		{name: "bad ttl", input: "qgov {\n token_ttl soon\n}", err: "token_ttl"},
		{name: "bad size", input: "qgov {\n max_body_size lots\n}", err: "max_body_size"},
		{name: "nameless instance", input: "qgov {\n instance {\n crn c\n }\n}", err: "instance needs a name"},
		{name: "unknown instance option", input: "qgov {\n instance a {\n region x\n }\n}", err: `unrecognized instance option "region"`},
		{name: "unknown key option", input: "qgov {\n api_key a {\n role admin\n }\n}", err: `unrecognized api_key option "role"`},
		{name: "arguments", input: "qgov extra", err: "wrong argument count"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := parseApp(caddyfile.NewTestDispenser(tc.input), nil)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			var a App
			require.NoError(t, json.Unmarshal(v.(httpcaddyfile.App).Value, &a))
			tc.check(t, &a)
		})
	}
}
