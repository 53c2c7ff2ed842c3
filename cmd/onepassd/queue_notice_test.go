package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"onepass/kiosk"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// An appointment code shown at the kiosk before any pass is no longer ignored in silence: the
// lane shows what to do first.
func TestAppointmentBeforePassGetsANotice(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lane := kiosk.New(kiosk.DefaultConfig(), kiosk.Parts{}, kiosk.Options{Log: db, Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() { done <- lane.Run(ctx) }()
	views := lane.Subscribe(ctx)
	qs := &queueSetup{db: db, lane: lane, log: slog.New(slog.DiscardHandler)}
	qs.checkInAtKiosk(ctx, "APPT1:whatever")
	timeout := time.After(5 * time.Second)
	for {
		select {
		case v := <-views:
			if v.Reason != policy.ReasonCheckInNeedsPass {
				continue
			}
			if v.State != kiosk.PhaseShowing || v.Outcome != "" || v.TextZh != "请先刷身份证或出示健康码通行后再签到" {
				t.Fatalf("notice: %+v", v)
			}
			cancel()
			<-done
			return
		case <-timeout:
			t.Fatalf("no notice; the lane shows %+v", lane.View())
		}
	}
}
