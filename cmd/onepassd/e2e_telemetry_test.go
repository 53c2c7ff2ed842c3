package main

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/sync/hub"
	"onepass/sync/wire"
)

// TestTelemetryEndToEnd: the real daemon in --sim reports itself to its embedded hub with the
// pushes: its version, every part of the lane, and, once the printer ran out of paper and a ticket
// waits, paper out, the printer down and the queue's length.
func TestTelemetryEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	data := t.TempDir()
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)
	h, err := hub.Open(context.Background(), filepath.Join(data, "hub"), hub.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	latest := func() *wire.Telemetry {
		t.Helper()
		ds, err := h.Devices(context.Background())
		if err != nil || len(ds) != 1 {
			t.Fatalf("devices: %+v %v", ds, err)
		}
		return ds[0].Telemetry
	}

	d.onepassctl("sim", "printer", "paper", "out")
	// Not printed (exit 1): the number still comes.
	if out, _ := exec.Command(ctl, "--addr", d.url, "ticket", "issue", "--service", "B").CombinedOutput(); !strings.HasPrefix(string(out), "B001") {
		t.Fatalf("ticket issue: %s", out)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		tel := latest()
		parts := map[string]string{}
		queues := map[string]int{}
		if tel != nil {
			for _, p := range tel.Parts {
				parts[p.Part] = p.State
			}
			for _, q := range tel.Queues {
				queues[q.Service] = q.Waiting
			}
		}
		if tel != nil && tel.Paper == "out" && parts["printer"] == "down" && queues["B"] == 1 {
			if tel.Version != "onepassd/"+version || parts["reader"] != "ok" || parts["sync"] == "" || tel.UptimeS < 0 {
				t.Errorf("report: %+v", tel)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub never heard of the paper out and the waiting ticket; latest report: %+v", tel)
		}
		time.Sleep(250 * time.Millisecond)
	}
	d.stop()
}
