package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"onepass/sync/store"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "onepass")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The daemon opens one store for its lifetime.
	s, err := store.Open(ctx, filepath.Join(dir, "onepass.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// The lane records a visit before showing the result.
	temp := 36.4
	v := &store.Visit{
		At:         time.Now(),
		Lane:       "A",
		Method:     "card",
		PersonKey:  make([]byte, 32), // HMAC-SHA256 of the ID number, never the number
		MaskedName: "张*",
		TempC:      &temp,
		Outcome:    "PASS",
	}
	if err := s.Append(ctx, v); err != nil {
		log.Fatal(err) // not durable: do not open the gate
	}

	// The uploader sends a batch and acknowledges what the hub accepted.
	batch, err := s.Pending(ctx, 100)
	if err != nil {
		log.Fatal(err)
	}
	ids := make([]string, len(batch))
	for i, p := range batch {
		ids[i] = p.ID
	}
	n, err := s.Ack(ctx, ids)
	if err != nil {
		log.Fatal(err)
	}
	depth, _ := s.OutboxDepth(ctx)
	fmt.Println(len(batch), batch[0].Outcome, n, depth)
	// Output: 1 PASS 1 0
}
