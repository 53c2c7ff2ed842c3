package idcardsim

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"onepass/device"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// line opens the simulator's tty as a host would, at baud.
func line(t *testing.T, s *Sim, baud int) (serial.Port, *PTY) {
	t.Helper()
	p, err := s.OpenPTY()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	port, err := serial.Open(p.Path(), &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { port.Close() })
	return port, p
}

// ask writes raw bytes and reads until want bytes came or the line stays quiet for 300 ms.
func ask(t *testing.T, port serial.Port, req []byte, want int) []byte {
	t.Helper()
	if _, err := port.Write(req); err != nil {
		t.Fatal(err)
	}
	port.SetReadTimeout(300 * time.Millisecond)
	var got []byte
	b := make([]byte, 4096)
	for len(got) < want || want == 0 {
		n, err := port.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, b[:n]...)
	}
	return got
}

// The simulator's replies, byte for byte, against the frames printed in the spec — checked
// without the driver's codec.
func TestRepliesMatchTheSpec(t *testing.T) {
	s := New(Options{})
	port, _ := line(t, s, 115200)
	for _, tc := range []struct {
		name, req, want string
		before          func()
	}{
		{"status", "AA AA AA 96 69 00 03 11 FF ED", "AA AA AA 96 69 00 04 00 00 90 94", nil},
		{"reset", "AA AA AA 96 69 00 03 10 FF EC", "AA AA AA 96 69 00 04 00 00 90 94", nil},
		{"find, no card", "AA AA AA 96 69 00 03 20 01 22", "AA AA AA 96 69 00 04 00 00 80 84", nil},
		{"select, no card", "AA AA AA 96 69 00 03 20 02 21", "AA AA AA 96 69 00 04 00 00 81 85", nil},
		{"read, no card", "AA AA AA 96 69 00 03 30 01 32", "AA AA AA 96 69 00 04 00 00 41 45", nil},
		{"find", "AA AA AA 96 69 00 03 20 01 22", "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97",
			func() { s.Place(device.Card{Number: "110101199003074477", Name: "张三"}) }},
		{"select", "AA AA AA 96 69 00 03 20 02 21", "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", nil},
		{"30 02 is not confirmed", "AA AA AA 96 69 00 03 30 02 31", "AA AA AA 96 69 00 04 00 00 21 25", nil},
		{"max RF bytes", "AA AA AA 96 69 00 04 61 FF 50 CA", "AA AA AA 96 69 00 04 00 00 90 94", nil},
		{"bad checksum", "AA AA AA 96 69 00 03 20 01 23", "AA AA AA 96 69 00 04 00 00 10 14", nil},
		{"bad length", "AA AA AA 96 69 10 00 20 01 22", "AA AA AA 96 69 00 04 00 00 11 15", nil},
		{"bytes stop coming", "AA AA AA 96 69 00 03 20", "AA AA AA 96 69 00 04 00 00 11 15", nil},
		{"noise is ignored", "00 13 11 AA AA AA AA 96 69 00 03 11 FF ED", "AA AA AA 96 69 00 04 00 00 90 94", nil},
	} {
		if tc.before != nil {
			tc.before()
		}
		want := unhex(t, tc.want)
		if got := ask(t, port, unhex(t, tc.req), len(want)); !bytes.Equal(got, want) {
			t.Errorf("%s: % X\nwant % X", tc.name, got, want)
		}
	}
	// The read: LEN 05 08, lengths 01 00 / 04 00, 1295 bytes in all, XOR of LEN..CHK zero.
	got := ask(t, port, unhex(t, "AA AA AA 96 69 00 03 30 01 32"), 1295)
	if len(got) != 1295 || !bytes.HasPrefix(got, unhex(t, "AA AA AA 96 69 05 08 00 00 90 01 00 04 00")) || xor(got[5:]) != 0 {
		t.Errorf("read reply: %d bytes, head % X", len(got), got[:min(14, len(got))])
	}
	// SAM ID: 27 bytes, fields little-endian.
	got = ask(t, port, unhex(t, "AA AA AA 96 69 00 03 12 FF EE"), 27)
	if len(got) != 27 || !bytes.Equal(got[10:14], []byte{5, 0, 1, 0}) {
		t.Errorf("SAM ID reply % X", got)
	}
}

func xor(b []byte) byte {
	x := byte(0)
	for _, c := range b {
		x ^= c
	}
	return x
}

