package store

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// errorCount is a go-redis hook that counts the calls that failed: the
// server refused them, did not answer in time, or could not be reached
// (failing fast while the breaker is open included). An absent key, a
// script the server had not cached yet (go-redis sends it again), a call
// its caller cancelled and a connection's handshake are not failures.
type errorCount struct{ n *atomic.Int64 }

func failed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) &&
		!strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// handshake reports whether cmd is one a new connection sends (HELLO,
// CLIENT SETINFO and the like), which go-redis does without and servers
// of some versions refuse.
func handshake(cmd redis.Cmder) bool {
	return cmd.Name() == "hello" || cmd.Name() == "client"
}

// DialHook implements redis.Hook.
func (e errorCount) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if failed(err) {
			e.n.Add(1)
		}
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (e errorCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if failed(err) && !handshake(cmd) {
			e.n.Add(1)
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook: each failed command of a
// pipeline or transaction counts.
func (e errorCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if failed(c.Err()) && !handshake(c) {
				e.n.Add(1)
			}
		}
		return err
	}
}

// Errors counts the store's Redis calls that failed since it was opened.
func (r *Redis) Errors() int64 { return r.errs.Load() }
