package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
	"onepass/kiosk/queue"
)

func TestTicketCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		switch r.URL.Path {
		case "/api/tickets":
			json.NewEncoder(w).Encode(queue.Issued{Ticket: queue.Ticket{Number: "A012", ServiceName: "社保"}, Ahead: 3, Printing: true})
		case "/api/tickets/call":
			json.NewEncoder(w).Encode(queue.Ticket{Number: "A012", Counter: "3"})
		case "/api/tickets/recall":
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(queue.ErrNoCurrent)
		case "/api/queue":
			json.NewEncoder(w).Encode(queue.Board{Day: "2026-11-26", Services: []queue.ServiceBoard{{Service: queue.Service{Code: "A", Name: "社保"}, Waiting: 2, Next: []queue.Waiter{{Number: "A013"}}}},
				Printer: queue.PrinterState{Configured: true, Error: "paper out", Unprinted: []string{"A012"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, tt := range []struct {
		args   []string
		code   int
		out    string
		posted string
	}{
		{[]string{"ticket", "issue", "--service", "A"}, 0, "A012  社保  3 ahead  (printing)", `POST /api/tickets {"priority":"","service":"A"}`},
		{[]string{"ticket", "call", "--counter", "3"}, 0, "请 A012 号到 3 号窗口", `POST /api/tickets/call {"counter":"3","service":""}`},
		{[]string{"ticket", "recall", "--counter", "3"}, 1, "onepassd refused: 本窗口当前没有叫号", ""},
		{[]string{"ticket", "call"}, 2, "needs --counter", ""},
		{[]string{"ticket", "transfer", "--counter", "3"}, 2, "needs --service", ""},
		{[]string{"ticket", "fly"}, 2, "unknown command", ""},
		{[]string{"queue"}, 1, "printer: FAILING (paper out); not printed: A012", "GET /api/queue"},
	} {
		got = nil
		var out, errb bytes.Buffer
		code := run(append([]string{"--addr", srv.URL}, tt.args...), &out, &errb)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.out) {
			t.Errorf("%v: exit %d, output %q %q; want %d, %q", tt.args, code, out.String(), errb.String(), tt.code, tt.out)
		}
		if tt.posted != "" && (len(got) == 0 || strings.TrimSpace(got[0]) != tt.posted) {
			t.Errorf("%v: sent %q, want %q", tt.args, got, tt.posted)
		}
	}
}

func TestStaffAdd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "staff.toml")
	var out bytes.Buffer
	if err := staffAdd([]string{"--id", "7", "--name", "王芳", "--counter", "3", "--file", file}, strings.NewReader("2468\n"), &out); err != nil {
		t.Fatal(err)
	}
	if err := staffAdd([]string{"--id", "8", "--name", "李雷", "--file", file}, strings.NewReader("13579"), &out); err != nil {
		t.Fatal(err)
	}
	users, err := config.ReadStaffFile(file)
	if err != nil || len(users) != 2 || users[0].ID != "7" || users[0].Counter != "3" {
		t.Fatalf("staff file: %+v, %v", users, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(users[0].PINHash), []byte("2468")) != nil {
		t.Error("the hash does not match the PIN")
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "2468") {
		t.Error("the PIN itself is in the file")
	}
	if err := staffAdd([]string{"--id", "7", "--name", "x", "--file", file}, strings.NewReader("1111\n"), &out); err == nil {
		t.Error("staff 7 added twice")
	}
	for _, pin := range []string{"12", "abcd", ""} {
		if err := staffAdd([]string{"--id", "9", "--name", "x"}, strings.NewReader(pin), &out); err == nil {
			t.Errorf("PIN %q accepted", pin)
		}
	}
}
