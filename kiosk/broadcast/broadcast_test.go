package broadcast

import (
	"context"
	"testing"
	"time"
)

func TestLatest(t *testing.T) {
	var l Latest[int]
	ctx, cancel := context.WithCancel(context.Background())
	slow := l.Subscribe(ctx)
	fast := l.Subscribe(ctx)
	for i := 1; i <= 5; i++ {
		l.Send(i) // never blocks, though slow reads nothing
		if got := <-fast; got != i {
			t.Fatalf("fast subscriber got %d, want %d", got, i)
		}
	}
	if got := <-slow; got != 5 {
		t.Fatalf("slow subscriber got %d, want the latest (5)", got)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for l.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if _, ok := <-slow; ok || l.Len() != 0 {
		t.Fatal("subscription not closed after ctx ended")
	}
	l.Send(6) // no subscribers: nothing happens
}
