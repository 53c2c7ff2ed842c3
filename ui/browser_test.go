package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowser loads the kiosk page in headless Chromium against a fake lane and checks what a
// citizen would see: texts, colours with enough contrast, the language toggle and its reset, the
// health banner, the voice clip, and the reconnect screen.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the kiosk page test: %v; run scripts/dev-setup.sh", err)
	}

	k := newFake(idleView())
	var (
		down  atomic.Bool  // /events answers 503, as while the daemon restarts
		shed  atomic.Int32 // event streams refused while down
		mu    sync.Mutex
		paths []string
	)
	h := New(k, Options{Logger: quiet(), Heartbeat: time.Second}).Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if down.Load() && r.URL.Path == "/events" {
			shed.Add(1)
			http.Error(w, "restarting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	requested := func(p string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(paths, p)
	}

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL)); err != nil {
		t.Fatalf("start Chromium and load the page: %v", err)
	}
	page := &page{t: t, ctx: ctx}
	// Helpers the checks below evaluate in the page.
	page.eval(pageHelpers, nil)

	page.waitText("#title", "请刷身份证或出示健康码")
	page.wait(fmt.Sprintf(`q('#state').dataset.state === 'idle' && q('#state').dataset.version === '%d'`, k.View().Version))
	page.checkContrast("idle")

	pass := k.publish(decided(policy.ReasonOK, policy.Pass, "p1", 36.6))
	page.wait(fmt.Sprintf(`q('#outcome').dataset.outcome === 'PASS' && q('#state').dataset.version === '%d'`, pass.Version))
	page.checkTexts(map[string]string{"#title": "通行", "#text": "体温正常，请通行", "#name": "张*", "#idno": "1101**********1234", "#temp": "36.6 °C"})
	page.wait(`q('#icon').dataset.icon === 'pass' && q('#voice').dataset.sound === 'pass'`)
	if waitGo(func() bool { return requested("/audio/pass.wav") }); !requested("/audio/pass.wav") {
		t.Error("the page did not fetch /audio/pass.wav")
	}
	page.checkContrast("PASS")
	// The same decision shown again (decided, then showing) is not said twice.
	again := pass
	again.State = kiosk.PhaseDecided
	again = k.publish(again)
	page.wait(fmt.Sprintf(`q('#state').dataset.version === '%d' && q('#state').dataset.state === 'decided'`, again.Version))
	page.checkTexts(map[string]string{"#title": "通行"})
	var plays string
	page.eval(`q('#voice').dataset.plays`, &plays)
	if plays != "1" {
		t.Errorf("voice played %s times for one pass, want 1", plays)
	}

	var box struct{ W, H float64 }
	page.eval(`(() => { const r = q('#lang').getBoundingClientRect(); return {W: r.width, H: r.height}; })()`, &box)
	if box.W < 60 || box.H < 60 {
		t.Errorf("language button is %.0fx%.0f px, want at least 60x60", box.W, box.H)
	}
	var font struct{ Size, Line float64 }
	page.eval(`(() => { const s = getComputedStyle(q('#text')); return {Size: parseFloat(s.fontSize), Line: parseFloat(s.lineHeight)}; })()`, &font)
	if font.Size < 30 || font.Line < 1.3*font.Size {
		t.Errorf("#text font %.1fpx, line height %.1fpx; want >= 30px and >= 1.3x", font.Size, font.Line)
	}

	fever := k.publish(decided(policy.ReasonFever, policy.Deny, "p2", 38.2))
	page.wait(fmt.Sprintf(`q('#outcome').dataset.outcome === 'DENY' && q('#state').dataset.version === '%d'`, fever.Version))
	page.checkTexts(map[string]string{"#title": "禁止通行", "#text": "体温异常，请到人工通道复测", "#temp": "38.2 °C"})
	page.wait(`q('#icon').dataset.icon === 'deny' && q('#voice').dataset.sound === 'fever' && q('#voice').dataset.plays === '2'`)
	page.checkContrast("DENY")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#lang"))); err != nil {
		t.Fatalf("click English: %v", err)
	}
	page.waitText("#text", "Temperature high, please see staff")
	page.checkTexts(map[string]string{"#title": "Stop", "#lang": "中文"})
	page.wait(`document.documentElement.lang === 'en' && q('#lang').dataset.lang === 'en'`)
	// Switching language says the outcome again, in English; so does the next outcome of this pass.
	page.wait(`q('#voice').dataset.sound === 'fever_en' && q('#voice').dataset.plays === '3'`)
	retry := k.publish(decided(policy.ReasonRemeasure, policy.Retry, "p2", 36.5))
	page.wait(fmt.Sprintf(`q('#state').dataset.version === '%d' && q('#voice').dataset.sound === 'retry_en' && q('#voice').dataset.plays === '4'`, retry.Version))
	page.checkTexts(map[string]string{"#text": "Unusual reading, please measure again"})
	if waitGo(func() bool { return requested("/audio/retry_en.wav") }); !requested("/audio/retry_en.wav") {
		t.Error("the page did not fetch /audio/retry_en.wav")
	}

	// The next visitor's pass starts in Chinese again.
	k.publish(decided(policy.ReasonOK, policy.Pass, "p3", 36.4))
	page.waitText("#text", "体温正常，请通行")
	page.checkTexts(map[string]string{"#title": "通行", "#lang": "English", "#temp": "36.4 °C"})
	page.wait(`q('#voice').dataset.sound === 'pass' && q('#voice').dataset.plays === '5'`)

	for _, c := range []struct {
		r policy.Reason
		o policy.Outcome
	}{{policy.ReasonStatusUnknown, policy.Manual}, {policy.ReasonNoTemperature, policy.Retry}} {
		k.publish(decided(c.r, c.o, "p-"+string(c.r), 36.5))
		page.wait(fmt.Sprintf(`q('#outcome').dataset.outcome === '%s'`, c.o))
		page.checkTexts(map[string]string{"#title": policy.TextFor(c.r).TitleZh, "#text": policy.TextFor(c.r).Zh})
		page.checkContrast(string(c.o))
	}

	// A part that is down shows in the banner; the screen still works.
	v := idleView()
	v.Health["reader"] = device.Health{State: device.Down, Reason: "port gone", Since: t0}
	k.publish(v)
	page.waitText("#title", "请刷身份证或出示健康码")
	page.wait(`!q('#health').hidden && q('#health').textContent === '读卡器故障' && q('#health').dataset.parts === 'reader'`)
	page.checkContrast("idle with banner", "#health")
	v = idleView()
	v.Health["sync"] = device.Health{State: device.Degraded, Reason: "pull failing", Since: t0}
	k.publish(v)
	page.wait(`q('#health').textContent === '数据同步异常' && q('#health').dataset.parts === 'sync'`)

	// The daemon goes away: the page says so and hides the last result; it comes back by itself
	// and shows the state it missed.
	k.publish(decided(policy.ReasonOK, policy.Pass, "p4", 36.6))
	page.wait(`q('#outcome').dataset.outcome === 'PASS'`)
	down.Store(true)
	ts.CloseClientConnections()
	page.wait(`!q('#conn').hidden && q('#conn').textContent === '连接中…' && document.body.dataset.conn === 'lost'`)
	page.checkContrast("reconnecting", "#conn")
	back := k.publish(idleView())
	// A refused stream makes EventSource give up for good; the page must start a new one.
	if !waitGo(func() bool { return shed.Load() > 0 }) {
		t.Fatal("the page did not try to reconnect")
	}
	down.Store(false)
	page.wait(fmt.Sprintf(`q('#conn').hidden && q('#state').dataset.version === '%d'`, back.Version))
	page.checkTexts(map[string]string{"#title": "请刷身份证或出示健康码"})
}

