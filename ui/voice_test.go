package ui

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"onepass/kiosk/queue"
	"onepass/sync/store"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"
)

// newBrowser starts headless Chromium as the other browser tests do, autoplay allowed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for this test: %v; run scripts/dev-setup.sh", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920),
	)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return bctx
}

// voicePage runs ui/assets/static/voice.js, as embedded, in a blank page.
func voicePage(t *testing.T) *page {
	t.Helper()
	ctx := newBrowser(t)
	src, err := fs.ReadFile(staticFS, "voice.js")
	if err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, ctx: ctx}
	p.eval(string(src)+"\ntrue", nil)
	return p
}

// TestCallClipsOrder: what the hall says for a call, clip by clip.
func TestCallClipsOrder(t *testing.T) {
	p := voicePage(t)
	for _, c := range []struct {
		number, counter string
		recall          bool
		lang, want      string
	}{
		{"A002", "3", false, "zh", "please a 0 0 2 hao dao 3 window"},
		{"A002", "3", false, "en", "number_en a_en 0_en 0_en 2_en counter_en 3_en"},
		{"B017", "3", true, "zh", "recall please b 0 1 7 hao dao 3 window"},
		{"B017", "3", true, "en", "recall_en number_en b_en 0_en 1_en 7_en counter_en 3_en"},
		{"C100", "10", false, "zh", "please c 1 0 0 hao dao 10 window"},
		{"C100", "12", false, "zh", "please c 1 0 0 hao dao 10 2 window"},
		{"C100", "20", false, "zh", "please c 1 0 0 hao dao 2 10 window"},
		{"C100", "99", false, "zh", "please c 1 0 0 hao dao 9 10 9 window"},
		{"C100", "12", false, "en", "number_en c_en 1_en 0_en 0_en counter_en 12_en"},
		{"C100", "20", false, "en", "number_en c_en 1_en 0_en 0_en counter_en 20_en"},
		{"C100", "47", false, "en", "number_en c_en 1_en 0_en 0_en counter_en 40_en 7_en"},
		// Not 1–99: said character by character.
		{"Z999", "100", false, "zh", "please z 9 9 9 hao dao 1 0 0 window"},
		{"Z999", "05", false, "en", "number_en z_en 9_en 9_en 9_en counter_en 0_en 5_en"},
		{"Z999", "3b", false, "zh", "please z 9 9 9 hao dao 3 b window"},
	} {
		var got []string
		arg, _ := json.Marshal(map[string]any{"number": c.number, "counter": c.counter, "recall": c.recall})
		p.eval("callClips("+string(arg)+", '"+c.lang+"')", &got)
		want := strings.Fields(c.want)
		for i := range want {
			want[i] = "call_" + want[i]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s to %s (recall %v, %s):\n got %v\nwant %v", c.number, c.counter, c.recall, c.lang, got, want)
		}
	}
}

// TestHallVoiceClips: every clip voice.js can ask for — any service letter, any digit, counters
// 0–120 and any letter, calls and recalls, in Chinese and English — is embedded, short enough for
// hall.js's stall guard, and in the kiosk's format.
func TestHallVoiceClips(t *testing.T) {
	p := voicePage(t)
	var names []string
	p.eval(`(() => {
  const out = new Set(['chime']);
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const counters = ['0', '05', ...letters, ...letters.toLowerCase()];
  for (let i = 1; i <= 120; i++) counters.push(String(i));
  for (const l of letters) for (const counter of counters) for (const recall of [false, true])
    for (const lang of ['zh', 'en']) callClips({number: l + '0123456789', counter, recall}, lang).forEach((n) => out.add(n));
  return [...out].sort();
})()`, &names)
	if len(names) < 2*(26+10) {
		t.Fatalf("callClips names only %d clips: %v", len(names), names)
	}
	for _, name := range names {
		b, err := fs.ReadFile(audioFS, name+".wav")
		if err != nil {
			t.Errorf("hall clip %q: %v (run scripts/gen-voice.sh)", name, err)
			continue
		}
		// At most 3 s: hall.js moves on from a clip after 8 s, taking it as stalled.
		if err := checkWAV(b, 16000/10, 3*16000); err != nil {
			t.Errorf("clip %s.wav: %v", name, err)
		}
	}
}

