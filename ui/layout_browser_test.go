package ui

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
)

// kioskPanels are the panels kiosks really have: 7" and 10.1" landscape, a 1080p monitor, and
// the same monitor in portrait.
var kioskPanels = []struct{ w, h int64 }{{1024, 600}, {1280, 800}, {1920, 1080}, {1080, 1920}}

// layoutHelpers defines layout(): what is wrong with the screen as shown, as a list of
// sentences (empty when all is well). Text is judged by its em box (one font size high, centred
// on the line box), so lines packed at line-height 1.3 do not count as overlapping while a
// temperature drawn over a heading does.
const layoutHelpers = `
window.layout = () => {
  const bad = [];
  const W = innerWidth, H = innerHeight;
  const de = document.documentElement;
  if (de.scrollHeight > H || de.scrollWidth > W) bad.push('page scrolls: ' + de.scrollWidth + 'x' + de.scrollHeight);
  const name = (el) => el.id ? '#' + el.id : el.className ? el.tagName.toLowerCase() + '.' + String(el.className).split(' ')[0] : el.tagName.toLowerCase();
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  // Containers that clip: what they hold must fit.
  for (const el of [document.body, ...document.querySelectorAll('main, #outcome, #ticket, .services, #ticket-shown, .facts, footer')]) {
    if (!shown(el)) continue;
    if (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1) {
      bad.push(name(el) + ' clips its content: ' + el.scrollWidth + 'x' + el.scrollHeight + ' in ' + el.clientWidth + 'x' + el.clientHeight);
    }
  }
  const inside = (r) => r.left >= -0.5 && r.top >= -0.5 && r.right <= W + 0.5 && r.bottom <= H + 0.5;
  // Text pieces: every visible non-blank text node, one box per line.
  const pieces = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!n.data.trim() || !el || !shown(el) || el.closest('svg, [hidden], audio')) continue;
    const s = getComputedStyle(el);
    const size = parseFloat(s.fontSize);
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects()) {
      if (r.width < 1) continue;
      const mid = (r.top + r.bottom) / 2;
      pieces.push({ el, node: n, size, text: n.data.trim(), l: r.left, r: r.right, t: mid - size / 2, b: mid + size / 2 });
      if (!inside(r)) bad.push('text "' + n.data.trim() + '" (' + name(el) + ') is outside the viewport');
    }
    if (size < 30) bad.push('text "' + n.data.trim() + '" (' + name(el) + ') is ' + size + 'px, want >= 30px');
    const c = contrastOf(el);
    if (c >= 0 && c < 4.5) bad.push('text "' + n.data.trim() + '" (' + name(el) + ') contrast ' + c.toFixed(2) + ':1');
  }
  for (let i = 0; i < pieces.length; i++) {
    for (let j = i + 1; j < pieces.length; j++) {
      const a = pieces[i], b = pieces[j];
      if (a.node === b.node) continue;
      const x = Math.min(a.r, b.r) - Math.max(a.l, b.l), y = Math.min(a.b, b.b) - Math.max(a.t, b.t);
      if (x > 1 && y > 1) bad.push('"' + a.text + '" (' + name(a.el) + ') overlaps "' + b.text + '" (' + name(b.el) + ')');
    }
  }
  for (const el of document.querySelectorAll('button')) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (!inside(r)) bad.push('button ' + name(el) + ' "' + el.textContent.trim() + '" is not inside the viewport: ' + JSON.stringify(r));
    if (r.width < 60 || r.height < 60) bad.push('button ' + name(el) + ' is ' + Math.round(r.width) + 'x' + Math.round(r.height) + ', want >= 60x60');
  }
  // The outcome's title is the largest text; after a ticket only the number may be larger.
  const title = q('#title');
  if (q('#outcome').dataset.outcome) {
    if (!shown(title) || !inside(title.getBoundingClientRect())) {
      bad.push('the title is not on screen');
    } else {
      const ts = parseFloat(getComputedStyle(title).fontSize);
      for (const p of pieces) {
        if (p.el === title || p.el.closest('#ticket-no')) continue;
        if (p.size >= ts) bad.push('"' + p.text + '" (' + name(p.el) + ') is ' + p.size + 'px, not smaller than the title (' + ts + 'px)');
      }
    }
  }
  return [...new Set(bad)];
};
window.contrastOf = (el) => {
  const rgba = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const fg = rgba(getComputedStyle(el).color);
  let bg = [255, 255, 255];
  for (let n = el; n; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c; break; }
    if (c.length === 4 && c[3] > 0) return -1;
  }
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
};
true`

// outcomeOf is the outcome the lane gives with reason r (the policy decides it; the screen only
// needs the right colour and icon).
func outcomeOf(r policy.Reason) policy.Outcome {
	switch policy.TextFor(r).Sound {
	case "pass":
		return policy.Pass
	case "retry":
		return policy.Retry
	case "manual", "show_card":
		return policy.Manual
	}
	return policy.Deny
}

// layoutCase is one look of the screen: a reason with or without the person's facts and a
// broken part in the banner.
type layoutCase struct {
	name string
	view func(id string) kiosk.View
}

