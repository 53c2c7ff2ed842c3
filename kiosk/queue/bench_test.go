package queue

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"onepass/sync/store"
)

// BenchmarkIssueConcurrent measures tickets issued per second with 32 callers at once (the kiosk
// and staff consoles): every ticket is committed durably (WAL, synchronous=FULL) with its outbox
// event before its caller gets the number; callers that arrive together share one commit.
func BenchmarkIssueConcurrent(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "onepass.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q, err := New(ctx, DefaultConfig(), db, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	const callers, each = 32, 8
	svcs := []string{"A", "B", "C"}
	total := 0
	for b.Loop() {
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				for i := range each {
					if _, err := q.Issue(ctx, IssueRequest{Service: svcs[(c+i)%3]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		total += callers * each
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "tickets/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIssueSerial is one caller at a time: one commit per ticket, the floor.
func BenchmarkIssueSerial(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "onepass.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q, err := New(ctx, DefaultConfig(), db, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	n := 0
	for b.Loop() {
		if _, err := q.Issue(ctx, IssueRequest{Service: "A"}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tickets/s")
}
