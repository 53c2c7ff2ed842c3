package escpos_test

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"onepass/device"
	"onepass/drivers/escpos"
	"onepass/drivers/escpos/escpossim"
)

var cst = time.FixedZone("CST", 8*3600)

func ticket() device.Ticket {
	return device.Ticket{Number: "A012", Service: "社保", Hall: "政务服务大厅", IssuedAt: time.Date(2026, 11, 26, 9, 30, 5, 0, cst),
		Waiting: 3, URL: "https://hall.example/t/0194b2c4-1111-7000-8000-000000000012"}
}

// simPrinter starts the printer simulator on a pty and opens the real driver on it.
func simPrinter(t *testing.T, params device.Params) (*escpossim.Sim, *escpossim.PTY, device.TicketPrinter) {
	t.Helper()
	sim := escpossim.New()
	pty, err := sim.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pty.Close() })
	ps := device.Params{"port": pty.Path(), "baud": 115200, "status_timeout": "300ms", "poll": "0"}
	for k, v := range params {
		ps[k] = v
	}
	p, err := device.OpenTicketPrinter(context.Background(), "escpos", ps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return sim, pty, p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// A ticket printed through the real serial path arrives whole: the simulator reads the Chinese
// text back, the QR code decodes to the check-in URL from the rendered picture.
func TestPrintOverSerial(t *testing.T) {
	sim, _, p := simPrinter(t, nil)
	if err := p.Print(ctx(t), ticket()); err != nil {
		t.Fatal(err)
	}
	rs, err := sim.Wait(ctx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	lines := strings.Join(r.Lines(), "\n")
	for _, want := range []string{"政务服务大厅", "社保", "您的号码", "A012", "前面还有 3 人等候", "2026-11-26 09:30:05", "扫码查看排队进度"} {
		if !strings.Contains(lines, want) {
			t.Errorf("printed ticket lacks %q:\n%s", want, lines)
		}
	}
	var num *escpossim.Element
	for i, e := range r.Elements {
		if e.Text == "A012" {
			num = &r.Elements[i]
		}
	}
	if num == nil || num.W != 4 || num.H != 4 || !num.Bold || num.Align != 1 {
		t.Errorf("the number is printed as %+v, want 4x4 bold centred", num)
	}
	if !r.Partial {
		t.Error("want a partial cut")
	}
	if h := p.Health(); h.State != device.OK || h.Reason != "" {
		t.Errorf("health after a good print: %s", h)
	}

	rd, err := escpossim.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	img := rd.Image(r)
	if got := decodeQR(t, img); got != ticket().URL {
		t.Errorf("QR on the rendered ticket reads %q, want %q", got, ticket().URL)
	}
	png, err := rd.PNG(r)
	if err != nil || len(png) < 1000 {
		t.Fatalf("PNG of %d bytes, %v", len(png), err)
	}
	if dir := os.Getenv("ESCPOS_PNG_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "ticket.png"), png, 0o644)
	}
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code on the ticket: %v", err)
	}
	return res.GetText()
}

func TestPrinterStates(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     func(*escpossim.Sim)
		wantErr error
		health  device.HealthState
		reason  string
		printed int
	}{
		{"paper out: nothing sent", func(s *escpossim.Sim) { s.SetPaper(escpossim.PaperOut) }, escpos.ErrNotReady, device.Down, "paper out", 0},
		{"cover open", func(s *escpossim.Sim) { s.SetCover(true) }, escpos.ErrNotReady, device.Down, "cover open", 0},
		{"near end prints, degraded", func(s *escpossim.Sim) { s.SetPaper(escpossim.PaperNearEnd) }, nil, device.Degraded, "paper near end", 1},
		{"no status answers: prints, unknown is not fine", func(s *escpossim.Sim) { s.SetMute(true) }, nil, device.OK, "status not reported", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, _, p := simPrinter(t, nil)
			c.set(sim)
			err := p.Print(ctx(t), ticket())
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("Print: %v, want %v", err, c.wantErr)
			}
			if h := p.Health(); h.State != c.health || h.Reason != c.reason {
				t.Errorf("health %s, want %s: %s", h, c.health, c.reason)
			}
			if c.printed > 0 {
				if _, err := sim.Wait(ctx(t), c.printed); err != nil {
					t.Fatal(err)
				}
			} else if n := len(sim.Receipts()); n != 0 {
				t.Errorf("%d receipts printed", n)
			}
		})
	}
	// Status is "unknown" rather than "fine" when the printer does not answer.
	sim, _, p := simPrinter(t, nil)
	sim.SetPaper(escpossim.PaperNearEnd)
	st, err := p.Status(ctx(t))
	if err != nil || !st.PaperLow || st.PaperOut || !st.Online {
		t.Errorf("Status = %+v, %v", st, err)
	}
	sim.SetMute(true)
	if _, err := p.Status(ctx(t)); !errors.Is(err, escpos.ErrNoAnswer) {
		t.Errorf("Status of a mute printer: %v", err)
	}
	if err := p.SelfTest(ctx(t)); err == nil {
		t.Error("SelfTest passed with a mute printer")
	}
}

