package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hubCmd(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := run(append([]string{"--data", dir}, args...), &out, &out)
	return out.String(), code
}

// TestAdminCommands walks an operator through the hub's admin commands.
func TestAdminCommands(t *testing.T) {
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
