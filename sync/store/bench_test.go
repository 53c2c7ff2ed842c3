package store

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAppend measures one durable append: a write transaction of two
// inserts, committed with an fsync of the WAL.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	pk, sealed := key(1), make([]byte, 120)
	for b.Loop() {
		v := &Visit{At: time.Now(), Lane: "A", Method: "card", PersonKey: pk, SealedID: sealed,
			MaskedName: "张*", TempC: ptr(36.5), Outcome: "PASS"}
		if err := s.Append(ctx, v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatusLookup measures a status lookup in a 100k-person replica.
func BenchmarkStatusLookup(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	const n = 100_000
	rows := make([]StatusRow, n)
	now := time.Now()
	for i := range rows {
		rows[i] = StatusRow{PersonKey: key(i), Status: 1 + i%3, AsOf: now, Expires: now.Add(24 * time.Hour)}
	}
	if err := s.PutStatus(ctx, rows...); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		// Step through the keys with a stride so lookups are spread out.
		if _, ok, err := s.Status(ctx, rows[i%n].PersonKey); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i += 7919
	}
}
