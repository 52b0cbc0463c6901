package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseAudit reads:
//
//	audit {
//	    dir            <directory>
//	    fsync          decisions|always|interval|never
//	    sync_interval  <duration>
//	    fold_reads     <duration>|off
//	    max_size       <size>
//	    roll_interval  <duration>
//	    queue_size     <records>
//	    block_timeout  <duration>
//	    stream         [<max entries per tenant>]
//	    log
//	}
func parseAudit(d *caddyfile.Dispenser) (*AuditConfig, error) {
	ac := &AuditConfig{}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	durations := map[string]*caddy.Duration{"sync_interval": &ac.SyncInterval, "roll_interval": &ac.RollInterval, "block_timeout": &ac.BlockTimeout}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "dir":
			ac.Dir, err = oneArg(d)
		case "fsync":
			ac.Fsync, err = oneArg(d)
		case "sync_interval", "roll_interval", "block_timeout":
			var dur time.Duration
			dur, err = durationArg(d)
			*durations[opt] = caddy.Duration(dur)
		case "fold_reads":
			var v string
			if v, err = oneArg(d); err == nil {
				ac.FoldReads = -1
				if v != "off" {
					d.Prev()
					var dur time.Duration
					dur, err = durationArg(d)
					ac.FoldReads = caddy.Duration(dur)
				}
			}
		case "max_size":
			ac.MaxSize, err = sizeArg(d)
		case "queue_size":
			err = intArg(d, &ac.QueueSize)
		case "stream":
			ac.Stream = true
			if d.NextArg() {
				d.Prev()
				var n int
				err = intArg(d, &n)
				ac.StreamMaxLen = int64(n)
			}
		case "log":
			ac.Log = true
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		default:
			return nil, d.Errf("unrecognized audit option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return ac, nil
}
