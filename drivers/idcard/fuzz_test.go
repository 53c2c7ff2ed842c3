package idcard

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzSplit: whatever the line delivers, the decoder never panics, always makes progress, and every
// frame it yields re-encodes to exactly the bytes it consumed. Seeds: testdata/fuzz/FuzzSplit.
func FuzzSplit(f *testing.F) {
	f.Add(Encode(0x20, 0x01, nil))
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x04, 0x00, 0x00, 0x80, 0x84})
	f.Fuzz(func(t *testing.T, stream []byte) {
		buf := stream
		for len(buf) > 0 {
			n, payload, err := Split(buf)
			if n < 0 || n > len(buf) {
				t.Fatalf("n = %d of %d", n, len(buf))
			}
			if n == 0 {
				if err != nil || payload != nil {
					t.Fatalf("waiting, yet err=%v payload=%v", err, payload)
				}
				break
			}
			if err == nil {
				if !bytes.Equal(appendFrame(nil, payload), buf[:n]) {
					t.Fatalf("frame % X does not re-encode from its payload", buf[:n])
				}
				if _, err := ParseResponse(payload); err == nil && len(payload) < 3 {
					t.Fatal("short payload parsed")
				}
			} else if payload != nil {
				t.Fatal("payload with an error")
			}
			buf = buf[n:]
		}
	})
}

// FuzzParseText: any 256 bytes parse into trimmed, valid UTF-8 fields; checking and converting
// never panic, and String shows nothing but the format. Seeds: testdata/fuzz/FuzzParseText.
func FuzzParseText(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x20, 0x00}, 128))
	f.Fuzz(func(t *testing.T, raw []byte) {
		txt, err := ParseText(raw)
		if len(raw) != TextLen {
			if err == nil {
				t.Fatalf("%d bytes accepted", len(raw))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{txt.Flag, txt.Name, txt.NameChinese, txt.SexCode, txt.Nation, txt.Birth, txt.Address,
			txt.Number, txt.Issuer, txt.ValidFrom, txt.ValidTo, txt.CardVersion, txt.RenewalCount, txt.PreviousLink,
			txt.PermitNumber, txt.IssueCount} {
			if !utf8.ValidString(s) || strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\x00") || strings.ContainsRune(s, 0) {
				t.Fatalf("field %q not decoded and trimmed", s)
			}
		}
		_ = txt.Check(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		c := txt.Card(raw, make([]byte, PhotoLen))
		if len(c.Raw) != TextLen || c.Type == "" {
			t.Fatalf("card %v", c)
		}
		if txt.String() != "text("+txt.Format+")" {
			t.Fatalf("String shows more than the format: %s", txt)
		}
	})
}

// FuzzReply: the whole path of a read reply — frame, status, the base-info length words, the text.
// Seeds: testdata/fuzz/FuzzReply.
func FuzzReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		for len(stream) > 0 {
			n, payload, err := Split(stream)
			if n == 0 {
				return
			}
			stream = stream[n:]
			if err != nil {
				continue
			}
			r, err := ParseResponse(payload)
			if err != nil {
				continue
			}
			for _, fp := range []bool{false, true} {
				b, err := splitBase(r.Data, fp)
				if err != nil {
					continue
				}
				if len(b.Text) != TextLen || len(b.Photo) != PhotoLen {
					t.Fatalf("base info %v", b)
				}
				if _, err := ParseText(b.Text); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
