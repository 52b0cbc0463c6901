package caddymodule

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/qgov/qgov/audit"
	"github.com/qgov/qgov/store"
)

// AuditConfig configures the audit trail: a hash-chained JSON-lines file
// (always), and optionally a Redis Stream and Caddy's log.
type AuditConfig struct {
	// Dir holds the trail's files. Default "qgov/audit" in Caddy's data
	// directory.
	Dir string `json:"dir,omitempty"`
	// Fsync is the durability policy: "decisions" (the default: a
	// request that changes or refuses something completes only once its
	// record is on stable storage, concurrent requests sharing one fsync;
	// a read that was served is written at once and fsynced with the next
	// such record or within sync_interval), "always" (every request waits,
	// reads too), "interval" (records are written at once and fsynced every
	// sync_interval: a power cut loses at most that much) or "never" (the
	// operating system decides).
	Fsync string `json:"fsync,omitempty"`
	// SyncInterval is the fsync period of records not yet fsynced, under
	// "decisions" and "interval". Default 1s.
	SyncInterval caddy.Duration `json:"sync_interval,omitempty"`
	// FoldReads folds a caller's identical reads of one object (a client
	// polling its job) within this window into one record with their
	// count and first and last time. Default 2s; negative folds none.
	// Under "always" no read is folded.
	FoldReads caddy.Duration `json:"fold_reads,omitempty"`
	// MaxSize starts a new file when the current one reaches this many
	// bytes. Default 100 MiB.
	MaxSize int64 `json:"max_size,omitempty"`
	// RollInterval starts a new file when the current one is this old.
	// Default 24h.
	RollInterval caddy.Duration `json:"roll_interval,omitempty"`
	// QueueSize bounds the records waiting to be written. Default 8192.
	QueueSize int `json:"queue_size,omitempty"`
	// BlockTimeout is how long a request waits for room in a full queue
	// before it is refused (503 audit_unavailable, nothing forwarded).
	// Default 2s.
	BlockTimeout caddy.Duration `json:"block_timeout,omitempty"`
	// Stream copies every record to a Redis Stream per tenant in the
	// store's Redis (store backend redis), and answers queries from
	// there, across replicas.
	Stream bool `json:"stream,omitempty"`
	// StreamMaxLen trims each tenant's stream to about this many entries;
	// 0 keeps all.
	StreamMaxLen int64 `json:"stream_max_len,omitempty"`
	// Log also writes each record to Caddy's log (logger "qgov.audit").
	Log bool `json:"log,omitempty"`
}

// audits pools open trails by directory: a reload keeps the file, its
// chain and its queue; the sinks after the file follow the new config.
var audits = caddy.NewUsagePool()

// pooledAudit is an open trail and the settings it was opened with.
type pooledAudit struct {
	log      *audit.Log
	settings string
}

// Destruct closes the trail.
func (p pooledAudit) Destruct() error { return p.log.Close() }

// auditSettings are the audit trail's settings, checked.
type auditSettings struct {
	AuditConfig
	fsync audit.Fsync
	// fixed names the settings a trail keeps while it stays open.
	fixed string
}

// auditConfig checks the audit trail's settings and fills in their
// defaults.
func (a *App) auditConfig() (auditSettings, error) {
	ac := AuditConfig{}
	if a.Audit != nil {
		ac = *a.Audit
	}
	if ac.Dir == "" {
		ac.Dir = filepath.Join(caddy.AppDataDir(), "qgov", "audit")
	}
	fsync, err := audit.ParseFsync(ac.Fsync)
	if err != nil {
		return auditSettings{}, fmt.Errorf("qgov audit: %w", err)
	}
	if ac.Stream && a.storeSettings.Backend != "redis" {
		return auditSettings{}, errors.New("qgov audit stream: needs the redis store backend")
	}
	fixed := fmt.Sprintf("fsync %s, sync_interval %v, fold_reads %v, max_size %d, roll_interval %v, queue_size %d, block_timeout %v",
		cmp.Or(ac.Fsync, "decisions"), time.Duration(ac.SyncInterval), time.Duration(ac.FoldReads), ac.MaxSize, time.Duration(ac.RollInterval), ac.QueueSize, time.Duration(ac.BlockTimeout))
	return auditSettings{AuditConfig: ac, fsync: fsync, fixed: fixed}, nil
}

// openAudit takes a reference to the trail, opening it when no loaded
// config holds it, and sets its sinks; it returns the trail and where
// queries read it.
func (a *App) openAudit(st store.Store) (*audit.Log, audit.Source, string, error) {
	ac, fsync, settings := a.auditSettings.AuditConfig, a.auditSettings.fsync, a.auditSettings.fixed
	var sinks []audit.Sink
	var source audit.Source = audit.FileSource{Dir: ac.Dir}
	if ac.Stream {
		rs, ok := st.(*store.Redis)
		if !ok {
			return nil, nil, "", errors.New("qgov audit stream: needs the redis store backend")
		}
		host, _ := os.Hostname()
		stream := &audit.RedisStream{Client: rs.Client(), Prefix: a.redisPrefix() + "audit:", MaxLen: ac.StreamMaxLen, Node: host}
		sinks, source = append(sinks, stream), stream
	}
	if ac.Log {
		sinks = append(sinks, logSink{a.ctx.Logger().Named("audit")})
	}
	v, loaded, err := audits.LoadOrNew(ac.Dir, func() (caddy.Destructor, error) {
		f, err := audit.OpenFile(audit.FileConfig{Dir: ac.Dir, MaxSize: ac.MaxSize, MaxAge: time.Duration(ac.RollInterval), Fsync: fsync})
		if err != nil {
			return nil, err
		}
		return pooledAudit{settings: settings, log: audit.New(f, sinks, audit.Options{QueueSize: ac.QueueSize,
			BlockTimeout: time.Duration(ac.BlockTimeout), SyncInterval: time.Duration(ac.SyncInterval), FoldReads: time.Duration(ac.FoldReads), Logger: a.logger})}, nil
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("qgov audit: %w", err)
	}
	a.auditKey = ac.Dir
	p := v.(pooledAudit)
	if loaded && p.settings != settings {
		// the trail stays open across reloads, so the file and queue it was
		// opened with cannot change under it: refuse rather than pretend
		_, _ = audits.Delete(ac.Dir)
		a.auditKey = ""
		return nil, nil, "", fmt.Errorf("qgov audit: the trail in %s is open with %s; this configuration asks for %s, "+
			"which cannot change while the gateway runs: restart it to apply them, or keep them as they are to reload", ac.Dir, p.settings, settings)
	}
	if loaded {
		p.log.SetSinks(sinks)
	}
	return p.log, source, ac.Dir, nil
}

// redisPrefix is the store's Redis key prefix.
func (a *App) redisPrefix() string {
	if a.Store != nil && a.Store.KeyPrefix != "" {
		return a.Store.KeyPrefix
	}
	return "qgov:"
}

// logSink writes records to Caddy's log.
type logSink struct{ l *zap.Logger }

func (logSink) Name() string { return "log" }

func (s logSink) Write(_ context.Context, batch []audit.Sealed) error {
	for _, e := range batch {
		s.l.Info("audit", zap.Reflect("record", json.RawMessage(e.Line)))
	}
	return nil
}