// Unplugged: the port goes away, the print fails with a clear error and the health says so;
// plugged back on the same path (a udev symlink), it prints again by itself.
func TestPrinterUnplugged(t *testing.T) {
	link := filepath.Join(t.TempDir(), "ticketprinter")
	sim := escpossim.New()
	pty, err := sim.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pty.Path(), link); err != nil {
		t.Fatal(err)
	}
	p, err := device.OpenTicketPrinter(context.Background(), "escpos", device.Params{"port": link, "poll": "0", "status_timeout": "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pty.Close()
	os.Remove(link)
	if err := p.Print(ctx(t), ticket()); !errors.Is(err, escpos.ErrPort) {
		t.Fatalf("print to an unplugged printer: %v", err)
	}
	if h := p.Health(); h.State != device.Down || !strings.HasPrefix(h.Reason, "port gone") {
		t.Errorf("health %s", h)
	}
	sim2 := escpossim.New()
	pty2, err := sim2.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer pty2.Close()
	if err := os.Symlink(pty2.Path(), link); err != nil {
		t.Fatal(err)
	}
	if err := p.Print(ctx(t), ticket()); err != nil {
		t.Fatalf("print after replug: %v", err)
	}
	if _, err := sim2.Wait(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if h := p.Health(); h.State != device.OK {
		t.Errorf("health after replug %s", h)
	}
}

// A device file (usblp) that cannot answer: the job goes out as it is, status unknown.
func TestPrintToDeviceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lp0")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := device.OpenTicketPrinter(context.Background(), "escpos", device.Params{"device": path, "poll": "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Print(ctx(t), ticket()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	job, _ := escpos.Ticket(ticket(), escpos.DefaultLayout())
	// The status requests (DLE EOT 2, 4 before; 2, 3 after) go around the job.
	want := slices.Concat(escpos.Query(2), escpos.Query(4), job, escpos.Query(2), escpos.Query(3))
	if !slices.Equal(got, want) {
		t.Errorf("device file holds %d bytes, want %d (status queries around the job)", len(got), len(want))
	}
	if h := p.Health(); h.State != device.OK || h.Reason != "status not reported" {
		t.Errorf("health %s", h)
	}
	// Every other parsed ticket lands in the simulator's parser the same way.
	ps := escpossim.NewParser("gb18030")
	var rs []escpossim.Receipt
	ps.OnReceipt = func(r escpossim.Receipt) { rs = append(rs, r) }
	ps.Write(got)
	if len(rs) != 1 || !slices.Contains(rs[0].Lines(), "A012") {
		t.Errorf("parsed %+v", rs)
	}
}

func TestOpenerConfig(t *testing.T) {
	for _, c := range []struct {
		params device.Params
		want   string
	}{
		{device.Params{}, "exactly one of port"},
		{device.Params{"port": "/dev/ttyUSB0", "device": "/dev/usb/lp0"}, "exactly one of port"},
		{device.Params{"port": "/dev/ttyUSB0", "paper": "a4"}, `unknown key "paper"`},
		{device.Params{"port": "/dev/ttyUSB0", "encoding": "utf8"}, "encoding"},
		{device.Params{"port": "/dev/ttyUSB0", "status_timeout": "soon"}, `key "status_timeout": "soon" is not a duration`},
		{device.Params{"port": "/dev/ttyUSB0", "status_timeout": "9s"}, "status_timeout 9s: want 50ms–5s"},
		{device.Params{"port": "/dev/ttyUSB0", "poll": "30"}, `key "poll": "30" is not a duration`},
		{device.Params{"port": "/dev/ttyUSB0", "poll": "500ms"}, "poll 500ms: want 0 (off) or 1s–1h"},
		{device.Params{"port": "/dev/ttyUSB0", "baud": 7}, "baud 7"},
		{device.Params{"port": "/dev/ttyUSB0", "copies": 9}, "copies 9"},
	} {
		_, err := device.OpenTicketPrinter(context.Background(), "escpos", c.params)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.params, err, c.want)
		}
	}
	// An absent printer is not a configuration error: it opens, and says it is down when used.
	p, err := device.OpenTicketPrinter(context.Background(), "escpos", device.Params{"port": "/dev/does-not-exist", "poll": "0"})
	if err != nil {
		t.Fatalf("absent printer: %v", err)
	}
	defer p.Close()
	if err := p.Print(ctx(t), ticket()); !errors.Is(err, escpos.ErrPort) || p.Health().State != device.Down {
		t.Errorf("print to an absent printer: %v, health %s", err, p.Health())
	}
}
