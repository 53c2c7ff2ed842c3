package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/kiosk"
	"onepass/sync/store"
)

// TestPrintedCodeEndToEnd is issue 5's story in --sim: a printed JKM1 code made by onepass-hub
// with the simulated issuer's key is shown to the camera (the real gocv driver reading a folder),
// decoded, verified against the simulated trust list and bound to the card on the reader. With the
// holder's card the pass goes through; with another person's card it is refused.
func TestPrintedCodeEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	hub := filepath.Join(t.TempDir(), "onepass-hub")
	if out, err := exec.Command("go", "build", "-o", hub, "onepass/cmd/onepass-hub").CombinedOutput(); err != nil {
		t.Fatalf("go build onepass-hub: %v\n%s", err, out)
	}
	data := t.TempDir()
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)

	png := filepath.Join(t.TempDir(), "code.png")
	out, err := exec.Command(hub, "code", "issue", "--status", "green", "--class", "printed",
		"--id", "110101199003074477", "--name", "张三", "--key", filepath.Join(data, "keys", "sim-issuer.key"),
		"--issuer", "SIM", "--out", png).Output()
	if err != nil {
		t.Fatalf("onepass-hub code issue: %v", err)
	}
	if !strings.HasPrefix(string(out), "JKM1:") {
		t.Fatalf("onepass-hub printed %q, want the code text", out)
	}

	// The holder: card, then the printed code to the camera, then the temperature.
	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.waitState(t, "the card to be read", func(v kiosk.View) bool { return v.Method == "card" && v.MaskedName == "张*" })
	d.onepassctl("sim", "code", "--image", png)
	d.waitState(t, "the code to be read with the card", func(v kiosk.View) bool { return v.Method == "card+code" })
	d.onepassctl("sim", "temp", "36.6")
	first := d.waitState(t, "PASS", func(v kiosk.View) bool { return v.State == kiosk.PhaseShowing })
	if first.Outcome != "PASS" || first.Reason != "ok" || first.Method != "card+code" || first.MaskedName != "张*" {
		t.Fatalf("holder with their printed code: %+v", first)
	}

	// Someone else's card with the same printed code. The holder steps away first: otherwise the
	// lane, re-measuring the person still in front, may pass 王五 on the card alone before the
	// camera has read the code (correct, but not this story).
	d.onepassctl("sim", "leave")
	d.onepassctl("sim", "card", "--id", "11010519491231002X", "--name", "王五")
	d.waitState(t, "the second card to be read", func(v kiosk.View) bool { return v.MaskedName == "王*" })
	d.onepassctl("sim", "code", "--image", png)
	second := d.waitState(t, "DENY", func(v kiosk.View) bool {
		return v.State == kiosk.PhaseShowing && v.PassID != first.PassID
	})
	if second.Outcome != "DENY" || second.Reason != "code_wrong_person" || !strings.Contains(second.TextEn, "code belongs to someone else") {
		t.Fatalf("another person's card with the code: %+v", second)
	}
	d.stop()

	db, err := store.Open(context.Background(), filepath.Join(data, "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	visits, err := db.Recent(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range visits {
		got = append(got, v.Method+":"+v.Reason)
	}
	if strings.Join(got, ",") != "card+code:code_wrong_person,card+code:ok" {
		t.Errorf("visits (newest first): %v", got)
	}
	for _, id := range []string{"110101199003074477", "11010519491231002X"} {
		if strings.Contains(d.logs.String(), id) {
			t.Errorf("raw ID number in the daemon's log")
		}
	}
}

// waitState polls the lane's state until cond holds.
func (d *daemon) waitState(t *testing.T, what string, cond func(kiosk.View) bool) kiosk.View {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := d.state()
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 20 s for %s; state %+v", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
