package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/device"
)

// TestStarting: before Ready every route answers at once (never a refused or hanging request),
// in the form its client can retry; after Ready the real handler answers.
func TestStarting(t *testing.T) {
	st := NewStarting("1.2.3", quiet())
	ts := httptest.NewServer(st)
	defer ts.Close()
	tests := []struct {
		path, ctype, body string
		code              int
	}{
		{"/", "text/html", `http-equiv="refresh"`, 503},
		{"/", "text/html", "正在启动", 503},
		{"/static/app.js", "text/html", "onepass 1.2.3", 503},
		{"/api/state", "application/json", `"status":"starting"`, 503},
		{"/api/status", "application/json", `"version":"1.2.3"`, 503},
		{"/healthz", "application/json", `"starting"`, 503},
		{"/events", "text/event-stream", "retry: 1000", 200},
	}
	for _, tt := range tests {
		resp, body := get(t, ts.URL+tt.path)
		if resp.StatusCode != tt.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(string(body), tt.body) {
			t.Errorf("GET %s while starting: %d %s %q; want %d %s containing %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.code, tt.ctype, tt.body)
		}
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("GET %s while starting: no Retry-After", tt.path)
		}
	}

	st.Ready(New(newFake(idleView()), Options{Logger: quiet()}).Handler())
	resp, body := get(t, ts.URL+"/api/state")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"state":"idle"`) {
		t.Errorf("after Ready: /api/state %d %s", resp.StatusCode, body)
	}
}

// TestStartingBrowser: Chromium pointed at a daemon that is still opening its devices shows the
// starting screen, then the kiosk screen by itself once the daemon is ready: no error page, no
// operator action.
func TestStartingBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the kiosk page test: %v; run scripts/dev-setup.sh", err)
	}
	st := NewStarting("test", quiet())
	ts := httptest.NewServer(st)
	defer ts.Close()

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatalf("start Chromium and load the page: %v", err)
	}
	waitUntil(t, ctx, `q('h1') !== null && q('h1').textContent === '正在启动…'`)

	st.Ready(New(newFake(idleView()), Options{Logger: quiet()}).Handler())
	waitUntil(t, ctx, `q('#title') !== null && q('#title').textContent === '请刷身份证或出示健康码'`)
}

// waitUntil polls cond in the page across reloads (page.wait evaluates helpers that a reload drops).
func waitUntil(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(()=>{const q=s=>document.querySelector(s); try { return !!(`+cond+`) } catch(e) { return false }})()`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			title, _ := chromedp.Run(ctx, chromedp.Title())
			t.Fatalf("timed out waiting for %s (page title %q, err %v)", cond, title, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStatus: /api/status merges the daemon's figures with the lane's view and the overall health.
func TestStatus(t *testing.T) {
	depth, age := 7, 42.0
	v := idleView()
	v.Health = map[string]device.Health{"reader": {State: device.Down, Reason: "port gone"}, "store": {State: device.OK}}
	srv := New(newFake(v), Options{Logger: quiet(), Status: func(context.Context) Status {
		return Status{Version: "9.9", UptimeS: 12, OutboxDepth: &depth, ReplicaAgeS: &age}
	}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, body := get(t, ts.URL+"/api/status")
	var st Status
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/status: %d %s %v", resp.StatusCode, body, err)
	}
	if st.Version != "9.9" || st.Health != "degraded" || *st.OutboxDepth != 7 || *st.ReplicaAgeS != 42 ||
		st.Parts["reader"].Reason != "port gone" || st.State != string(v.State) || st.LastSync != nil {
		t.Errorf("status %+v", st)
	}
	if !strings.Contains(string(body), `"last_sync":null`) {
		t.Errorf("a kiosk that never synced must say null: %s", body)
	}

	// Without a status source the route does not exist (the daemon always gives one).
	ts2 := httptest.NewServer(New(newFake(v), Options{Logger: quiet()}).Handler())
	defer ts2.Close()
	if resp, _ := get(t, ts2.URL+"/api/status"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no Status func: %d, want 404", resp.StatusCode)
	}
}
