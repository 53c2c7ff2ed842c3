package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"onepass/kiosk/queue"
)

func TestTicketCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		switch r.URL.Path {
		case "/api/tickets":
			// What the printer did depends on the service asked for, one case each.
			is := queue.Issued{Ticket: queue.Ticket{Number: "A012", ServiceName: "社保"}, Ahead: 3, Printing: true}
			switch {
			case strings.Contains(string(b), `"A"`):
				is.Printed = true
			case strings.Contains(string(b), `"B"`):
				is.PrintProblemZh, is.PrintProblem = "缺纸", "paper out"
			case strings.Contains(string(b), `"C"`): // a daemon that does not wait for the printer
			default:
				is.Printing = false
			}
			json.NewEncoder(w).Encode(is)
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
		{[]string{"ticket", "issue", "--service", "A"}, 0, "A012  社保  3 ahead  (printed)", `POST /api/tickets {"service":"A"}`},
		{[]string{"ticket", "issue", "--service", "B"}, 1, "onepassctl: 未打印：缺纸 / not printed: paper out", ""},
		{[]string{"ticket", "issue", "--service", "B"}, 1, "A012  社保  3 ahead  (NOT PRINTED: tell the number)", ""},
		{[]string{"ticket", "issue", "--service", "C"}, 0, "A012  社保  3 ahead  (printing)", ""},
		{[]string{"ticket", "issue", "--service", "D"}, 0, "A012  社保  3 ahead  (no printer)", ""},
		{[]string{"ticket", "call", "--counter", "3"}, 0, "请 A012 号到 3 号窗口", `POST /api/tickets/call {"counter":"3"}`},
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
