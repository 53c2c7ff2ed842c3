package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestRequeue(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []string
	for range 3 {
		v := &Visit{Lane: "1", Method: "manual", MaskedName: "张*", Outcome: "PASS", Reason: "ok"}
		if err := s.Append(ctx, v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	for _, id := range ids[:2] {
		if err := s.Quarantine(ctx, KindVisit, id, "method unknown", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := s.OutboxDepth(ctx); d != 1 {
		t.Fatalf("outbox %d after quarantining 2 of 3", d)
	}
	if n, err := s.Requeue(ctx, ids[0], "01a21980-4628-7060-b94a-b9ceb30fdbb7"); err != nil || n != 1 {
		t.Fatalf("requeue one: %d, %v", n, err)
	}
	if n, err := s.Requeue(ctx); err != nil || n != 1 {
		t.Fatalf("requeue all: %d, %v", n, err)
	}
	if d, _ := s.OutboxDepth(ctx); d != 3 {
		t.Errorf("outbox %d, want 3", d)
	}
	if q, _ := s.QuarantineCount(ctx); q != 0 {
		t.Errorf("quarantine %d, want 0", q)
	}
	p, _ := s.Pending(ctx, 10)
	if len(p) != 3 || p[0].ID != ids[2] {
		t.Errorf("requeued records go to the end: %v", p)
	}
	if _, err := s.Requeue(ctx, "not-an-id"); err == nil {
		t.Error("a malformed id was accepted")
	}
}
