package ui

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
)

// TestBrowserPartDownAndPrompts shows, in headless Chromium, what issue 14 added to the kiosk
// screen: the thermometer_down result and the closed lane in Chinese and English, the card prompt
// after a printed code, the idle prompt when one way in is broken, and the notice for an
// appointment code shown before a pass.
func TestBrowserPartDownAndPrompts(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the kiosk page test: %v; run scripts/dev-setup.sh", err)
	}
	k := newFake(idleView())
	ts := httptest.NewServer(New(k, Options{Logger: quiet(), Heartbeat: time.Second}).Handler())
	defer ts.Close()
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
	page.eval(pageHelpers, nil)
	page.waitText("#title", "请刷身份证或出示健康码")
	page.wait(fmt.Sprintf(`q('#state').dataset.version === '%d'`, k.View().Version)) // connected
	english := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#lang"))); err != nil {
			t.Fatalf("click the language button: %v", err)
		}
	}
	shown := func(v kiosk.View) kiosk.View {
		t.Helper()
		v = k.publish(v)
		page.wait(fmt.Sprintf(`q('#state').dataset.version === '%d'`, v.Version))
		return v
	}

	// The thermometer is down past fault_grace: a card gets MANUAL thermometer_down.
	v := decided(policy.ReasonThermometerDown, policy.Manual, "p1", 0)
	v.TempC = nil
	v.Health["thermometer"] = device.Health{State: device.Down, Reason: "i2c: no ACK", Since: t0}
	shown(v)
	page.wait(`q('#outcome').dataset.outcome === 'MANUAL' && q('#icon').dataset.icon === 'manual' && q('#voice').dataset.sound === 'manual'`)
	page.checkTexts(map[string]string{"#title": "人工核验", "#text": "测温设备故障，请到人工通道", "#health": "测温仪故障"})
	page.wait(`q('#temp-row').hidden`)
	page.checkContrast("thermometer_down", "#health")
	english()
	page.waitText("#text", "Thermometer out of order, please use the staff lane")
	page.checkTexts(map[string]string{"#title": "See staff", "#health": "Thermometer down"})

	// Idle with the thermometer still down: the lane is closed, in both languages (a new visitor
	// starts in Chinese).
	idle := idleView()
	tx := policy.TextFor(policy.ReasonThermometerDown)
	idle.Reason, idle.TitleZh, idle.TitleEn, idle.TextZh, idle.TextEn = policy.ReasonThermometerDown, tx.TitleZh, tx.TitleEn, tx.Zh, tx.En
	idle.Health["thermometer"] = device.Health{State: device.Down, Since: t0}
	shown(idle)
	page.wait(`document.body.dataset.screen === 'closed' && q('#icon').dataset.icon === 'manual'`)
	page.checkTexts(map[string]string{"#title": "人工核验", "#text": "测温设备故障，请到人工通道"})
	page.checkContrast("closed")
	english()
	page.waitText("#text", "Thermometer out of order, please use the staff lane")
	english() // back to Chinese

	// The camera is down: the idle screen asks for the card only.
	idle = idleView()
	idle.Prompt = kiosk.PromptCardOnly
	shown(idle)
	page.checkTexts(map[string]string{"#title": "请刷身份证", "#text": "身份证放读卡区"})
	idle.Prompt = kiosk.PromptCodeOnly
	shown(idle)
	page.checkTexts(map[string]string{"#title": "请出示健康码"})

	// A printed code first: the screen asks for the card.
	wait := idleView()
	wait.State, wait.Method, wait.MaskedName, wait.Sound = kiosk.PhaseCardWait, "code", "李*", "show_card"
	shown(wait)
	page.wait(`document.body.dataset.screen === 'cardWait' && q('#icon').dataset.icon === 'card' && q('#voice').dataset.sound === 'show_card'`)
	page.checkTexts(map[string]string{"#title": "请刷身份证", "#name": "李*"})
	page.checkContrast("cardWait")
	english()
	page.waitText("#title", "Please place your ID card")
	english()

	// An appointment code before a pass: a notice saying what to do.
	n := idleView()
	tx = policy.TextFor(policy.ReasonCheckInNeedsPass)
	n.State, n.Reason = kiosk.PhaseShowing, policy.ReasonCheckInNeedsPass
	n.TitleZh, n.TitleEn, n.TextZh, n.TextEn, n.Sound = tx.TitleZh, tx.TitleEn, tx.Zh, tx.En, tx.Sound
	shown(n)
	page.wait(`document.body.dataset.screen === 'notice' && q('#outcome').dataset.outcome === 'notice'`)
	page.checkTexts(map[string]string{"#text": "请先刷身份证或出示健康码通行后再签到"})
	page.checkContrast("notice")
	english()
	page.waitText("#text", "Please pass the check first, then show your appointment code")
}

// TestStaffDeviceAlert: with the thermometer down the staff console says so at the top, since the
// lane now sends citizens to the staff desk.
func TestStaffDeviceAlert(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the staff console test: %v; run scripts/dev-setup.sh", err)
	}
	e := newQueueEnv(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1024),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	staff := tab(t, bctx, e.ts.URL+"/staff")
	staff.wait(`document.body.dataset.view === 'login'`)
	staff.set("#login-staff", "8")
	staff.set("#login-pin", testPIN)
	staff.click("#login-go")
	staff.wait(`document.body.dataset.view === 'console'`)
	staff.wait(`q('#device-alert').hidden`)

	v := idleView()
	v.Health["thermometer"] = device.Health{State: device.Down, Reason: "i2c: no ACK", Since: t0}
	v.Health["printer"] = device.Health{State: device.Down, Reason: "no paper", Since: t0} // has its own alert
	e.k.publish(v)
	staff.wait(`q('#device-alert').getClientRects().length > 0 && q('#device-alert').dataset.parts === 'thermometer'`)
	staff.checkTexts(map[string]string{"#device-alert": "设备故障：测温仪（i2c: no ACK）。市民将被引导至人工通道，请人工核验"})
	var ratio float64
	staff.eval(`contrast('#device-alert')`, &ratio)
	if ratio < 4.5 {
		t.Errorf("device alert contrast %.2f:1, want >= 4.5:1", ratio)
	}

	// A thermometer the hall does not use ([policy] temperature = "off"): still a fault to repair,
	// but nobody is sent to the staff desk for it.
	v = idleView()
	v.Health["thermometer"] = device.Health{State: device.Down, Reason: "i2c: no ACK", Since: t0}
	v.Unused = []string{"thermometer"}
	e.k.publish(v)
	staff.wait(`q('#device-alert').dataset.unused === 'thermometer' && q('#device-alert').dataset.parts === ''`)
	staff.checkTexts(map[string]string{"#device-alert": "设备故障：测温仪（i2c: no ACK）。本厅未启用此项检查，通行不受影响，请报修"})

	e.k.publish(idleView())
	staff.wait(`q('#device-alert').hidden`)
}
