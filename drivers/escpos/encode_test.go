package escpos

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/device"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var cst = time.FixedZone("CST", 8*3600)

func sampleTicket() device.Ticket {
	return device.Ticket{Number: "A012", Service: "社保", Hall: "政务服务大厅", IssuedAt: time.Date(2026, 11, 26, 9, 30, 5, 0, cst),
		Waiting: 3, URL: "https://hall.example/t/0194b2c4-1111-7000-8000-000000000012"}
}

// golden compares b with testdata/name (a hex dump, 16 bytes a line) or rewrites it with -update.
func golden(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	var dump strings.Builder
	for i := 0; i < len(b); i += 16 {
		dump.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]))
		dump.WriteByte('\n')
	}
	if *update {
		if err := os.WriteFile(path, []byte(dump.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if dump.String() != string(want) {
		t.Errorf("%s differs from the golden bytes:\n got\n%s\nwant\n%s", name, dump.String(), want)
	}
}

func TestTicketGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		t    device.Ticket
		l    Layout
	}{
		{"ticket_gb18030.hex", sampleTicket(), DefaultLayout()},
		{"ticket_priority_kanji.hex", func() device.Ticket {
			tk := sampleTicket()
			tk.Priority, tk.URL, tk.Slot = true, "", time.Date(2026, 11, 26, 10, 30, 0, 0, cst)
			return tk
		}(), Layout{Encoding: "gbk", KanjiCmds: true, Width: 32, QRSize: 4}},
	} {
		b, err := Ticket(c.t, c.l)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b)
	}
}

// The commands that matter, checked by hand so the golden file cannot drift into nonsense.
func TestTicketCommands(t *testing.T) {
	tk := sampleTicket()
	b, err := Ticket(tk, DefaultLayout())
	if err != nil {
		t.Fatal(err)
	}
	url := []byte(tk.URL)
	qrStore := append([]byte{0x1d, '(', 'k', byte(len(url) + 3), 0, '1', 80, '0'}, url...)
	for _, c := range []struct {
		what string
		seq  []byte
	}{
		{"init first", []byte{0x1b, 0x40, 0x1b, 'a', 1}},
		{"service 2x2 in GB18030 (社保)", []byte{0x1d, '!', 0x11, 0xc9, 0xe7, 0xb1, 0xa3, 0x0a}},
		{"number 4x4 bold", []byte{0x1d, '!', 0x33, 0x1b, 'E', 1, 'A', '0', '1', '2', 0x0a}},
		{"QR model 2", []byte{0x1d, '(', 'k', 4, 0, '1', 65, '2', 0}},
		{"QR module size", []byte{0x1d, '(', 'k', 3, 0, '1', 67, 6}},
		{"QR EC level M", []byte{0x1d, '(', 'k', 3, 0, '1', 69, '1'}},
		{"QR store data", qrStore},
		{"QR print", []byte{0x1d, '(', 'k', 3, 0, '1', 81, '0'}},
		{"feed and partial cut last", []byte{0x1b, 'd', 3, 0x1d, 'V', 66, 0}},
	} {
		if !bytes.Contains(b, c.seq) {
			t.Errorf("%s: % x not in the job", c.what, c.seq)
		}
	}
	if !bytes.HasPrefix(b, []byte{0x1b, 0x40}) || !bytes.HasSuffix(b, []byte{0x1d, 'V', 66, 0}) {
		t.Error("a job starts with ESC @ and ends with the cut")
	}
	if bytes.Contains(b, []byte("社保")) {
		t.Error("Chinese text went out as UTF-8")
	}
}

func TestKanjiModeWrapsChineseOnly(t *testing.T) {
	b, err := NewBuilder(Layout{Encoding: "gbk", KanjiCmds: true}).Text("A012").Text("号").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{'A', '0', '1', '2', 0x1c, '&', 0xba, 0xc5, 0x1c, '.'}; !bytes.Equal(b, want) {
		t.Errorf("got % x, want % x", b, want)
	}
}

func TestLayoutValidate(t *testing.T) {
	for _, l := range []Layout{{Encoding: "utf8", Width: 48, QRSize: 6}, {Encoding: "gbk", Width: 10, QRSize: 6}, {Encoding: "gbk", Width: 48, QRSize: 17}} {
		if _, err := Ticket(sampleTicket(), l); err == nil {
			t.Errorf("layout %+v accepted", l)
		}
	}
	if _, err := NewBuilder(DefaultLayout()).QR(strings.Repeat("x", 701), 6).Bytes(); err == nil {
		t.Error("a QR code of 701 bytes was accepted")
	}
}
