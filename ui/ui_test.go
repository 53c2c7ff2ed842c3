package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestServer(t *testing.T, k Kiosk, o Options) *httptest.Server {
	t.Helper()
	o.Logger = quiet()
	ts := httptest.NewServer(New(k, o).Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestAPIState(t *testing.T) {
	k := newFake(idleView())
	want := k.publish(decided(policy.ReasonOK, policy.Pass, "p1", 36.6))
	ts := newTestServer(t, k, Options{})

	resp, body := get(t, ts.URL+"/api/state")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"version": float64(want.Version), "state": "showing", "outcome": "PASS", "reason": "ok",
		"masked_name": "张*", "masked_id": "1101**********1234", "temp_c": 36.6, "pass_id": "p1",
		"title_zh": "通行", "text_zh": "体温正常，请通行", "text_en": "Temperature normal, please pass",
		"sound": "pass", "at": t0.Format(time.RFC3339),
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if h, _ := m["health"].(map[string]any); len(h) != 6 {
		t.Errorf("health = %v, want 6 parts", m["health"])
	}
}

// sse reads Server-Sent Events frames.
type sse struct {
	t    *testing.T
	body io.ReadCloser
	fr   chan frame
}

type frame struct {
	id, event, data, retry string
	comments               []string
	err                    error
}

func openEvents(t *testing.T, url string, lastID string) *sse {
	t.Helper()
	req, err := http.NewRequest("GET", url+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &sse{t: t, body: resp.Body, fr: make(chan frame)}
	t.Cleanup(func() { resp.Body.Close() })
	go s.read(bufio.NewReader(resp.Body))
	return s
}

func (s *sse) read(r *bufio.Reader) {
	var f frame
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			s.fr <- frame{err: err}
			close(s.fr)
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			s.fr <- f
			f = frame{}
			continue
		}
		if c, ok := strings.CutPrefix(line, ":"); ok {
			f.comments = append(f.comments, strings.TrimSpace(c))
			continue
		}
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "id":
			f.id = v
		case "event":
			f.event = v
		case "data":
			f.data += v
		case "retry":
			f.retry = v
		}
	}
}

func (s *sse) next() frame {
	s.t.Helper()
	select {
	case f, ok := <-s.fr:
		if !ok {
			s.t.Fatal("stream already ended")
		}
		return f
	case <-time.After(5 * time.Second):
		s.t.Fatal("no event within 5s")
	}
	panic("unreachable")
}

// nextState skips comments and the retry frame and returns the next state event.
func (s *sse) nextState() (frame, kiosk.View) {
	s.t.Helper()
	for {
		f := s.next()
		if f.err != nil {
			s.t.Fatalf("stream ended: %v", f.err)
		}
		if f.event == "" {
			continue
		}
		if f.event != "state" {
			s.t.Fatalf("event %q, want state", f.event)
		}
		var v kiosk.View
		if err := json.Unmarshal([]byte(f.data), &v); err != nil {
			s.t.Fatalf("data %q: %v", f.data, err)
		}
		return f, v
	}
}

func TestEvents(t *testing.T) {
	k := newFake(idleView())
	first := k.publish(decided(policy.ReasonFever, policy.Deny, "p1", 38.2))
	ts := newTestServer(t, k, Options{Heartbeat: time.Hour})

	s := openEvents(t, ts.URL, "")
	if f := s.next(); f.retry != "1000" {
		t.Fatalf("first frame %+v, want retry: 1000", f)
	}
	f, v := s.nextState()
	if f.id != strconv.FormatUint(first.Version, 10) || v.Reason != policy.ReasonFever || v.TextZh != "体温异常，请到人工通道复测" || *v.TempC != 38.2 {
		t.Fatalf("first event id %s view %+v, want the full current view %d", f.id, v, first.Version)
	}

	next := k.publish(decided(policy.ReasonOK, policy.Pass, "p2", 36.6))
	f, v = s.nextState()
	if f.id != strconv.FormatUint(next.Version, 10) || v.Version != next.Version || v.Outcome != policy.Pass || v.PassID != "p2" {
		t.Fatalf("second event id %s view %+v, want version %d PASS", f.id, v, next.Version)
	}

	// A reconnect, even with a Last-Event-ID, starts again with the full current view.
	s.body.Close()
	s2 := openEvents(t, ts.URL, f.id)
	f, v = s2.nextState()
	if f.id != strconv.FormatUint(next.Version, 10) || v.MaskedName != "张*" || v.TextEn != "Temperature normal, please pass" {
		t.Fatalf("after reconnect: id %s view %+v", f.id, v)
	}
	waitFor(t, "the closed stream's subscription to end", func() bool { return k.subscribers() == 1 })
}