// TestHallVoiceBrowser: the hall screen in headless Chromium announces calls that come in quick
// succession — a second call while the first is being said, and a recall in the same moment —
// each in full (chime, Chinese, then English as the hall asks), in order, none cut off.
func TestHallVoiceBrowser(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := queue.DefaultConfig()
	cfg.AnnounceEn = true
	cfg.Counters = append(cfg.Counters, queue.Counter{ID: "12", Services: []string{"A", "B", "C"}})
	q, err := queue.New(ctx, cfg, db, queue.Options{Logger: quiet(), Clock: clockwork.NewRealClock()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ts := httptest.NewServer(New(newFake(idleView()), Options{Logger: quiet(), Heartbeat: time.Second, Queue: q}).Handler())
	t.Cleanup(ts.Close)
	for _, s := range []string{"A", "B"} {
		if _, err := q.Issue(ctx, queue.IssueRequest{Service: s, Source: queue.FromStaff}); err != nil {
			t.Fatal(err)
		}
	}

	hall := tab(t, newBrowser(t), ts.URL+"/hall")
	hall.wait(`q('#waiting').tBodies[0].rows.length === 3`)
	// Log every clip started and every clip that played to its end. A cut clip shows as a play
	// with no ended before the next play. Played 8× as fast to keep the test short.
	hall.eval(`(() => {
  window.voiceLog = [];
  const a = q('#voice');
  a.defaultPlaybackRate = 8;
  const clip = () => a.src.split('/').pop().replace('.wav', '');
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () { voiceLog.push('play ' + clip()); return play.call(this); };
  a.addEventListener('ended', () => voiceLog.push('ended ' + clip()));
  a.addEventListener('error', () => voiceLog.push('error ' + clip()));
  return true;
})()`, nil)

	if _, err := q.CallNext(ctx, "3"); err != nil { // A001 waited longest
		t.Fatal(err)
	}
	hall.wait(`voiceLog.length > 0`)
	// While A001 is being said: B001 to counter 12, and counter 3 calls A001 again.
	if _, err := q.CallNext(ctx, "12"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Recall(ctx, "3"); err != nil {
		t.Fatal(err)
	}

	calls := [][]string{
		{"chime", "please", "a", "0", "0", "1", "hao", "dao", "3", "window",
			"number_en", "a_en", "0_en", "0_en", "1_en", "counter_en", "3_en"},
		{"chime", "please", "b", "0", "0", "1", "hao", "dao", "10", "2", "window",
			"number_en", "b_en", "0_en", "0_en", "1_en", "counter_en", "12_en"},
		{"chime", "recall", "please", "a", "0", "0", "1", "hao", "dao", "3", "window",
			"recall_en", "number_en", "a_en", "0_en", "0_en", "1_en", "counter_en", "3_en"},
	}
	var want []string
	for _, c := range calls {
		for _, n := range c {
			if n != "chime" {
				n = "call_" + n
			}
			want = append(want, "play "+n, "ended "+n)
		}
	}
	var got []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		hall.eval(`voiceLog`, &got)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // nothing more may follow
	hall.eval(`voiceLog`, &got)
	if !slices.Equal(got, want) {
		t.Errorf("the hall said\n%s\nwant\n%s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
	var plays string
	hall.eval(`q('#voice').dataset.plays`, &plays)
	if plays != "3" {
		t.Errorf("%s announcements, want 3", plays)
	}
	hall.checkTexts(map[string]string{"#call-number": "A001", "#call-counter": "3"})
}
