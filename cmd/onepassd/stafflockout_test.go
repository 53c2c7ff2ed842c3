package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
	"onepass/kiosk"
	"onepass/sync/store"
	"onepass/ui"
)

// A locked staff ID stays locked across a restart of the daemon over the same database file, an
// unknown ID's refusal reads the same as a real one's before and after, and this desk's delay is
// still running after the restart.
func TestStaffLockoutSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onepass.db")
	hash, err := bcrypt.GenerateFromPassword([]byte("2468"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Queue.Enabled = true
	cfg.Staff.LockoutAfter = 3
	cfg.Staff.Users = []config.StaffUser{{ID: "7", Name: "王芳", Counter: "1", PINHash: string(hash)}}
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	quiet := slog.New(slog.DiscardHandler)

	// start is the daemon's part that matters here: the queue setup over the database file and
	// the UI it configures.
	start := func() (*httptest.Server, func()) {
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := openQueue(ctx, cfg, db, &kiosk.Parts{}, false, clockwork.NewFakeClockAt(now), quiet)
		if err != nil || qs == nil {
			t.Fatalf("openQueue: %v", err)
		}
		qs.staff.Now = func() time.Time { return now }
		lane := kiosk.New(kiosk.DefaultConfig(), kiosk.Parts{}, kiosk.Options{Log: db, Logger: quiet})
		uo := ui.Options{Logger: quiet}
		qs.apply(&uo, lane)
		ts := httptest.NewServer(ui.New(lane, uo).Handler())
		return ts, func() {
			ts.Close()
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	login := func(ts *httptest.Server, id, pin string) (int, string) {
		t.Helper()
		b, _ := json.Marshal(ui.LoginRequest{Staff: id, PIN: pin})
		resp, err := http.Post(ts.URL+"/staff/api/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	ts, stop := start()
	var refusal string
	for i, id := range []string{"7", "9999", "7", "9999", "7", "9999"} {
		code, body := login(ts, id, "0000")
		if code != http.StatusUnauthorized || (i > 0 && body != refusal) {
			t.Fatalf("wrong PIN %d for %s: %d %s, want 401 %s", i+1, id, code, body, refusal)
		}
		refusal = body
		now = now.Add(time.Minute) // past this desk's delay (6 failures: 32 s at most)
	}
	now = now.Add(-time.Minute + time.Second) // the last failure's delay (30 s) still runs
	stop()

	ts, stop = start()
	defer stop()
	if code, body := login(ts, "7", "2468"); code != http.StatusTooManyRequests {
		t.Fatalf("right after the restart, this desk's delay was forgotten: %d %s", code, body)
	}
	now = now.Add(30 * time.Second)
	for _, id := range []string{"7", "9999"} {
		if code, body := login(ts, id, "2468"); code != http.StatusUnauthorized || body != refusal {
			t.Errorf("the right PIN for locked %s after a restart: %d %s, want 401 %s", id, code, body, refusal)
		}
		now = now.Add(time.Minute)
	}
	now = now.Add(5 * time.Minute)
	if code, body := login(ts, "7", "2468"); code != http.StatusOK {
		t.Fatalf("login after the lock-out: %d %s", code, body)
	}
}
