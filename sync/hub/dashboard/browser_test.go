package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowser: in headless Chromium, wrong passwords lock a name out; an operator logs in, sees
// the fleet (a kiosk with a part down, a silent one flagged, the filter), the kiosk with the part
// down on its own page (the reason, the change in its history, the outbox chart), a hall's chart drawn
// with the seeded numbers and its counts and waits, the audit entries, the pages in English; no
// sealed ID or person key on any page, and no request leaves for anywhere but the hub.
func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the dashboard test: %v; run scripts/dev-setup.sh", err)
	}
	f := newFixture(t, Options{LockoutAfter: 3})
	ids := seedFleet(t, f)

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("ignore-certificate-errors", true), // the hub's test CA
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// A step that can never succeed (a node gone with a navigation) fails the test, not hangs it.
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var requested []string
	// Every request the page makes (the tab's Network domain is on from the start).
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string, out any) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
			}
		}
	}
	// waitFor polls a condition from here (the CSP forbids chromedp.Poll's new Function).
	waitFor := func(cond string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var ok bool
			eval("(() => { try { return !!("+cond+"); } catch (e) { return false; } })()", &ok) // mid-navigation: no body yet
			if ok {
				return
			}
			if time.Now().After(deadline) {
				var html string
				eval(`document.body.innerText.slice(0, 600)`, &html)
				t.Fatalf("timed out waiting for %s; page: %s", cond, html)
			}
			time.Sleep(30 * time.Millisecond)
		}
	}
	submit := func(user, pw string) {
		t.Helper()
		f.clock.Add(time.Second) // past the address's delay
		waitFor(`document.readyState === 'complete' && document.querySelector('#login-form') !== null`)
		eval(`document.body.dataset.old = '1'`, nil) // gone once the answer's page is loaded
		run("log in as "+user, chromedp.SetValue(chromedp.CSS("#user"), user), chromedp.SetValue(chromedp.CSS("#password"), pw),
			chromedp.Click(chromedp.CSS("#login")))
		waitFor(`document.readyState === 'complete' && document.body.dataset.old !== '1'`)
	}
	// follow clicks a link and waits until the page it leads to is loaded (not merely the URL
	// changed: the old page's nodes may still be there).
	follow := func(what, sel string) {
		t.Helper()
		waitFor(`document.readyState === 'complete'`)
		eval(`document.body.dataset.old = '1'`, nil)
		run(what, chromedp.Click(chromedp.CSS(sel)))
		waitFor(`document.readyState === 'complete' && document.body.dataset.old !== '1'`)
	}
	text := func(sel string) string {
		t.Helper()
		var s string
		eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel), &s)
		return strings.TrimSpace(s)
	}

	run("load the dashboard", chromedp.Navigate(f.url+"/admin/"))
	waitFor(`document.body.dataset.page === 'login'`)
	// Wrong passwords lock zhao.lei: then the right one is refused too.
	for i := 0; i < 3; i++ {
		submit("zhao.lei", "not the password")
		waitFor(`document.querySelector('#error') !== null`)
	}
	submit("zhao.lei", "correct horse battery")
	waitFor(`document.querySelector('#error') !== null`)
	if s := text("#error"); !strings.Contains(s, "登录失败") {
		t.Errorf("locked name's answer %q", s)
	}

	submit("li.ming", "correct horse battery")
	waitFor(`document.body.dataset.page === 'fleet'`)
	if got := text("#operator"); got != "li.ming" {
		t.Errorf("operator %q", got)
	}
	var rows []struct{ ID, Colour, Silent, Parts string }
	eval(`[...document.querySelectorAll('#fleet tr.kiosk')].map(r => ({ID: r.dataset.id, Colour: r.dataset.colour, Silent: r.dataset.silent,
		Parts: [...r.querySelectorAll('.part')].map(p => p.dataset.part + ':' + p.dataset.colour).join(' ')}))`, &rows)
	byID := map[string]int{}
	for i, r := range rows {
		byID[r.ID] = i
	}
	if len(rows) != 4 {
		t.Fatalf("fleet rows %+v, want 4 kiosks", rows)
	}
	if r := rows[byID[ids["k2"]]]; r.Colour != "red" || !strings.Contains(r.Parts, "printer:red") || r.Silent != "false" {
		t.Errorf("k2 (printer down): %+v", r)
	}
	if r := rows[byID[ids["k3"]]]; r.Colour != "red" || r.Silent != "true" {
		t.Errorf("k3 (silent): %+v", r)
	}
	for _, k := range []string{"k1", "k4"} {
		if r := rows[byID[ids[k]]]; r.Colour != "green" || r.Parts != "printer:green reader:green thermometer:green" {
			t.Errorf("%s (healthy): %+v", k, r)
		}
	}
	if rows[0].Colour != "red" || rows[1].Colour != "red" {
		t.Errorf("the kiosks needing a technician are not first: %+v", rows)
	}
	if s := text(`tr[data-id="` + ids["k3"] + `"] .why`); !strings.Contains(s, "失联") {
		t.Errorf("k3's reason %q", s)
	}
	follow("filter", "#filter-attention")
	waitFor(`location.search === '?attention=1'`)
	var shown []string
	eval(`[...document.querySelectorAll('#fleet tr.kiosk')].map(r => r.dataset.id)`, &shown)
	if len(shown) != 2 || !strings.Contains(strings.Join(shown, " "), ids["k2"]) || !strings.Contains(strings.Join(shown, " "), ids["k3"]) {
		t.Errorf("needs attention: %v", shown)
	}

	// k2's own page, from its row: the printer's reason and the change in the day's history.
	follow("k2's page", `tr[data-id="`+ids["k2"]+`"] a.kiosk-link`)
	waitFor(`document.body.dataset.page === 'kiosk' && typeof Chart !== 'undefined' && Chart.getChart('outbox-chart') !== undefined`)
	if got := text("#kiosk-id"); got != ids["k2"] {
		t.Errorf("kiosk page of %q, want k2 %s", got, ids["k2"])
	}
	if s := text(`tr.part-row[data-part="printer"] .reason`); s != "no answer on /dev/onepass-printer" {
		t.Errorf("printer's reason on the kiosk page %q", s)
	}
	if s := text(`#timeline tr.change[data-part="printer"][data-to="down"] .what`); s != "ok → down" {
		t.Errorf("history entry of the printer going down %q", s)
	}
	var depths []int
	eval(`Chart.getChart('outbox-chart').data.datasets[0].data`, &depths)
	if fmt.Sprint(depths) != "[3 0]" {
		t.Errorf("outbox chart %v, want [3 0]", depths)
	}

	follow("halls", "#nav-halls")
	waitFor(`document.body.dataset.page === 'halls'`)
	run("pick 东城 and the day", chromedp.Navigate(f.url+"/admin/halls?hall=%E4%B8%9C%E5%9F%8E&day=2026-11-26"))
	waitFor(`typeof Chart !== 'undefined' && Chart.getChart('hourly') !== undefined`)
	var hourly []int
	eval(`Chart.getChart('hourly').data.datasets[0].data`, &hourly)
	want := make([]int, 24)
	want[9], want[10], want[14] = 3, 1, 1 // the staff decision is no second visit
	if fmt.Sprint(hourly) != fmt.Sprint(want) {
		t.Errorf("chart %v, want %v", hourly, want)
	}
	var drawn bool
	eval(`(() => { const c = document.getElementById('hourly'); return c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0); })()`, &drawn)
	if !drawn {
		t.Error("the chart's canvas is blank")
	}
	var doughnut []int
	eval(`Chart.getChart('outcomes').data.datasets[0].data`, &doughnut)
	if fmt.Sprint(doughnut) != "[3 1 1 0]" {
		t.Errorf("outcomes chart %v, want PASS 3 DENY 1 MANUAL 1 RETRY 0", doughnut)
	}
	for sel, w := range map[string]string{"#visits": "5", "#fever": "1", "#overrides": "1", "#manual": "1", "#issued": "3",
		`tr[data-outcome="PASS"] .pct`: "60%", `tr[data-service="A"] .avg`: "20m00s", `tr[data-service="A"] .p90`: "30m00s",
		`tr[data-service="B"] .issued`: "1", `tr[data-service="B"] .called`: "0"} {
		if got := text(sel); got != w {
			t.Errorf("%s = %q, want %q", sel, got, w)
		}
	}

	run("audit", chromedp.Navigate(f.url+"/admin/audit?day=2026-11-26"))
	waitFor(`document.body.dataset.page === 'audit'`)
	var entries []struct{ Kind, Who, Subject, Outcome string }
	eval(`[...document.querySelectorAll('#audit tr.entry')].map(r => ({Kind: r.dataset.kind, Who: r.querySelector('.who').textContent,
		Subject: r.querySelector('.subject').textContent, Outcome: r.querySelector('.outcome').textContent}))`, &entries)
	if len(entries) != 2 || entries[0].Kind != "manual" || entries[1].Kind != "override" || entries[1].Who != "7" ||
		entries[1].Subject != "张*丰" || entries[1].Outcome != "通行" {
		t.Errorf("audit entries %+v", entries)
	}

	follow("English", "#lang")
	waitFor(`document.documentElement.lang === 'en'`)
	if got := text("#nav-fleet"); got != "Fleet" {
		t.Errorf("English nav %q", got)
	}
	run("fleet in English (the language is remembered)", chromedp.Navigate(f.url+"/admin/"))
	waitFor(`document.body.dataset.page === 'fleet' && document.documentElement.lang === 'en'`)
	if s := text(`tr[data-id="` + ids["k3"] + `"] .why`); s != "silent" {
		t.Errorf("k3's reason in English %q", s)
	}

	// Nothing sealed on any page: the seeded person keys and sealed IDs carry a marker.
	for _, p := range []string{"/admin/", "/admin/kiosk?id=" + ids["k2"], "/admin/halls?day=2026-11-26", "/admin/audit?day=2026-11-26"} {
		run("load "+p, chromedp.Navigate(f.url+p))
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{string(sealedMarker), "U0VBTEVE"} { // as is, and base64
			if strings.Contains(html, leak) {
				t.Errorf("%s shows a sealed ID or person key", p)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requested) < 10 {
		t.Errorf("only %d requests seen: is the network listener working?", len(requested))
	}
	for _, u := range requested {
		// data: URLs are in the page itself (Chromium's own date-picker icon): no request at all.
		if !strings.HasPrefix(u, f.url+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("a request left for %s", u)
		}
	}
}
