package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"onepass/kiosk/queue"
	"onepass/sync/store"
)

// A hall with the default services: issue two tickets, one of them priority, and call the next
// ticket to counter 1. The priority ticket goes first.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "queue-example")
	defer os.RemoveAll(dir)
	db, err := store.Open(ctx, filepath.Join(dir, "onepass.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	q, err := queue.New(ctx, queue.DefaultConfig(), db, queue.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	run, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(run); close(done) }()
	defer func() { stop(); <-done }()

	a, _ := q.Issue(ctx, queue.IssueRequest{Service: "A"})
	b, _ := q.Issue(ctx, queue.IssueRequest{Service: "A", Priority: queue.Elderly})
	fmt.Println(a.Ticket.Number, b.Ticket.Number, "ahead of", b.Ticket.Number+":", b.Ahead)
	t, _ := q.CallNext(ctx, "1")
	fmt.Printf("请 %s 号到 %s 号窗口\n", t.Number, t.Counter)
	// Output:
	// A001 A002 ahead of A002: 0
	// 请 A002 号到 1 号窗口
}
