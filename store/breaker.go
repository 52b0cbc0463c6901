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

// observe opens the breaker when err says the server did not answer.
func (b *breaker) observe(err error) {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) {
		b.until.Store(time.Now().Add(b.pause).UnixNano())
	}
}

// DialHook implements redis.Hook.
func (b *breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if b.open() {
			return nil, ErrUnavailable
		}
		c, err := next(ctx, network, addr)
		b.observe(err)
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
		err := next(ctx, cmd)
		b.observe(err)
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
		err := next(ctx, cmds)
		b.observe(err)
		return err
	}
}
