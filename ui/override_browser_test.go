package ui

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestStaffOverrideBrowser is a staff decision as people meet it, in headless Chromium against a
// real lane, queue and database: the lane could not decide for an elderly person; staff see the
// visit (masked) under 待人工核验, must pick a reason before deciding, pass the person, and the
// kiosk screen shows 通行 with the service buttons, from which the person takes a ticket.
func TestStaffOverrideBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the staff decision test: %v; run scripts/dev-setup.sh", err)
	}
	e := newQueueEnvScreen(t, true)
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

	manual := e.manual("card")
	kiosk := tab(t, bctx, e.ts.URL+"/")
	kiosk.waitText("#title", "请刷身份证或出示健康码")

	staff := tab(t, bctx, e.ts.URL+"/staff")
	staff.wait(`document.body.dataset.view === 'login'`)
	staff.set("#login-staff", "7")
	staff.set("#login-pin", testPIN)
	staff.click("#login-go")
	staff.wait(`document.body.dataset.view === 'console'`)
	row := fmt.Sprintf(`tr[data-visit="%s"]`, manual)
	staff.wait(fmt.Sprintf(`q('#pending-card').getClientRects().length > 0 && q('%s') && q('%s').cells[1].textContent === '王*'`, row, row))
	staff.checkTexts(map[string]string{row + " td:nth-child(4)": "未查到健康状态，请联系工作人员"})
	// No decision without a reason; a reason for refusing does not allow a pass.
	staff.wait(fmt.Sprintf(`q('%s button.pass').disabled && q('%s button.deny').disabled`, row, row))
	choose := func(code string) {
		staff.eval(fmt.Sprintf(`(() => { const s = q('%s select.note'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, row, code), nil)
	}
	choose("id_mismatch")
	staff.wait(fmt.Sprintf(`q('%s button.pass').disabled && !q('%s button.deny').disabled`, row, row))
	choose("elderly_no_phone")
	staff.wait(fmt.Sprintf(`!q('%s button.pass').disabled && q('%s button.deny').disabled`, row, row))
	for _, sel := range []string{row + " button.pass", row + " td:nth-child(2)"} {
		var ratio float64
		staff.eval(fmt.Sprintf(`contrast(%q)`, sel), &ratio)
		if ratio < 4.5 {
			t.Errorf("%s: contrast %.2f:1, want >= 4.5:1", sel, ratio)
		}
	}
	staff.screenshot("staff-pending")
	staff.click(row + " button.pass")
	staff.wait(`q('#msg').textContent === '王* 人工核验通过：闸机屏幕已显示通行，可取号'`)
	staff.wait(fmt.Sprintf(`!q('%s') && q('#recent').textContent.includes('工号 7')`, row))

	// The citizen sees the pass and takes a ticket, as after any pass.
	kiosk.wait(`q('#outcome').dataset.outcome === 'PASS' && q('#ticket').dataset.step === 'pick'`)
	kiosk.checkTexts(map[string]string{"#title": "通行", "#text": "工作人员已核验，请通行"})
	kiosk.screenshot("kiosk-staff-pass")
	kiosk.click(`.svc[data-service="A"]`)
	kiosk.waitText("#ticket-no", "A001")

	vs, err := e.db.Recent(context.Background(), 3)
	if err != nil || len(vs) == 0 || vs[0].Method != "staff" || vs[0].StaffID != "7" || vs[0].Overrides != manual {
		t.Errorf("logged: %+v %v", vs, err)
	}
}
