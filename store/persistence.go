package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis is qgov's system of record when replicas share it: job ownership,
// holds, reservations and counters live only there. PersistenceProblems
// reads each server's settings (every master of a Cluster) and says what
// would lose such records: no persistence at all (appendonly no and no
// save points: a restart empties the server), and an eviction policy
// other than noeviction (under memory pressure Redis deletes keys).
func (r *Redis) PersistenceProblems(ctx context.Context) ([]string, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	check := func(ctx context.Context, c *redis.Client) error {
		cfg, err := c.ConfigGet(ctx, "*").Result() // one round trip; filtered below
		if err != nil {
			return fmt.Errorf("reading the configuration of redis %s (CONFIG GET): %w", c.Options().Addr, err)
		}
		var found []string
		if cfg["appendonly"] != "yes" && strings.TrimSpace(cfg["save"]) == "" {
			found = append(found, fmt.Sprintf("redis %s keeps nothing on disk (appendonly no, save \"\"): a restart loses job ownership, holds and counters; set appendonly yes", c.Options().Addr))
		}
		if p := cfg["maxmemory-policy"]; p != "noeviction" {
			found = append(found, fmt.Sprintf("redis %s has maxmemory-policy %s: under memory pressure it deletes job ownership, holds and counters; set maxmemory-policy noeviction", c.Options().Addr, p))
		}
		mu.Lock()
		problems = append(problems, found...)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		return nil, fmt.Errorf("redis client %T cannot be checked", r.client)
	}
	return problems, err
}
