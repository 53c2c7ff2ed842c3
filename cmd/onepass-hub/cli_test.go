package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpNeedsNoData: every command's --help answers with its usage (exit 0), also where the
// default data directory does not exist, instead of an error about it.
func TestHelpNeedsNoData(t *testing.T) {
	t.Setenv("ONEPASS_HUB_DATA", filepath.Join(t.TempDir(), "none"))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "--help"}, "token --hall HALL"},
		{[]string{"serve", "-h"}, "serve [--listen ADDR]"},
		{[]string{"status", "set", "--help"}, "status set --id ID|-"},
		{[]string{"devices", "list", "--help"}, "devices list [--json]"},
		{[]string{"visits", "export", "--since", "x", "--help"}, "visits export"},
		{[]string{"code", "revoke", "--help"}, "code revoke --cid"},
		{[]string{"code", "issue", "--help"}, "onepass-hub code issue --status"},
		{[]string{"init", "keys", "--help"}, "init keys [--host"},
	} {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != 0 || !strings.Contains(out.String(), tt.want) || errb.Len() != 0 {
			t.Errorf("%v: exit %d, stdout:\n%s\nstderr:\n%s", tt.args, code, out.String(), errb.String())
		}
	}
}

// TestCodeIssueTellsTheIDAndKeepsCodePNG: code issue prints the code ID that code revoke takes
// (and revoke takes it), and without --out never replaces an existing code.png.
func TestCodeIssueTellsTheIDAndKeepsCodePNG(t *testing.T) {
	forBackends(t, testCodeIssueTellsTheIDAndKeepsCodePNG)
}

func testCodeIssueTellsTheIDAndKeepsCodePNG(t *testing.T, db string) {
	dir := t.TempDir()
	if _, code := hubCmd(t, dir, "init", "keys"); code != 0 {
		t.Fatal("init keys")
	}
	key := filepath.Join(dir, "iss.key")
	var out, errb bytes.Buffer
	if code := codeCommand([]string{"keygen", "--alg", "EdDSA", "--out", key}, &out, &errb); code != 0 {
		t.Fatalf("keygen: %s", errb.String())
	}
	t.Chdir(t.TempDir())
	issue := func() (string, string, int) {
		var out, errb bytes.Buffer
		code := codeCommand([]string{"issue", "--status", "green", "--class", "printed", "--id", "11010119900307447X",
			"--name", "张三", "--key", key, "--issuer", "HALL-1", "--bind-memory-kib", "64"}, &out, &errb)
		return out.String(), errb.String(), code
	}
	text, msg, code := issue()
	if code != 0 || !strings.HasPrefix(text, "JKM1:") {
		t.Fatalf("issue: %d %q %s", code, text, msg)
	}
	m := regexp.MustCompile(`code ID ([0-9a-f]{32}) \(onepass-hub code revoke --cid ([0-9a-f]{32})\)`).FindStringSubmatch(msg)
	if m == nil || m[1] != m[2] {
		t.Fatalf("issue does not tell the code ID:\n%s", msg)
	}
	if out, code := hubCmd(t, dir, "code", "revoke", "--cid", m[1]); code != 0 || !strings.Contains(out, "code "+m[1]+" revoked") {
		t.Errorf("code revoke of the printed ID: %d %s", code, out)
	}
	first, err := os.ReadFile("code.png")
	if err != nil {
		t.Fatalf("the first code's picture: %v", err)
	}
	text2, msg, code := issue()
	if code != 1 || text2 != "" || !strings.Contains(msg, "code.png exists: give --out") {
		t.Errorf("second issue without --out: exit %d, %q\n%s", code, text2, msg)
	}
	if again, _ := os.ReadFile("code.png"); !bytes.Equal(again, first) {
		t.Error("code.png was overwritten")
	}
}

// TestServeSaysServingOnceBound: serve names the address it bound (the real port of :0) and
// kiosks can connect as soon as it says so; a port it cannot bind is an error, never "serving".
func TestServeSaysServingOnceBound(t *testing.T) { forBackends(t, testServeSaysServingOnceBound) }

func testServeSaysServingOnceBound(t *testing.T, db string) {
	dir := t.TempDir()
	if _, code := hubCmd(t, dir, "init", "keys"); code != 0 {
		t.Fatal("init keys")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if out, code := hubCmd(t, dir, "serve", "--listen", busy.Addr().String()); code != 1 || strings.Contains(out, "onepass hub: https://") {
		t.Errorf("serve on a busy port: exit %d\n%s", code, out)
	}

	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := adminRun(ctx, dir, db, []string{"serve", "--listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "onepass hub: https://")
	if !ok || strings.HasSuffix(addr, ":0") {
		t.Fatalf("serve said %q", line)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s right after serve said so: %v", addr, err)
	}
	c.Close()
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeMaxSkew: --max-skew takes the kiosks' [trust] max_skew range (1s–24h); anything else
// is a usage error before the hub opens or binds.
func TestServeMaxSkew(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-skew", "48h"}, "--max-skew 48h0m0s: want 1s–24h"},
		{[]string{"--max-skew", "0s"}, "want 1s–24h"},
		{[]string{"--max-skew", "soon"}, "invalid value"},
	} {
		if out, code := hubCmd(t, t.TempDir(), append([]string{"serve"}, tc.args...)...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("serve %v: exit %d\n%s", tc.args, code, out)
		}
	}
	if l, skew, err := serveFlags([]string{"--max-skew", "10m", "--listen", ":9443"}); err != nil || l != ":9443" || skew != 10*time.Minute {
		t.Errorf("serveFlags = %q %s %v", l, skew, err)
	}
}
