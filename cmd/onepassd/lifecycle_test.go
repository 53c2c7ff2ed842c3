package main

import (
	"context"
	"errors"
	"sync"
	"testing"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// One part stopping, with or without an error, stops the others; the daemon reports the first
// error and tells systemd STOPPING once. A start that fails before READY sends no STOPPING.
func TestLifecycle(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name         string
		first        error // what the part that stops first returns
		failedStart  bool
		wantStopping int
	}{
		{"a part returns nil", nil, false, 1},
		{"a part fails", boom, false, 1},
		{"a start that failed", nil, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var sent []string
			notify := func(s string) error {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, s)
				return nil
			}
			ctx, run, wait := lifecycle(context.Background(), notify)
			stopped := make(chan struct{}, 2)
			for range 2 { // long-running parts: return only when the daemon stops
				run(func(ctx context.Context) error {
					<-ctx.Done()
					stopped <- struct{}{}
					return nil
				})
			}
			if !tt.failedStart {
				run(func(context.Context) error { return tt.first })
			}
			err := wait(tt.failedStart)
			if !errors.Is(err, tt.first) || (tt.first == nil && err != nil) {
				t.Errorf("wait = %v, want %v", err, tt.first)
			}
			if len(stopped) != 2 {
				t.Errorf("%d of 2 parts stopped", len(stopped))
			}
			if ctx.Err() == nil {
				t.Error("the daemon's context is still live")
			}
			n := 0
			for _, s := range sent {
				if s == sd.SdNotifyStopping {
					n++
				}
			}
			if n != tt.wantStopping {
				t.Errorf("STOPPING sent %d times, want %d (%q)", n, tt.wantStopping, sent)
			}
		})
	}
}
