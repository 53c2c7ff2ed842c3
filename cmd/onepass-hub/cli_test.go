package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"onepass/sync/hub"
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
	if l, skew, push, err := serveFlags([]string{"--max-skew", "10m", "--listen", ":9443"}); err != nil || l != ":9443" || skew != 10*time.Minute || push != 5*time.Second {
		t.Errorf("serveFlags = %q %s %s %v", l, skew, push, err)
	}
}

// TestServePushInterval: --push-interval takes the kiosks' [sync] push_interval range
// (100ms–1h), default 5s like theirs.
func TestServePushInterval(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--push-interval", "2h"}, "--push-interval 2h0m0s: want 100ms–1h"},
		{[]string{"--push-interval", "10ms"}, "want 100ms–1h"},
	} {
		if out, code := hubCmd(t, t.TempDir(), append([]string{"serve"}, tc.args...)...); code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("serve %v: exit %d\n%s", tc.args, code, out)
		}
	}
	if _, _, push, err := serveFlags([]string{"--push-interval", "30s"}); err != nil || push != 30*time.Second {
		t.Errorf("serveFlags = %s %v", push, err)
	}
}

// TestAdminOperators: `admin add` reads the password from standard input, refuses a short one
// and a name that is no operator name, stores only a bcrypt hash; `admin list` and `admin remove`.
func TestAdminOperators(t *testing.T) {
	dir := t.TempDir()
	if out, code := hubCmd(t, dir, "init", "keys"); code != 0 {
		t.Fatalf("init keys: %d\n%s", code, out)
	}
	withStdin := func(in string, args ...string) (string, int) {
		r, w, _ := os.Pipe()
		w.WriteString(in)
		w.Close()
		saved := os.Stdin
		os.Stdin = r
		defer func() { os.Stdin = saved }()
		return hubCmd(t, dir, args...)
	}
	if out, code := withStdin("short\n", "admin", "add", "--user", "li.ming"); code != 1 || !strings.Contains(out, "want 12 or more") {
		t.Errorf("short password: %d %q", code, out)
	}
	if out, code := withStdin("correct horse battery\n", "admin", "add", "--user", "110101199003074477"); code != 2 {
		t.Errorf("an ID number as the name: %d %q", code, out)
	}
	if out, code := withStdin("correct horse battery\n", "admin", "add", "--user", "li.ming"); code != 0 || !strings.Contains(out, "/admin/") {
		t.Fatalf("admin add: %d %q", code, out)
	}
	if out, code := withStdin("another password!\n", "admin", "add", "--user", "li.ming"); code != 1 || !strings.Contains(out, "already exists") {
		t.Errorf("second add: %d %q", code, out)
	}
	db, _ := os.ReadFile(filepath.Join(dir, "hub.db"))
	if strings.Contains(string(db), "correct horse battery") {
		t.Error("the password itself is in the database")
	}
	if out, code := hubCmd(t, dir, "admin", "list"); code != 0 || !strings.HasPrefix(out, "li.ming\tadded ") {
		t.Errorf("admin list: %d %q", code, out)
	}
	// A new password: the old one no longer matches, the operator's session ends, the name
	// locked by wrong passwords is unlocked.
	h, err := hub.Open(context.Background(), dir, hub.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := h.NewOperatorSession(context.Background(), "li.ming", time.Hour)
	h.CountLoginFailure(context.Background(), hub.OperatorNameKey("li.ming"), 1, time.Hour, time.Hour, true)
	h.Close()
	if out, code := withStdin("too short\n", "admin", "passwd", "--user", "li.ming"); code != 1 || !strings.Contains(out, "want 12 or more") {
		t.Errorf("passwd with a short password: %d %q", code, out)
	}
	if out, code := withStdin("a new password 2\n", "admin", "passwd"); code != 2 || !strings.Contains(out, "needs --user") {
		t.Errorf("passwd without --user: %d %q", code, out)
	}
	if out, code := withStdin("a new password 2\n", "admin", "passwd", "--user", "nobody"); code != 1 || !strings.Contains(out, "no operator") {
		t.Errorf("passwd of no operator: %d %q", code, out)
	}
	if out, code := withStdin("a new password 2\n", "admin", "passwd", "--user", "li.ming"); code != 0 || !strings.Contains(out, "sessions ended") {
		t.Fatalf("admin passwd: %d %q", code, out)
	}
	if h, err = hub.Open(context.Background(), dir, hub.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	hash, _, _ := h.OperatorHash(context.Background(), "li.ming")
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("a new password 2")) != nil ||
		bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse battery")) == nil {
		t.Error("the stored hash is not the new password's")
	}
	if _, ok, _ := h.OperatorSessionFor(context.Background(), tok, time.Hour); ok {
		t.Error("the session begun before the new password is still live")
	}
	if c, _ := h.LoginCounter(context.Background(), hub.OperatorNameKey("li.ming")); !c.Until.IsZero() {
		t.Errorf("still locked after a new password: %+v", c)
	}
	h.Close()
	if out, code := hubCmd(t, dir, "admin", "remove", "--user", "li.ming"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("admin remove: %d %q", code, out)
	}
	if out, code := hubCmd(t, dir, "admin", "list"); code != 0 || out != "" {
		t.Errorf("admin list after remove: %d %q", code, out)
	}
	if out, code := hubCmd(t, dir, "admin", "remove", "--user", "li.ming"); code != 1 {
		t.Errorf("remove again: %d %q", code, out)
	}
}
