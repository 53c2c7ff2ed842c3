package escpossim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func gb(s string) []byte {
	b, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	return b
}

func parseAll(b []byte) ([]Receipt, []byte, *Parser) {
	p := NewParser("gb18030")
	var rs []Receipt
	var asked []byte
	p.OnReceipt = func(r Receipt) { rs = append(rs, r) }
	p.OnStatus = func(n byte) (byte, bool) { asked = append(asked, n); return 0x12, true }
	p.Write(b)
	return rs, asked, p
}

func TestParse(t *testing.T) {
	job := bytes.Join([][]byte{
		{0x1b, '@', 0x1b, 'a', 1, 0x1d, '!', 0x11}, gb("社保"), {0x0a},
		{0x1d, '!', 0x33, 0x1b, 'E', 1}, []byte("A012"), {0x0a, 0x1b, 'E', 0, 0x1d, '!', 0},
		{0x10, 0x04, 4}, // a status request in the middle of the data
		{0x1d, '(', 'k', 3, 0, '1', 67, 5},
		{0x1d, '(', 'k', 8, 0, '1', 80, '0', 'h', 't', 't', 'p', 's'},
		{0x1d, '(', 'k', 3, 0, '1', 81, '0'},
		{0x1b, 0x99}, // unknown
		{0x1b, 'd', 2, 0x1d, 'V', 66, 0},
	}, nil)
	rs, asked, p := parseAll(job)
	want := []Element{
		{Text: "社保", Align: 1, W: 2, H: 2},
		{Text: "A012", Align: 1, W: 4, H: 4, Bold: true},
		{QR: "https", QRSize: 5, Align: 1, W: 1, H: 1},
		{Text: "", Align: 1, W: 1, H: 1},
		{Text: "", W: 1, H: 1},
	}
	if len(rs) != 1 || !reflect.DeepEqual(rs[0].Elements, want) || !rs[0].Partial {
		got, _ := json.Marshal(rs)
		t.Errorf("receipts %s", got)
	}
	if !bytes.Equal(asked, []byte{4}) || p.Unknown != 1 {
		t.Errorf("status requests %v, unknown %d", asked, p.Unknown)
	}
}

// FuzzParser: any byte stream is consumed without a panic, the text is valid UTF-8, and feeding
// it in two pieces gives the same receipts as feeding it whole (the serial line splits anywhere).
func FuzzParser(f *testing.F) {
	f.Add([]byte{0x1b, '@', 'A', 0x0a, 0x1d, 'V', 66, 0}, 3)
	f.Add(append(append([]byte{0x1d, '(', 'k', 7, 0, '1', 80, '0'}, "abcd"...), 0x1d, '(', 'k', 3, 0, '1', 81, '0', 0x1d, 'V', 0), 5)
	f.Add([]byte{0x1d, '(', 'k', 0xff, 0xff, 0x10, 0x04, 0x02, 0xc9, 0xe7, 0x0a, 0x1d, 'V', 1}, 1)
	f.Add([]byte{0x1c, '&', 0xba, 0xc5, 0x1c, '.', 0x0a, 0xff, 0x80, 0x0a, 0x1d, 'V', 65, 3}, 2)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		whole, askedW, _ := parseAll(b)
		if split < 0 {
			split = -split
		}
		split %= len(b) + 1
		p := NewParser("gb18030")
		var parts []Receipt
		var askedP []byte
		p.OnReceipt = func(r Receipt) { parts = append(parts, r) }
		p.OnStatus = func(n byte) (byte, bool) { askedP = append(askedP, n); return 0x12, true }
		p.Write(b[:split])
		p.Write(b[split:])
		wj, _ := json.Marshal(whole)
		pj, _ := json.Marshal(parts)
		if !bytes.Equal(wj, pj) || !bytes.Equal(askedW, askedP) {
			t.Fatalf("split at %d changes the result:\nwhole %s %v\nparts %s %v", split, wj, askedW, pj, askedP)
		}
		for _, r := range whole {
			for _, e := range r.Elements {
				if !bytes.Equal([]byte(e.Text), bytes.ToValidUTF8([]byte(e.Text), nil)) {
					t.Fatalf("invalid UTF-8 %q", e.Text)
				}
			}
		}
	})
}

func TestRenderWithoutCJKFont(t *testing.T) {
	r := &Renderer{Width: 384}
	r2, err := NewRenderer("/nonexistent.ttc")
	if err == nil || r2 != nil {
		t.Errorf("a missing explicit font: %v", err)
	}
	*r = Renderer{Width: 384}
	def, _ := NewRenderer("")
	r.face = def.face
	r.cjk = false
	img := r.Image(Receipt{Elements: []Element{{Text: "社保 A012", W: 2, H: 2, Align: 1}, {Text: "x", Reverse: true, W: 1, H: 1}}})
	if img.Bounds().Dx() != 384 || img.Bounds().Dy() < 2*baseH {
		t.Errorf("image %v", img.Bounds())
	}
}
