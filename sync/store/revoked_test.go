package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestRevoked(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	a, b := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16)
	if err := s.PutRevoked(ctx, Revocation{a, now.Add(time.Hour)}, Revocation{b, now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRevoked(ctx, Revocation{a, now.Add(time.Hour)}); err != nil {
		t.Fatalf("re-delivery: %v", err)
	}
	if err := s.PutRevoked(ctx, Revocation{[]byte("short"), now}); err == nil {
		t.Error("a short code id was accepted")
	}
	for cid, want := range map[string]bool{string(a): true, string(b): true, string(bytes.Repeat([]byte{3}, 16)): false} {
		if got, err := s.IsRevoked(ctx, []byte(cid)); err != nil || got != want {
			t.Errorf("IsRevoked(%x) = %v, %v", cid, got, err)
		}
	}
	if n, err := s.PruneRevoked(ctx, now); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if got, _ := s.IsRevoked(ctx, b); got {
		t.Error("expired revocation survived the prune")
	}
}