func layoutCases() []layoutCase {
	reasons := policy.Reasons()
	slices.Sort(reasons)
	var cs []layoutCase
	for _, r := range reasons {
		o := outcomeOf(r)
		// Everything at once: name, ID, a fever-edge temperature and two parts in the banner.
		cs = append(cs, layoutCase{string(r) + "/full", func(id string) kiosk.View {
			v := decided(r, o, id, 43.0)
			v.MaskedName = "欧阳*明"
			v.Health["thermometer"] = device.Health{State: device.Down, Reason: "i2c", Since: t0}
			v.Health["printer"] = device.Health{State: device.Degraded, Reason: "paper low", Since: t0}
			return v
		}})
		// A health code with no card and no temperature: nothing but the outcome.
		cs = append(cs, layoutCase{string(r) + "/code", func(id string) kiosk.View {
			v := decided(r, o, id, 0)
			v.Method, v.MaskedName, v.MaskedID, v.TempC = "code", "", "", nil
			return v
		}})
	}
	cs = append(cs,
		layoutCase{"idle", func(string) kiosk.View { return idleView() }},
		layoutCase{"measuring", func(id string) kiosk.View {
			v := idleView()
			v.State, v.MaskedName, v.MaskedID = kiosk.PhaseMeasuring, "张*", "1101**********1234"
			return v
		}},
	)
	return cs
}

// TestKioskLayout shows every outcome on the panels kiosks have, in Chinese and English, with and
// without the service buttons and after a ticket, and checks from bounding boxes and computed
// font sizes that nothing scrolls, clips or overlaps, every button is inside the viewport, and
// the outcome's title is the largest text on screen.
func TestKioskLayout(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the kiosk layout test: %v; run scripts/dev-setup.sh", err)
	}
	plain := newFake(idleView()) // a kiosk without a queue: no service buttons
	srv := httptest.NewServer(New(plain, Options{Logger: quiet(), Heartbeat: time.Second}).Handler())
	t.Cleanup(srv.Close)
	e := newQueueEnv(t)

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", false),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1920, 1920),
	)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	kioskPlain := tab(t, bctx, srv.URL+"/")
	kioskQueue := tab(t, bctx, e.ts.URL+"/")
	for _, p := range []*page{kioskPlain, kioskQueue} {
		p.eval(layoutHelpers, nil)
		p.waitText("#title", "请刷身份证或出示健康码")
	}
	kioskQueue.wait(`!q('#ticket').getClientRects().length`)

	for _, size := range kioskPanels {
		px := fmt.Sprintf("%dx%d", size.w, size.h)
		for _, p := range []*page{kioskPlain, kioskQueue} {
			if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatalf("viewport %s: %v", px, err)
			}
		}
		for _, lang := range []string{"zh", "en"} {
			n := 0
			var passTitle float64 // the PASS word's size without the service buttons
			for _, c := range layoutCases() {
				n++
				v := plain.publish(c.view(fmt.Sprintf("%s-%s-%d", px, lang, n)))
				kioskPlain.wait(fmt.Sprintf(`q('#state').dataset.version === '%d'`, v.Version))
				kioskPlain.setLang(lang)
				kioskPlain.checkLayout(px + "/" + lang + "/" + c.name)
				if c.name == "ok/full" {
					kioskPlain.eval(`parseFloat(getComputedStyle(q('#title')).fontSize)`, &passTitle)
				}
				if c.name == "ok/full" || c.name == "code_class_not_allowed/full" {
					kioskPlain.shot(px + "-" + lang + "-" + strings.ReplaceAll(c.name, "/", "-"))
				}
			}

			// The PASS with the service buttons, then the number with the PASS still up, then
			// the number alone once the lane is idle; the printer runs out of paper in English.
			e.printer.setOut(lang == "en")
			e.pass()
			kioskQueue.wait(`q('#outcome').dataset.outcome === 'PASS' && q('#ticket').dataset.step === 'pick' && document.querySelectorAll('.svc').length === 3`)
			kioskQueue.setLang(lang)
			kioskQueue.checkLayout(px + "/" + lang + "/PASS with services")
			// The buttons do not make the PASS word smaller than on a kiosk without them.
			var title float64
			kioskQueue.eval(`parseFloat(getComputedStyle(q('#title')).fontSize)`, &title)
			if title < passTitle {
				t.Errorf("%s/%s: the PASS word is %.0f px with the service buttons, %.0f px without", px, lang, title, passTitle)
			}
			kioskQueue.shot(px + "-" + lang + "-services")
			kioskQueue.click(`.svc[data-service="C"]`)
			kioskQueue.wait(`q('#ticket').dataset.step === 'show' && q('#ticket-no').textContent !== '' && ['printed', 'failed'].includes(q('#ticket-print').dataset.print)`)
			kioskQueue.checkLayout(px + "/" + lang + "/PASS with ticket")
			kioskQueue.shot(px + "-" + lang + "-ticket")
			e.k.publish(idleView())
			kioskQueue.wait(`q('#state').dataset.state === 'idle' && q('#ticket').dataset.step === 'show'`)
			kioskQueue.checkLayout(px + "/" + lang + "/ticket after the pass")
			kioskQueue.shot(px + "-" + lang + "-ticket-idle")
			kioskQueue.click("#ticket-done")
		}
	}
}

// setLang switches the screen to lang with its own button, as a citizen does.
func (p *page) setLang(lang string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`q('#lang').dataset.lang === %q || q('#lang').click(), true`, lang), nil)
	p.wait(fmt.Sprintf(`q('#lang').dataset.lang === %q`, lang))
}

// checkLayout reports what layout() finds wrong on the screen as shown.
func (p *page) checkLayout(what string) {
	p.t.Helper()
	var bad []string
	p.eval(`layout()`, &bad)
	if len(bad) > 0 {
		p.t.Errorf("%s:\n\t%s", what, strings.Join(bad, "\n\t"))
	}
}

// shot saves a screenshot when UI_SHOTS names a directory, for a person to look at.
func (p *page) shot(name string) { p.screenshot("layout-" + name) }
