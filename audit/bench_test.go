package audit

import (
	"context"
	"testing"
	"time"
)

var policies = []struct {
	name  string
	fsync Fsync
}{{"always", FsyncAlways}, {"interval", FsyncInterval}}

// BenchmarkRequestPath is what auditing adds to a request: reserving room,
// then committing the record (under "always", waiting for the fsync it
// shares with concurrent requests).
func BenchmarkRequestPath(b *testing.B) {
	for _, p := range policies {
		b.Run(p.name, func(b *testing.B) {
			l := openLog(b, b.TempDir(), FileConfig{Fsync: p.fsync}, nil, Options{})
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tk, err := l.Reserve(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					if err := tk.Commit(record("acme", "fatima", 1)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkFileSink is the sustained rate of records sealed, written and
// (per policy) fsynced to the file.
func BenchmarkFileSink(b *testing.B) {
	for _, p := range policies {
		b.Run(p.name, func(b *testing.B) {
			l := openLog(b, b.TempDir(), FileConfig{Fsync: p.fsync}, nil, Options{QueueSize: 1 << 16})
			recs := make([]*Record, b.N)
			for i := range recs {
				recs[i] = record("acme", "fatima", i)
			}
			b.ResetTimer()
			began := time.Now()
			for _, r := range recs {
				tk, err := l.Reserve(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				go func() { _ = tk.Commit(r) }()
			}
			for l.Stats().Written.Load() < uint64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "records/s")
		})
	}
}
