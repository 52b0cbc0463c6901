// Package testenv starts the real services qgov's tests run against:
// free ports, a redis-server and a local Redis Cluster, each owned by the
// test that asked for it and stopped when it ends; and what several
// packages' tests measure alike (peak heap, formula cells in a CSV).
package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func redisBinary(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: skipped, it needs %s (make test runs it)", name)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: `make test` installs it (Debian package redis-server)", name)
	}
	return path
}

// RedisServer is a redis-server a test owns, which it may stop and
// start again on the same port.
type RedisServer struct {
	Addr string
	t    testing.TB
	bin  string
	args []string
	dir  string
	cmd  *exec.Cmd
	exit chan struct{}
}

// startRedis runs one redis-server on a free port with extra arguments
// and returns it once it answers PING.
func startRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	s := &RedisServer{t: t, bin: redisBinary(t, "redis-server"), dir: t.TempDir()}
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		s.args = append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", s.dir, "--logfile", filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", port))}, extra...)
		if s.run() {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redis-server did not start (see logs in %s)", s.dir)
	return nil
}

// run starts the process and waits for PING.
func (s *RedisServer) run() bool {
	s.cmd = exec.Command(s.bin, s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	s.exit = make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) { _ = cmd.Wait(); close(exit) }(s.cmd, s.exit)
	if waitPing(s.Addr, s.exit) {
		return true
	}
	s.Stop()
	return false
}

// Stop kills the server (its data is lost); stopping a stopped server
// does nothing.
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.cmd = nil
}

// Pause stops the server's process with SIGSTOP: it keeps its
// connections open and answers nothing, as a hung server does.
func (s *RedisServer) Pause() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		s.t.Fatalf("pausing redis-server: %v", err)
	}
}

// Resume continues a paused server with SIGCONT.
func (s *RedisServer) Resume() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		s.t.Fatalf("resuming redis-server: %v", err)
	}
}

// Start starts a stopped server again on its port, empty.
func (s *RedisServer) Start() {
	s.t.Helper()
	if s.cmd == nil && !s.run() {
		s.t.Fatalf("redis-server did not start again on %s (see logs in %s)", s.Addr, s.dir)
	}
}

func waitPing(addr string, exited <-chan struct{}) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Redis starts a standalone redis-server and returns its address.
func Redis(t testing.TB) string {
	t.Helper()
	return startRedis(t).Addr
}

// RedisWith starts a standalone redis-server with extra arguments (which
// override the defaults: no persistence) and returns its address.
func RedisWith(t testing.TB, extra ...string) string {
	t.Helper()
	return startRedis(t, extra...).Addr
}

// RedisRestartable starts a standalone redis-server the test may stop
// and start again.
func RedisRestartable(t testing.TB) *RedisServer {
	t.Helper()
	return startRedis(t)
}

// RedisCluster starts a three-master Redis Cluster on free ports and
// returns the nodes' addresses once the cluster reports ok.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	var addrs []string
	for i := 0; i < 3; i++ {
		conf := filepath.Join(t.TempDir(), "nodes.conf")
		addrs = append(addrs, startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", conf, "--cluster-node-timeout", "2000").Addr)
	}
	cli := redisBinary(t, "redis-cli")
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("creating the Redis Cluster: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range addrs {
		if !clusterOK(addr, deadline) {
			t.Fatalf("the Redis Cluster node %s did not reach cluster_state:ok", addr)
		}
	}
	return addrs
}

// clusterOK waits until the node at addr reports cluster_state:ok.
func clusterOK(addr string, deadline time.Time) bool {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for time.Now().Before(deadline) {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
