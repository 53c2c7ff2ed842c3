package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/device"
)

// tab opens url in a new tab of the browser behind ctx, with the page helpers loaded.
func tab(t *testing.T, ctx context.Context, url string) *page {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	p := &page{t: t, ctx: tctx}
	p.eval(pageHelpers, nil)
	return p
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.wait(fmt.Sprintf(`q(%q) && q(%q).getClientRects().length > 0`, sel, sel))
	if err := chromedp.Do(p.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("click %s: %v", sel, err)
	}
}

func (p *page) set(sel, value string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		p.t.Fatalf("set %s: %v", sel, err)
	}
}

// screenshot saves the page when UI_SHOTS names a directory (for a person to look at).
func (p *page) screenshot(name string) {
	dir := os.Getenv("UI_SHOTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644)
	}
}

// TestQueueBrowser is the queue as people meet it, in headless Chromium against a real queue on
// a real database: a citizen picks a service after a PASS and sees the number (printed, then
// with the printer out of paper); staff log in (a wrong PIN is refused and locks out), see the
// printer flagged, call the next ticket, and the hall screen shows the call and announces it
// (voice_test.go checks what it says).
func TestQueueBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the queue pages test: %v; run scripts/dev-setup.sh", err)
	}
	e := newQueueEnv(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}

	// The citizen.
	kiosk := tab(t, bctx, e.ts.URL+"/")
	kiosk.waitText("#title", "请刷身份证或出示健康码")
	kiosk.wait(`!q('#ticket').getClientRects().length`)
	e.pass()
	kiosk.wait(`q('#outcome').dataset.outcome === 'PASS' && q('#ticket').dataset.step === 'pick' && document.querySelectorAll('.svc').length === 3`)
	kiosk.checkTexts(map[string]string{"#ticket-title": "请选择办理业务", "#title": "通行"})
	var boxes []struct{ W, H float64 }
	kiosk.eval(`[...document.querySelectorAll('.svc')].map((b) => { const r = b.getBoundingClientRect(); return {W: r.width, H: r.height}; })`, &boxes)
	for i, b := range boxes {
		if b.W < 60 || b.H < 60 {
			t.Errorf("service button %d is %.0fx%.0f px, want at least 60x60", i, b.W, b.H)
		}
	}
	kiosk.checkContrast("picker", ".svc")
	kiosk.screenshot("kiosk-pick")
	kiosk.click(`.svc[data-service="B"]`)
	kiosk.waitText("#ticket-no", "B001")
	kiosk.wait(`q('#ticket-print').dataset.print === 'printed'`)
	kiosk.checkTexts(map[string]string{"#ticket-label": "您的号码", "#ticket-info": "医保 · 前面还有 0 人等候", "#ticket-print": "请取走号票，留意叫号"})
	var size float64
	kiosk.eval(`parseFloat(getComputedStyle(q('#ticket-no')).fontSize)`, &size)
	if size < 120 {
		t.Errorf("the number is %.0f px high, want it large (>= 120 px)", size)
	}
	// The lane goes back to idle: the number stays on screen.
	e.k.publish(idleView())
	kiosk.wait(`q('#state').dataset.state === 'idle' && q('#ticket-no').textContent === 'B001' && q('#ticket').getClientRects().length > 0`)
	kiosk.checkContrast("number shown", "#ticket-no", "#ticket-info", "#ticket-print")
	kiosk.screenshot("kiosk-number")
	e.printer.mu.Lock()
	if len(e.printer.printed) != 1 || e.printer.printed[0].Number != "B001" || e.printer.printed[0].Service != "医保" {
		t.Errorf("printed %+v", e.printer.printed)
	}
	e.printer.mu.Unlock()

	// The next citizen, and the printer has run out of paper: the number stays large.
	e.printer.setOut(true)
	e.pass()
	kiosk.wait(`q('#ticket').dataset.step === 'pick'`)
	kiosk.click(`.svc[data-service="A"]`)
	kiosk.waitText("#ticket-no", "A001")
	kiosk.wait(`q('#ticket-print').dataset.print === 'failed'`)
	kiosk.checkTexts(map[string]string{"#ticket-print": "号票未能打印，请记住您的号码"})
	kiosk.checkContrast("print failed", "#ticket-print")
	kiosk.screenshot("kiosk-print-failed")

	// Staff: a wrong PIN is refused, then the ID is locked out.
	hall := tab(t, bctx, e.ts.URL+"/hall")
	hall.wait(`q('#waiting').tBodies[0].rows.length === 3`)
	hall.checkTexts(map[string]string{"#call-text": "请留意叫号"})
	staff := tab(t, bctx, e.ts.URL+"/staff")
	staff.wait(`document.body.dataset.view === 'login' && q('#login-counter').options.length === 4`)
	const refused = "登录失败：工号或密码错误，或已锁定（连续错误 3 次锁定 5 分钟）"
	login := func(id, pin string) {
		t.Helper()
		staff.eval(`q('#login-msg').textContent = ''`, nil)
		staff.set("#login-staff", id)
		staff.set("#login-pin", pin)
		staff.click("#login-go")
	}
	for i := 1; i <= 3; i++ {
		login("7", "1357")
		staff.wait(fmt.Sprintf(`q('#login-msg').textContent === %q && q('#login-msg').dataset.kind === 'error'`, refused))
		if i == 1 {
			// Too soon after a failure from this desk: the console counts the wait down, button off.
			login("7", "1357")
			staff.wait(`q('#login-msg').textContent === '登录失败次数过多，请 1 秒后再试' && q('#login-msg').dataset.kind === 'wait' && q('#login-go').disabled`)
			var ratio float64
			if staff.eval(`contrast('#login-msg')`, &ratio); ratio < 4.5 {
				t.Errorf("the wait message: contrast %.2f:1, want >= 4.5:1", ratio)
			}
			staff.screenshot("staff-login-wait")
			staff.wait(`!q('#login-go').disabled && q('#login-msg').textContent === '可以重新登录'`)
		}
		e.advance(time.Duration(1<<(i-1)) * time.Second) // this desk's wait: 1 s, 2 s, 4 s
	}
	// Locked: the right PIN is refused in the same words.
	login("7", testPIN)
	staff.wait(fmt.Sprintf(`q('#login-msg').textContent === %q`, refused))
	if v := staff.view(); v != "login" {
		t.Fatalf("locked-out staff got in: view %s", v)
	}
	e.advance(8 * time.Second)
	staff.screenshot("staff-locked")

	// Another member of staff logs in at counter 3 and sees the printer flagged.
	login("8", testPIN)
	staff.wait(`document.body.dataset.view === 'console' && q('#me-counter').textContent === '3 号'`)
	staff.wait(`q('#printer-alert').getClientRects().length > 0 && q('#printer-alert').textContent.includes('A001')`)
	staff.wait(`q('#queues').tBodies[0].rows.length === 3 && q('#outbox').textContent === '4'`)
	// Every part in the health list by its Chinese name, sync too.
	v := idleView()
	v.Health["sync"] = device.Healthy(t0)
	e.k.publish(v)
	staff.wait(`q('#health li[data-part="sync"]') && q('#health li[data-part="sync"]').textContent === '数据同步：正常' &&
		[...document.querySelectorAll('#health li')].every((li) => !li.textContent.startsWith(li.dataset.part))`)
	staff.screenshot("staff-console")

	// A manual ID entry refused for fever: no ticket, and the typed number and name leave the
	// screen at once, so the next person at the desk cannot read them.
	staff.set("#issue-id", "110101199003074477")
	staff.set("#issue-name", "张三")
	staff.set("#issue-temp", "38.2")
	staff.click("#issue")
	staff.wait(`q('#msg').textContent.includes('体温异常') && q('#issue-id').value === '' && q('#issue-name').value === ''`)

	// A ticket issued at the desk while the printer has no paper: the console says to tell the number.
	staff.set("#issue-service", "C")
	staff.click("#issue")
	staff.wait(`q('#msg').textContent === '已取号 C001，前面 0 人；未打印：缺纸，请告知市民号码' && q('#issued').textContent === 'C001'`)

	// Call next to counter 3: B001 waited longest; the hall screen shows it and announces it.
	staff.click("#call-next")
	staff.wait(`q('#msg').textContent === '请 B001 号到 3 号窗口' && q('#current').dataset.number === 'B001'`)
	hall.wait(`q('#call').dataset.number === 'B001' && q('#call').dataset.counter === '3' && q('#voice').dataset.queued === '1'`)
	hall.checkTexts(map[string]string{"#call-text": "请 B001 号到 3 号窗口", "#call-number": "B001", "#call-counter": "3"})
	staff.click("#call-next")
	hall.wait(`q('#call').dataset.number === 'A001' && q('#voice').dataset.queued === '2' && q('#calls').textContent.includes('B001')`)
	hall.screenshot("hall")
	var contrast float64
	hall.eval(`contrast('#call-number')`, &contrast)
	if contrast < 4.5 {
		t.Errorf("hall call number contrast %.2f:1", contrast)
	}
}

func (p *page) view() string {
	var v string
	p.eval(`document.body.dataset.view`, &v)
	return v
}
