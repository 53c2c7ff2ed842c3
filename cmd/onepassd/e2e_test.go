package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"onepass/kiosk"
	"onepass/sync/store"
)

const chromiumPath = "/usr/bin/chromium"

// binaries builds onepassd and onepassctl once per test run.
func binaries(t *testing.T) (daemon, ctl string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "onepass/cmd/onepassd", "onepass/cmd/onepassctl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return filepath.Join(dir, "onepassd"), filepath.Join(dir, "onepassctl")
}

type daemon struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	ctl  string
	logs *bytes.Buffer
}

// startDaemon runs the real onepassd binary and waits for it to print its URL.
func startDaemon(t *testing.T, bin, ctl string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, ctl: ctl, logs: logs}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("onepassd log:\n%s", logs)
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		url, ok := strings.CutPrefix(l, "onepass kiosk screen: ")
		if !ok {
			t.Fatalf("onepassd printed %q, want the screen URL", l)
		}
		d.url = url
	case <-time.After(20 * time.Second):
		t.Fatal("onepassd did not print its URL")
	}
	go io.Copy(io.Discard, stdout)
	return d
}

// sim runs onepassctl against the daemon, as a technician would type it.
func (d *daemon) onepassctl(args ...string) string {
	d.t.Helper()
	out, err := exec.Command(d.ctl, append([]string{"--addr", d.url}, args...)...).CombinedOutput()
	if err != nil {
		d.t.Fatalf("onepassctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (d *daemon) state() kiosk.View {
	d.t.Helper()
	resp, err := http.Get(d.url + "api/state")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v kiosk.View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		d.t.Fatal(err)
	}
	return v
}

func (d *daemon) stop() {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("onepassd exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		d.t.Error("onepassd did not stop on SIGTERM")
	}
}

func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is needed for the end-to-end test: %v; run scripts/dev-setup.sh", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1080, 1920))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// screenShows waits until the kiosk page in the browser shows the outcome with every text.
func screenShows(t *testing.T, ctx context.Context, outcome string, texts ...string) {
	t.Helper()
	cond := `document.querySelector('#outcome') && document.querySelector('#outcome').dataset.outcome === ` + jsString(outcome)
	for _, s := range texts {
		cond += ` && document.body.innerText.includes(` + jsString(s) + `)`
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("screen never showed %s with %q: %v\nscreen text:\n%s", outcome, texts, err, body)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestEndToEnd is the user story: the real daemon in --sim, driven by the real onepassctl,
// watched in headless Chromium.
func TestEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	data := t.TempDir()
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(d.url)); err != nil {
		t.Fatalf("open the kiosk screen: %v", err)
	}

	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "36.6")
	screenShows(t, ctx, "PASS", "张*", "36.6", "通行")

	d.onepassctl("sim", "temp", "38.1")
	screenShows(t, ctx, "DENY", "体温异常，请到人工通道复测", "38.1")
	// The feverish person walks away, so the next card's holder is measured on their own.
	d.onepassctl("sim", "leave")

	d.onepassctl("sim", "card", "--id", "110101199003074478", "--name", "李四")
	screenShows(t, ctx, "DENY", "证件无效")

	d.onepassctl("sim", "set-status", "--id", "11010519491231002X", "--status", "red")
	d.onepassctl("sim", "card", "--id", "11010519491231002X", "--name", "王五")
	d.onepassctl("sim", "temp", "36.5")
	screenShows(t, ctx, "DENY", "王*", "健康码红码")

	// One temperature: 37.29 is shown 37.3 and is a fever as 37.3 is.
	d.onepassctl("sim", "leave")
	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "37.29")
	screenShows(t, ctx, "DENY", "体温异常", "37.3")
	// A hot cup is RETRY; the visit goes up to the hub and is accepted, nothing is quarantined.
	d.onepassctl("sim", "leave")
	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "99.9")
	screenShows(t, ctx, "RETRY", "请重试")
	d.onepassctl("sim", "leave") // still in front, the cup would be remeasured (and logged) again
	if out := d.onepassctl("sync", "now"); !strings.Contains(out, " 0 waiting") || !strings.Contains(out, " 0 quarantined") {
		t.Errorf("sync now:\n%s", out)
	}

	if out := d.onepassctl("status"); !strings.Contains(out, "store        ok") {
		t.Errorf("status output:\n%s", out)
	}
	d.stop()

	// Every decision was logged; no raw ID number reached the disk.
	db, err := store.Open(context.Background(), filepath.Join(data, "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	visits, err := db.Recent(context.Background(), 10)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var reasons, names, temps []string
	hot := 0
	for _, v := range visits {
		if v.Reason == "remeasure" && len(reasons) == 0 { // the cup, measured once or more
			if hot++; v.TempC != nil {
				t.Errorf("the hot cup was logged with %v °C", *v.TempC)
			}
			continue
		}
		reasons, names = append(reasons, v.Reason), append(names, v.MaskedName)
		if v.TempC == nil {
			temps = append(temps, "-")
		} else {
			temps = append(temps, strconv.FormatFloat(*v.TempC, 'f', -1, 64))
		}
	}
	if hot == 0 || strings.Join(reasons, ",") != "fever,status_red,id_invalid,fever,ok" {
		t.Errorf("logged visits (newest first): %d remeasure, %v", hot, reasons)
	}
	if strings.Join(names, ",") != "张*,王*,李*,,张*" { // the 38.1 fever was the person alone (method temp)
		t.Errorf("logged names (newest first): %v", names)
	}
	if strings.Join(temps, ",") != "37.3,36.5,-,38.1,36.6" {
		t.Errorf("logged temperatures (newest first): %v", temps)
	}
	for _, id := range []string{"110101199003074477", "11010519491231002X", "110101199003074478"} {
		filepath.Walk(data, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(id)) {
					t.Errorf("raw ID number found in %s", p)
				}
			}
			return nil
		})
		if strings.Contains(d.logs.String(), id) {
			t.Errorf("raw ID number in the daemon's log")
		}
	}
}

// TestUnwritableDataDirectory: the daemon runs, says what is wrong, and shows no pass it cannot log.
func TestUnwritableDataDirectory(t *testing.T) {
	bin, ctl := binaries(t)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(file, nil, 0o644)
	d := startDaemon(t, bin, ctl, "--sim", "--data", filepath.Join(file, "data"))
	resp, err := http.Get(d.url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz = %d, want 503", resp.StatusCode)
	}
	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "36.6")
	deadline := time.Now().Add(10 * time.Second)
	for d.state().State != kiosk.PhaseShowing && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if v := d.state(); v.Outcome != "MANUAL" || v.Reason != "log_unavailable" {
		t.Fatalf("state with an unwritable data directory: %+v", v)
	}
	if !strings.Contains(d.logs.String(), "cannot log visits") {
		t.Errorf("the log does not say why:\n%s", d.logs)
	}
	d.stop()
}

func TestBadConfigRefusesToStart(t *testing.T) {
	bin, _ := binaries(t)
	cfg := filepath.Join(t.TempDir(), "onepassd.toml")
	os.WriteFile(cfg, []byte("[lane]\nshow_secs = 3\n"), 0o644)
	out, err := exec.Command(bin, "--config", cfg, "--sim", "--data", t.TempDir()).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(string(out), "unknown key lane.show_secs") {
		t.Errorf("message does not name the key:\n%s", out)
	}
}
