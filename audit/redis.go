package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStream copies the trail to one Redis Stream per tenant,
// <prefix>{<tenant>} ("_" for records without a tenant), so that every
// replica's records can be read in one place. Each entry holds the sealed
// line (field "record") and the replica that wrote it (field "node").
// Delivery is at least once: a batch retried after a partial failure may
// repeat entries, which keep their audit_id.
type RedisStream struct {
	Client redis.UniversalClient
	// Prefix of the stream keys. Default "qgov:audit:".
	Prefix string
	// MaxLen trims each stream to about this many entries; 0 keeps all.
	MaxLen int64
	// Node names this replica.
	Node string
}

func (s *RedisStream) key(tenant string) string {
	prefix := s.Prefix
	if prefix == "" {
		prefix = "qgov:audit:"
	}
	if tenant == "" {
		tenant = "_"
	}
	return prefix + "{" + tenant + "}"
}

// Name implements Sink.
func (s *RedisStream) Name() string { return "redis" }

// Write implements Sink: one pipeline per batch.
func (s *RedisStream) Write(ctx context.Context, batch []Sealed) error {
	pipe := s.Client.Pipeline()
	for _, e := range batch {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.key(e.Record.TenantID), MaxLen: s.MaxLen, Approx: s.MaxLen > 0,
			Values: []any{"record", e.Line, "node", s.Node}})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("adding audit records to Redis: %w", err)
	}
	return nil
}

// Query implements Source over the tenant's stream; the filter must name
// the tenant. The token is the stream id of the last entry returned.
func (s *RedisStream) Query(ctx context.Context, f Filter, token string, size int) (Page, error) {
	start := "-"
	if !f.From.IsZero() {
		start = strconv.FormatInt(f.From.Add(-clockSkew).UnixMilli(), 10)
	}
	if token != "" {
		start = "(" + token
	}
	end := "+"
	if !f.To.IsZero() {
		end = strconv.FormatInt(f.To.Add(clockSkew).UnixMilli(), 10)
	}
	page := Page{Logs: []Record{}}
	key := s.key(f.Tenant)
	for {
		msgs, err := s.Client.XRangeN(ctx, key, start, end, int64(max(size, 100))).Result()
		if err != nil {
			return Page{}, fmt.Errorf("reading the audit stream: %w", err)
		}
		for _, m := range msgs {
			line, _ := m.Values["record"].(string)
			var r Record
			if json.Unmarshal([]byte(line), &r) != nil || !f.Match(&r) {
				continue
			}
			if len(page.Logs) == size {
				return page, nil
			}
			page.Logs = append(page.Logs, r)
			page.NextPageToken = m.ID
		}
		if len(msgs) == 0 {
			page.NextPageToken = ""
			return page, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// clockSkew widens a stream range beyond the records' own timestamps,
// which the gateway set before Redis stamped the entry.
const clockSkew = time.Minute