// pageHelpers defines q and contrast(sel): the WCAG contrast ratio of an element's text colour
// against the first opaque background behind it.
const pageHelpers = `
window.q = (s) => document.querySelector(s);
window.contrast = (sel) => {
  const rgba = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const el = q(sel);
  const fg = rgba(getComputedStyle(el).color);
  let bg = [255, 255, 255];
  for (let n = el; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c; break; }
    if (c.length === 4 && c[3] > 0) return -1; // translucent: not judged here
  }
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
true`

type page struct {
	t   *testing.T
	ctx context.Context
}

// eval runs expr in the page and decodes its value into out (if not nil).
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("evaluate %s: decode %s: %v", expr, raw, err)
		}
	}
}

// wait polls a JS condition. (chromedp.Poll builds its predicate with new Function, which the
// page's Content-Security-Policy forbids, so poll from here.)
func (p *page) wait(cond string) {
	p.t.Helper()
	var ok bool
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.eval("!!("+cond+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var dump map[string]string
			p.eval(`({state: q('#state').outerHTML.slice(0, 200), title: q('#title').textContent, text: q('#text').textContent, conn: document.body.dataset.conn})`, &dump)
			p.t.Fatalf("timed out waiting for %s; page: %v", cond, dump)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *page) waitText(sel, want string) {
	p.t.Helper()
	b, _ := json.Marshal(want)
	p.wait(fmt.Sprintf(`q(%q).textContent === %s`, sel, b))
}

func (p *page) checkTexts(want map[string]string) {
	p.t.Helper()
	for sel, w := range want {
		var got string
		p.eval(fmt.Sprintf(`q(%q).textContent`, sel), &got)
		if got != w {
			p.t.Errorf("%s = %q, want %q", sel, got, w)
		}
	}
}

// checkContrast checks WCAG AA (4.5:1) for the visible texts of the screen.
func (p *page) checkContrast(screen string, extra ...string) {
	p.t.Helper()
	for _, sel := range append([]string{"#title", "#text", "#name", "#idno", "#temp", "#clock", "#lang"}, extra...) {
		var visible bool
		p.eval(fmt.Sprintf(`q(%q).getClientRects().length > 0`, sel), &visible)
		if !visible {
			continue
		}
		var ratio float64
		p.eval(fmt.Sprintf(`contrast(%q)`, sel), &ratio)
		if ratio < 4.5 {
			p.t.Errorf("%s: %s contrast %.2f:1, want >= 4.5:1", screen, sel, ratio)
		}
	}
}

func waitGo(cond func() bool) bool {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
