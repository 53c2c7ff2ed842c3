package healthcode

import (
	"bytes"
	"errors"
	"testing"
)

// The examples of RFC 9285 §4.3 and §4.4.
func TestBase45RFCVectors(t *testing.T) {
	cases := []struct{ plain, enc string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := Base45Encode([]byte(tc.plain)); got != tc.enc {
			t.Errorf("encode %q = %q, want %q", tc.plain, got, tc.enc)
		}
		got, err := Base45Decode(tc.enc)
		if err != nil || string(got) != tc.plain {
			t.Errorf("decode %q = %q, %v; want %q", tc.enc, got, err, tc.plain)
		}
	}
}

func TestBase45Invalid(t *testing.T) {
	for _, s := range []string{
		"A",       // one character over
		"GGW",     // 65535 + 1 = 65536: too large (RFC 9285 §4.4 example)
		"ab8",     // lower case is not in the alphabet
		"BB8\n",   // control character
		"::",      // pair over 255
		"BB8BB8A", // trailing single character
		"QED8WE#0",
	} {
		if _, err := Base45Decode(s); !errors.Is(err, ErrBase45) {
			t.Errorf("decode %q: %v, want a base45 error", s, err)
		}
	}
	if b, err := Base45Decode("FGW"); err != nil || !bytes.Equal(b, []byte{0xff, 0xff}) {
		t.Errorf("decode FGW (65535) = %x, %v", b, err)
	}
}

func FuzzBase45(f *testing.F) {
	for _, s := range []string{"BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0", "GGW", "A", "FGW", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Base45Decode(s)
		if err != nil {
			return
		}
		// Every accepted string is the canonical encoding of what it decodes to.
		if enc := Base45Encode(b); enc != s {
			t.Errorf("decode(%q) = %x re-encodes to %q", s, b, enc)
		}
	})
}
