package audit

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/qgov/qgov/internal/testenv"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		query string
		want  func(*testing.T, Filter)
		err   string
	}{
		{query: "start_date=2026-01-01&end_date=2026-01-31&actions=job:submit,job:cancel&users=user-123&users=user-456",
			want: func(t *testing.T, f Filter) {
				assert.Equal(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), f.From)
				assert.Equal(t, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), f.To, "an end date includes its day")
				assert.Equal(t, []string{"quantum-computing.job.create", "quantum-computing.job.cancel"}, f.Actions)
				assert.Equal(t, []string{"user-123", "user-456"}, f.Users)
			}},
		{query: "actions=quantum-computing.program.update", want: func(t *testing.T, f Filter) {
			assert.Equal(t, []string{"quantum-computing.job.cancel", "quantum-computing.job.update"}, f.Actions)
		}},
		{query: "start_date=2026-02-01&end_date=2026-01-01", err: "inverted"},
		{query: "start_date=yesterday", err: "neither an RFC 3339 time nor a date"},
		{query: "actions=job:launch", err: `unknown action "job:launch"`},
		{query: "outcomes=maybe", err: `unknown outcome "maybe"`},
		{query: "categories=gossip", err: `unknown category "gossip"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			f, err := ParseFilter(v)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			tt.want(t, f)
		})
	}
}

// fill writes records of two tenants and waits until they are written.
func fill(t *testing.T, l *Log) {
	for i := 0; i < 10; i++ {
		commit(t, l, record("acme", "fatima", i))
		commit(t, l, record("globex", "hans", i))
	}
	commit(t, l, &Record{TenantID: "acme", UserID: "ravi", Action: "quantum-computing.job.cancel", Outcome: Denied, Code: "permission_denied"})
	waitWritten(t, l, 21)
}

// pageAll reads every page of a query.
func pageAll(t *testing.T, src Source, f Filter, size int) ([]Record, int) {
	var out []Record
	pages := 0
	for token := ""; ; {
		page, err := src.Query(context.Background(), f, token, size)
		require.NoError(t, err)
		pages++
		out = append(out, page.Logs...)
		if token = page.NextPageToken; token == "" {
			return out, pages
		}
	}
}

func TestQueryIsolatesTenantsAndPages(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { _ = client.Close() })
	dir := t.TempDir()
	l := openLog(t, dir, FileConfig{MaxSize: 2000, Fsync: FsyncNever}, []Sink{&RedisStream{Client: client, Node: "a"}}, Options{})
	fill(t, l)

	for name, src := range map[string]Source{"file": FileSource{dir}, "redis": &RedisStream{Client: client}} {
		t.Run(name, func(t *testing.T) {
			got, pages := pageAll(t, src, Filter{Tenant: "acme"}, 3)
			assert.Len(t, got, 11)
			assert.Equal(t, 4, pages)
			seen := map[string]bool{}
			for _, r := range got {
				assert.Equal(t, "acme", r.TenantID, "another tenant's record")
				assert.False(t, seen[r.AuditID], "a record twice across pages")
				seen[r.AuditID] = true
			}
			denied, _ := pageAll(t, src, Filter{Tenant: "acme", Outcomes: []string{Denied}, Users: []string{"ravi"}}, 10)
			require.Len(t, denied, 1)
			assert.Equal(t, "permission_denied", denied[0].Code)
			byJob, _ := pageAll(t, src, Filter{Tenant: "globex", ResourceID: "job-4"}, 10)
			require.Len(t, byJob, 1)
			assert.Equal(t, "hans", byJob[0].UserID)
			future, _ := pageAll(t, src, Filter{Tenant: "acme", From: time.Now().Add(time.Hour)}, 10)
			assert.Empty(t, future)
		})
	}
}
