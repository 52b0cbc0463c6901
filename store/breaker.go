package store

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is returned, without asking the server, while a Redis
// server that stopped answering is given time before it is tried again.
var ErrUnavailable = errors.New("store: redis is not answering; retrying shortly")

// breaker is a go-redis hook that fails calls fast for pause after one
// timed out or could not connect: a request that makes several store calls
// while Redis hangs waits for one timeout, not for each. The first call
// after the pause tries the server again.
type breaker struct {
	pause time.Duration
	until atomic.Int64 // unix nanoseconds
}

// open reports whether calls fail fast now.
func (b *breaker) open() bool { return time.Now().UnixNano() < b.until.Load() }

// observe opens the breaker when a call's error says the server did not
// answer: it refused or dropped the connection, or the call waited out
// the store's whole timeout. A call ended by its caller (cancelled, or a
// deadline of the caller's shorter than the store's) says nothing of the
// server.
func (b *breaker) observe(err error, took time.Duration) {
	var netErr net.Error
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, ErrUnavailable):
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		if took >= b.pause*9/10 {
			b.until.Store(time.Now().Add(b.pause).UnixNano())
		}
	case errors.As(err, &netErr):
		b.until.Store(time.Now().Add(b.pause).UnixNano())
	}
}

// DialHook implements redis.Hook.
func (b *breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if b.open() {
			return nil, ErrUnavailable
		}
		start := time.Now()
		c, err := next(ctx, network, addr)
		b.observe(err, time.Since(start))
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (b *breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if b.open() {
			cmd.SetErr(ErrUnavailable)
			return ErrUnavailable
		}
		start := time.Now()
		err := next(ctx, cmd)
		b.observe(err, time.Since(start))
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (b *breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if b.open() {
			for _, c := range cmds {
				c.SetErr(ErrUnavailable)
			}
			return ErrUnavailable
		}
		start := time.Now()
		err := next(ctx, cmds)
		b.observe(err, time.Since(start))
		return err
	}
}
