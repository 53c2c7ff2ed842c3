package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/hub"
	"onepass/sync/wire"
)

func hubCmd(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(append([]string{"--data", dir}, args...), &out, &out)
	return out.String(), code
}

// TestAdminCommands walks an operator through the hub's admin commands.
func TestAdminCommands(t *testing.T) { forBackends(t, testAdminCommands) }

func testAdminCommands(t *testing.T, db string) {
	dir := t.TempDir()
	out, code := hubCmd(t, dir, "init", "keys", "--host", "hub.example,10.0.0.5")
	if code != 0 || !strings.Contains(out, "[trust]\nroot = \"") {
		t.Fatalf("init keys: %d\n%s", code, out)
	}
	if _, code := hubCmd(t, dir, "init", "keys"); code != 1 {
		t.Errorf("second init: exit %d", code)
	}
	root, _ := hubCmd(t, dir, "root")
	if !strings.Contains(out, strings.TrimSpace(root)) {
		t.Errorf("root %q differs from what init printed", root)
	}
	tok, code := hubCmd(t, dir, "token", "--hall", "东城区政务服务中心", "--lanes", "2")
	if code != 0 || len(strings.TrimSpace(tok)) < 20 {
		t.Fatalf("token: %d %q", code, tok)
	}
	out, code = hubCmd(t, dir, "status", "set", "--id", "11010519491231002X", "--status", "red", "--valid", "24h")
	if code != 0 || !strings.Contains(out, "1101**********002X: red") || strings.Contains(out, "11010519491231002X") {
		t.Fatalf("status set: %d %q", code, out)
	}
	// --id - keeps the number out of shell history and the process list.
	r, w, _ := os.Pipe()
	w.WriteString("110101199003074477\n")
	w.Close()
	saved := os.Stdin
	os.Stdin = r
	out, code = hubCmd(t, dir, "status", "set", "--id", "-", "--status", "yellow")
	os.Stdin = saved
	if code != 0 || !strings.Contains(out, "1101**********4477: yellow") {
		t.Fatalf("status set --id -: %d %q", code, out)
	}
	if _, code := hubCmd(t, dir, "status", "set", "--id", "11010519491231002X", "--status", "purple"); code != 2 {
		t.Errorf("bad status: exit %d", code)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	keyFile := filepath.Join(t.TempDir(), "issuer.pub")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	out, code = hubCmd(t, dir, "issuer", "add", "--id", "510000-SCJKM", "--key", keyFile, "--name", "四川省健康码", "--classes", "1,2")
	if code != 0 || !strings.Contains(out, "(ES256) added; trust list seq 1") {
		t.Fatalf("issuer add: %d %q", code, out)
	}
	if out, code = hubCmd(t, dir, "code", "revoke", "--cid", "00112233445566778899aabbccddeeff"); code != 0 {
		t.Fatalf("code revoke: %d %q", code, out)
	}
	if out, code = hubCmd(t, dir, "policy", "set", "--fever-c", "37.5", "--status-max-age", "20m"); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("policy set: %d %q", code, out)
	}
	if out, code = hubCmd(t, dir, "devices", "list"); code != 0 || !strings.HasPrefix(out, "DEVICE") {
		t.Fatalf("devices list: %d %q", code, out)
	}
	if out, code = hubCmd(t, dir, "visits", "export"); code != 0 || !strings.HasPrefix(out, "id,device,received_at") {
		t.Fatalf("visits export: %d %q", code, out)
	}
	if out, code = hubCmd(t, dir, "keys", "rotate"); code != 0 || !strings.Contains(out, "epoch 2") {
		t.Fatalf("keys rotate: %d %q", code, out)
	}
	if _, code := hubCmd(t, dir, "devices", "revoke", "d-nope"); code != 1 {
		t.Errorf("revoking an unknown device: exit %d", code)
	}
	if _, code := hubCmd(t, dir, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if out, code := hubCmd(t, t.TempDir(), "token", "--hall", "x"); code != 1 || !strings.Contains(out, "init keys") {
		t.Errorf("uninitialized data directory: %d %q", code, out)
	}
}

// TestVisitsExportStaffDecision: a staff member's decision on a MANUAL visit is exported with who
// decided (staff_id) and the visit it overrides (overrides), in CSV and in JSON lines.
func TestVisitsExportStaffDecision(t *testing.T) { forBackends(t, testVisitsExportStaffDecision) }

func testVisitsExportStaffDecision(t *testing.T, db string) {
	dir := t.TempDir()
	if out, code := hubCmd(t, dir, "init", "keys"); code != 0 {
		t.Fatalf("init keys: %d\n%s", code, out)
	}
	ctx := context.Background()
	h, err := hub.Open(ctx, dir, hub.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	manual, staff := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	ack, err := h.Ingest(ctx, "d-1", []wire.Record{
		{ID: manual, Kind: "visit", At: at, Visit: &wire.Visit{Lane: "1", Method: "card", MaskedName: "王*", Outcome: "MANUAL", Reason: "status_unknown"}},
		{ID: staff, Kind: "visit", At: at.Add(time.Minute), Visit: &wire.Visit{Lane: "1", Method: "staff", MaskedName: "王*", Outcome: "PASS",
			Reason: "staff_override", StaffID: "7", Overrides: manual, Note: "elderly_no_phone"}},
	})
	h.Close()
	if err != nil || len(ack.Accepted) != 2 {
		t.Fatalf("ingest: %+v %v", ack, err)
	}

	out, code := hubCmd(t, dir, "visits", "export")
	if code != 0 {
		t.Fatalf("visits export: %d %q", code, out)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("CSV %q: %v", out, err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"staff_id", "overrides", "method", "outcome", "reason"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("CSV header %v has no %s", rows[0], name)
		}
	}
	if r := rows[1]; r[col["staff_id"]] != "" || r[col["overrides"]] != "" {
		t.Errorf("the lane's visit exported with staff fields: %v", r)
	}
	if r := rows[2]; r[col["method"]] != "staff" || r[col["outcome"]] != "PASS" || r[col["reason"]] != "staff_override" ||
		r[col["staff_id"]] != "7" || r[col["overrides"]] != manual || r[col["note"]] != "elderly_no_phone" {
		t.Errorf("staff decision row %v", r)
	}

	out, code = hubCmd(t, dir, "visits", "export", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("visits export jsonl: %d %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("JSON lines %q", out)
	}
	var v struct {
		ID        string `json:"id"`
		StaffID   string `json:"staff_id"`
		Overrides string `json:"overrides"`
	}
	if err := json.Unmarshal([]byte(lines[1]), &v); err != nil || v.ID != staff || v.StaffID != "7" || v.Overrides != manual {
		t.Errorf("JSON line %s: %+v %v", lines[1], v, err)
	}
	if strings.Contains(lines[0], "staff_id") || strings.Contains(lines[0], "overrides") {
		t.Errorf("the lane's visit carries staff fields: %s", lines[0])
	}
}

// TestDevicesListTelemetry: devices list shows the latest report's key fields (the parts not ok,
// paper, replica age, clock skew), "-" before any, and --json carries the whole report.
func TestDevicesListTelemetry(t *testing.T) {
	t.Setenv("ONEPASS_HUB_DB", "")
	dir := t.TempDir()
	if out, code := hubCmd(t, dir, "init", "keys"); code != 0 {
		t.Fatalf("init keys: %d\n%s", code, out)
	}
	ctx := context.Background()
	h, err := hub.Open(ctx, dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 3)
	for i := range ids {
		tok, err := h.NewToken(ctx, "hall-1", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
		resp, _, err := h.Enroll(ctx, wire.EnrollRequest{V: 1, Token: tok, CSR: der})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = resp.Device
	}
	err = h.ReportTelemetry(ctx, ids[0], wire.Telemetry{At: time.Now(), Version: "onepassd/1", Paper: "out", ReplicaAgeS: 90, ClockSkewMs: -1500,
		Parts: []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "printer", State: "down", Reason: "paper out"}, {Part: "camera", State: "not_configured"}}})
	if err == nil { // a kiosk that has not measured its skew yet: "-", not 0s
		err = h.ReportTelemetry(ctx, ids[2], wire.Telemetry{At: time.Now(), Paper: "ok", ReplicaAgeS: 90, Parts: []wire.PartHealth{{Part: "reader", State: "ok"}}})
	}
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, code := hubCmd(t, dir, "devices", "list")
	if code != 0 {
		t.Fatalf("devices list: %d %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "PARTS") || !strings.Contains(lines[0], "SKEW") {
		t.Fatalf("devices list:\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		tail := strings.Join(f[len(f)-4:], " ")
		switch {
		case strings.HasPrefix(l, ids[0]) && tail != "printer:down out 1m30s -1.5s":
			t.Errorf("reported device: %q", tail)
		case strings.HasPrefix(l, ids[1]) && tail != "- - - -":
			t.Errorf("device without a report: %q", tail)
		case strings.HasPrefix(l, ids[2]) && tail != "ok ok 1m30s -":
			t.Errorf("device without a measured skew: %q", tail)
		}
	}
	out, code = hubCmd(t, dir, "devices", "list", "--json")
	var d hub.Device
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &d) != nil || d.Telemetry == nil || d.Telemetry.Paper != "out" || d.TelemetryAt.IsZero() {
		t.Errorf("devices list --json: %d %q", code, out)
	}
}
