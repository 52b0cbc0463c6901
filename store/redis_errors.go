package store

import (
	"context"
	"errors"
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

// failed reports whether err is a failure of the call, as errorCount
// counts them.
func failed(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) && !errors.Is(err, context.Canceled) &&
		!strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// handshake reports whether cmd is one that go-redis sends on a new
// connection (HELLO, AUTH, SELECT, CLIENT SETINFO and the like) and qgov
// never does; servers of some versions refuse some of them.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select", "readonly":
		return true
	}
	return false
}

// DialHook implements redis.Hook: a failed dial fails the call that
// needed it, which counts.
func (e errorCount) DialHook(next redis.DialHook) redis.DialHook { return next }

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

// ProcessPipelineHook implements redis.Hook: a pipeline or a
// transaction that failed counts once.
func (e errorCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if failed(err) && (len(cmds) == 0 || !handshake(cmds[0])) {
			e.n.Add(1)
		}
		return err
	}
}

// Errors counts the store's Redis calls that failed since it was opened.
func (r *Redis) Errors() int64 { return r.errs.Load() }
