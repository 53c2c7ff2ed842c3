package main

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/ui"
)

// TestWatchdogFedOnlyWhileLoopTurns: the watchdog is pinged while the lane's loop is fresh, not
// while it is stuck, and again once it turns.
func TestWatchdogFedOnlyWhileLoopTurns(t *testing.T) {
	clock := clockwork.NewFakeClock()
	type turn struct {
		step int
		at   time.Time // the lane loop's last turn
	}
	answers := make(chan turn) // the test answers each alive() call: one per watchdog tick
	var cur int
	var pinged []int
	alive := func() time.Time { a := <-answers; cur = a.step; return a.at }
	notify := func(s string) error {
		if s == "WATCHDOG=1" {
			pinged = append(pinged, cur)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- runWatchdog(ctx, 10*time.Second, alive, notify, clock, slog.New(slog.DiscardHandler))
	}()
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // the ticker exists
		t.Fatal(err)
	}
	turned := []bool{true, true, false, false, true, false}
	for i, ok := range turned {
		clock.Advance(10 * time.Second)
		last := clock.Now().Add(-11 * time.Second) // older than one interval: stuck
		if ok {
			last = clock.Now().Add(-time.Second)
		}
		answers <- turn{i, last}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 4}; !slices.Equal(pinged, want) {
		t.Errorf("pinged at steps %v, want %v (only while the loop turns)", pinged, want)
	}
}

func TestReadyState(t *testing.T) {
	got := readyState(map[string]device.Health{
		"reader": {State: device.Down, Reason: "port gone"}, "store": {State: device.OK},
		"printer": {State: device.NotConfigured},
	})
	if want := "READY=1\nSTATUS=reader down: port gone; store ok"; got != want {
		t.Errorf("readyState = %q, want %q", got, want)
	}
}

// TestSystemdNotify runs the real daemon as systemd would for a Type=notify unit with WatchdogSec:
// a NOTIFY_SOCKET to report to and WATCHDOG_USEC set. It must answer HTTP (the starting page at
// the least) before READY, say READY=1 once the database and parts are open, feed the watchdog,
// and say STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	bin, _ := binaries(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	cmd := exec.Command(bin, "--sim", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=1000000") // ping every 0.5 s
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("onepassd log:\n%s", logs.String())
		}
	})
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("onepassd printed no URL")
	}
	url := strings.TrimPrefix(sc.Text(), "onepass kiosk screen: ")

	next := func(want string) string {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok || !strings.HasPrefix(m, want) {
				t.Fatalf("sd_notify message %q, want %s…", m, want)
			}
			return m
		case <-time.After(20 * time.Second):
			t.Fatalf("no sd_notify %s", want)
		}
		return ""
	}
	ready := next("READY=1\nSTATUS=")
	if !strings.Contains(ready, "store ok") || !strings.Contains(ready, "reader ok") {
		t.Errorf("READY status %q should name the parts", ready)
	}
	// READY is sent once the real screen is up: the status API answers with the daemon's figures.
	resp, err := http.Get(url + "api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st ui.Status
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || st.Version != version || st.OutboxDepth == nil || *st.OutboxDepth != 0 || st.Health != "ok" {
		t.Errorf("/api/status after READY: %d %+v %v", resp.StatusCode, st, err)
	}
	next("WATCHDOG=1")
	next("WATCHDOG=1")
	cmd.Process.Signal(syscall.SIGTERM)
	for m := range msgs {
		if m == "STOPPING=1" {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("unexpected sd_notify %q before STOPPING=1", m)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("onepassd exit: %v", err)
	}
}