func TestEventsHeartbeat(t *testing.T) {
	k := newFake(idleView())
	ts := newTestServer(t, k, Options{Heartbeat: 20 * time.Millisecond})
	s := openEvents(t, ts.URL, "")
	s.nextState()
	for range 3 { // the frames after the state are pings only
		if f := s.next(); len(f.comments) != 1 || f.comments[0] != "ping" || f.event != "" {
			t.Fatalf("frame %+v, want a ping comment", f)
		}
	}
}

func TestServeShutdownEndsStreams(t *testing.T) {
	k := newFake(idleView())
	srv := New(k, Options{Addr: "127.0.0.1:0", Logger: quiet()})
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()

	s := openEvents(t, "http://"+l.Addr().String(), "")
	s.nextState()
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(4 * time.Second): // Shutdown's own timeout is 5s
		t.Fatal("Serve did not return: the open stream held the shutdown")
	}
	if f := s.next(); f.err == nil {
		t.Fatalf("after shutdown got %+v, want the stream to end", f)
	}
	t.Logf("shutdown took %v", time.Since(start))
	waitFor(t, "the subscription to end", func() bool { return k.subscribers() == 0 })
	if _, err := http.Get("http://" + l.Addr().String() + "/healthz"); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change map[string]device.HealthState
		code   int
		status string
	}{
		{"all ok", nil, 200, "ok"},
		{"printer not configured", map[string]device.HealthState{"printer": device.NotConfigured}, 200, "ok"},
		{"camera degraded", map[string]device.HealthState{"camera": device.Degraded}, 200, "degraded"},
		{"reader down", map[string]device.HealthState{"reader": device.Down}, 200, "degraded"},
		{"store down", map[string]device.HealthState{"store": device.Down, "camera": device.Degraded}, 503, "down"},
		{"store degraded", map[string]device.HealthState{"store": device.Degraded}, 200, "degraded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := idleView()
			for p, st := range tc.change {
				v.Health[p] = device.Health{State: st, Reason: "test", Since: t0}
			}
			ts := newTestServer(t, newFake(v), Options{})
			resp, body := get(t, ts.URL+"/healthz")
			var h struct {
				Status string                   `json:"status"`
				Parts  map[string]device.Health `json:"parts"`
			}
			if err := json.Unmarshal(body, &h); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || h.Status != tc.status || len(h.Parts) != 6 {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, body, tc.code, tc.status)
			}
			for p, st := range tc.change {
				if h.Parts[p].State != st || h.Parts[p].Reason != "test" {
					t.Errorf("part %s = %+v, want %s", p, h.Parts[p], st)
				}
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	ts := newTestServer(t, newFake(idleView()), Options{Sim: SimOptions{Rig: &fakeRig{}}})
	for _, tc := range []struct {
		path, ctype string
		code        int
		contains    string
	}{
		{"/", "text/html", 200, `id="outcome"`},
		{"/static/app.js", "text/javascript", 200, "EventSource"},
		{"/static/app.css", "text/css", 200, "#0a6b2e"},
		{"/audio/pass.wav", "audio/wav", 200, "RIFF"},
		{"/audio/nope.wav", "", 404, ""},
		{"/audio/pass.mp3", "", 404, ""},
		{"/audio/..%2fui.go", "", 404, ""},
		{"/static/../ui.go", "", 404, ""},
		{"/nope", "", 404, ""},
		{"/api/sim", "application/json", 200, `"tickets_printed":3`},
		{"/api/sim/card", "text/plain", 405, ""},
	} {
		resp, body := get(t, ts.URL+tc.path)
		if resp.StatusCode != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: %d %q, want %d %q containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.ctype, tc.contains)
		}
	}
	if resp, _ := get(t, ts.URL+"/"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
	// Offline: nothing on the page may come from another host (the SVG namespace is a name, not a fetch).
	for _, p := range []string{"/", "/static/app.js", "/static/app.css"} {
		_, body := get(t, ts.URL+p)
		if s := strings.ReplaceAll(string(body), `xmlns="http://www.w3.org/2000/svg"`, ""); strings.Contains(s, "http:") || strings.Contains(s, "https:") || strings.Contains(s, "//cdn") {
			t.Errorf("%s refers to an external URL", p)
		}
	}
}

// TestEventStreamsAreCapped: past maxStreams open streams, a new one is refused (and may retry);
// once one closes, a new one is served again.
func TestEventStreamsAreCapped(t *testing.T) {
	ts := newTestServer(t, newFake(idleView()), Options{Heartbeat: time.Minute})
	var open []*http.Response
	for range maxStreams {
		resp, err := http.Get(ts.URL + "/events")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream %d: %v %v", len(open)+1, resp, err)
		}
		open = append(open, resp)
	}
	resp, err := http.Get(ts.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("stream past the cap: %d", resp.StatusCode)
	}
	open[0].Body.Close()
	waitFor(t, "a stream slot to free", func() bool {
		r, err := http.Get(ts.URL + "/events")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	for _, r := range open[1:] {
		r.Body.Close()
	}
}
