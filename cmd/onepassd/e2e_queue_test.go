package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/drivers/escpos/escpossim"
)

// TestQueueEndToEnd: the real daemon in --sim prints through the real escpos driver to the
// printer simulator on a pty. A citizen passes and picks a service on the kiosk screen (headless
// Chromium); staff issue, call and check in an appointment with onepassctl; the printer runs out
// of paper and the number still comes; after a restart the queue is where it was.
func TestQueueEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	data := t.TempDir()
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.url)); err != nil {
		t.Fatalf("open the kiosk screen: %v", err)
	}

	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "36.6")
	screenShows(t, ctx, "PASS", "通行")
	waitJS(t, ctx, `document.querySelectorAll('.svc').length === 3`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.svc[data-service="A"]`))); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.querySelector('#ticket-no').textContent === 'A001' && document.querySelector('#ticket-print').dataset.print === 'printed'`)

	// The simulator received the ticket over the serial line and reads it back.
	var ps escpossim.State
	getJSON(t, d.url+"api/sim/printer", &ps)
	text := strings.Join(ps.LastText, "\n")
	if ps.Printed != 1 || !strings.Contains(text, "A001") || !strings.Contains(text, "社保") || !strings.Contains(text, "模拟政务服务大厅") {
		t.Errorf("printer simulator: %d printed, last:\n%s", ps.Printed, text)
	}
	resp, err := http.Get(d.url + "api/sim/printer/last.png")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("last.png: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	if out := d.onepassctl("ticket", "issue", "--service", "B", "--priority", "elderly"); !strings.HasPrefix(out, "B001  医保") || !strings.Contains(out, "(printed)") {
		t.Errorf("ticket issue: %q", out)
	}
	if out := d.onepassctl("ticket", "call", "--counter", "3"); out != "请 B001 号到 3 号窗口\n" {
		t.Errorf("ticket call: %q", out)
	}
	code := strings.TrimSpace(d.onepassctl("sim", "appointment", "--service", "C"))
	if out := d.onepassctl("ticket", "checkin", code); !strings.HasPrefix(out, "C001  户籍  slot ") {
		t.Errorf("ticket checkin: %q", out)
	}
	if out, err := exec.Command(ctl, "--addr", d.url, "ticket", "checkin", code).CombinedOutput(); err == nil || !strings.Contains(string(out), "该预约已签到") {
		t.Errorf("second check-in: %v %s", err, out)
	}

	// Out of paper: the ticket is still issued, but onepassctl says it was not printed and
	// fails; the queue says the printer is failing; the simulator's count is the printer's.
	d.onepassctl("sim", "printer", "paper", "out")
	if out, err := exec.Command(ctl, "--addr", d.url, "ticket", "issue", "--service", "A").CombinedOutput(); err == nil ||
		!strings.HasPrefix(string(out), "A002") || !strings.Contains(string(out), "未打印：缺纸 / not printed: paper out") {
		t.Errorf("ticket issue without paper: %v\n%s", err, out)
	}
	var sim struct {
		Tickets int `json:"tickets_printed"`
	}
	getJSON(t, d.url+"api/sim", &sim)
	getJSON(t, d.url+"api/sim/printer", &ps)
	if sim.Tickets != 3 || ps.Printed != 3 {
		t.Errorf("tickets_printed %d, the printer simulator printed %d; want both 3 (A001, B001, C001)", sim.Tickets, ps.Printed)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(ctl, "--addr", d.url, "queue").CombinedOutput()
		if err != nil && strings.Contains(string(out), "printer: FAILING") && strings.Contains(string(out), "not printed: A002") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue never reported the failing printer: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop()

	// Restart: the same queue, and numbering goes on.
	d = startDaemon(t, bin, ctl, "--sim", "--data", data)
	var b struct {
		Services []struct {
			Code    string `json:"code"`
			Waiting int    `json:"waiting"`
		} `json:"services"`
		Counters []struct {
			ID      string `json:"id"`
			Current *struct {
				Number string `json:"number"`
			} `json:"current"`
		} `json:"counters"`
	}
	getJSON(t, d.url+"api/queue", &b)
	if b.Services[0].Waiting != 2 || b.Services[2].Waiting != 1 || b.Counters[2].Current == nil || b.Counters[2].Current.Number != "B001" {
		t.Errorf("queue after restart: %+v", b)
	}
	if out := d.onepassctl("ticket", "issue", "--service", "A"); !strings.HasPrefix(out, "A003") {
		t.Errorf("first ticket after restart: %q", out)
	}
	d.stop()
}

func waitJS(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("screen never met %s: %v\nscreen text:\n%s", cond, err, body)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}