// With fingerprints the reply is 1297, 1809 or 2321 bytes (§3.5).
func TestFingerprintReplyLengths(t *testing.T) {
	s := New(Options{})
	port, _ := line(t, s, 115200)
	for _, n := range []int{0, 512, 1024} {
		c := NewCard(device.Card{Number: "110101199003074477"})
		c.Fingerprint = make([]byte, n)
		s.Remove()
		s.PlaceCard(c)
		ask(t, port, unhex(t, "AA AA AA 96 69 00 03 20 01 22"), 15)
		ask(t, port, unhex(t, "AA AA AA 96 69 00 03 20 02 21"), 19)
		got := ask(t, port, unhex(t, "AA AA AA 96 69 00 03 30 10 23"), 1297+n)
		if len(got) != 1297+n || xor(got[5:]) != 0 || int(got[14])<<8|int(got[15]) != n {
			t.Errorf("%d fingerprint bytes: reply of %d bytes", n, len(got))
		}
	}
}

// A SAM at another rate than the host's line says nothing; set-baud answers at the old rate.
func TestBaud(t *testing.T) {
	s := New(Options{Baud: 9600})
	port, _ := line(t, s, 115200)
	if got := ask(t, port, unhex(t, "AA AA AA 96 69 00 03 11 FF ED"), 11); len(got) != 0 {
		t.Errorf("a 9600 SAM answered at 115200: % X", got)
	}
	port.SetMode(&serial.Mode{BaudRate: 9600})
	if got := ask(t, port, unhex(t, "AA AA AA 96 69 00 03 60 00 63"), 11); !bytes.Equal(got, unhex(t, "AA AA AA 96 69 00 04 00 00 90 94")) {
		t.Errorf("set baud: % X", got)
	}
	time.Sleep(20 * time.Millisecond) // the SAM switches 5 ms after its answer
	port.SetMode(&serial.Mode{BaudRate: 115200})
	if got := ask(t, port, unhex(t, "AA AA AA 96 69 00 03 11 FF ED"), 11); len(got) != 11 || s.Baud() != 115200 {
		t.Errorf("after switching: % X at %d", got, s.Baud())
	}
}

// The text layouts, at the offsets of the spec's tables (§4.2–4.5).
func TestEncodeText(t *testing.T) {
	ucs := func(b [256]byte, off, chars int) string {
		var r []rune
		for i := 0; i < chars; i++ {
			r = append(r, rune(b[off+2*i])|rune(b[off+2*i+1])<<8)
		}
		return strings.TrimRight(string(r), " ")
	}
	b := EncodeText(device.Card{Name: "张三", Nation: "汉", Birth: "19900307", Number: "110101199003074477", ValidTo: "长期"})
	for _, f := range []struct {
		off, chars int
		want       string
	}{{0, 15, "张三"}, {30, 1, "1"}, {32, 2, "01"}, {36, 8, "19900307"}, {122, 18, "110101199003074477"}, {204, 8, "长期"}, {248, 1, ""}} {
		if got := ucs(b, f.off, f.chars); got != f.want {
			t.Errorf("resident @%d: %q, want %q", f.off, got, f.want)
		}
	}
	if !bytes.Equal(b[204:208], []byte{0x7F, 0x95, 0x1F, 0x67}) {
		t.Errorf("长期 on the wire: % X", b[204:208])
	}
	long := "WOLFESCHLEGELSTEINHAUSENBERGER, HUBERT BLAINE"
	y := EncodeText(device.Card{Type: device.CardForeigner, Name: long, NameChinese: "沃尔夫", Nation: "DEU", Number: "932682198501010017"})
	if ucs(y, 248, 1) != "Y" || ucs(y, 52, 35) != long[:35] || ucs(y, 220, 11) != long[35:] || ucs(y, 242, 3) != "DEU" || ucs(y, 0, 15) != "沃尔夫" {
		t.Errorf("2023 foreigner layout wrong")
	}
	i := EncodeText(device.Card{Type: device.CardForeigner, Name: "SMITH, JOHN", Number: "USA110080010112", Nation: "usa"})
	if ucs(i, 248, 1) != "I" || ucs(i, 122, 15) != "USA110080010112" || ucs(i, 152, 3) != "UNK" || ucs(i, 0, 60) != "SMITH, JOHN" {
		t.Errorf("2017 foreigner layout wrong")
	}
	j := EncodeText(device.Card{Type: device.CardHKMOTW, Name: "陈大文", Number: "810000199001010019"})
	if ucs(j, 248, 1) != "J" || ucs(j, 220, 9) != "H00101001" || ucs(j, 32, 2) != "" {
		t.Errorf("permit layout wrong: pass %q", ucs(j, 220, 9))
	}
}

func TestNationCodes(t *testing.T) {
	if len(nationNames) != 56 {
		t.Fatalf("%d nations, want 56", len(nationNames))
	}
	for name, code := range map[string]string{"汉": "01", "傈僳": "20", "德昂": "46", "基诺": "56", "外国血统中国籍人士": "98", "火星": "97", "07": "07"} {
		if got := nationCode(name); got != code {
			t.Errorf("%s: %s, want %s", name, got, code)
		}
	}
}
