package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Number
		err  error
	}{
		{"110101199003074477", "110101199003074477", nil},
		{"11010519491231002X", "11010519491231002X", nil}, // the standard's own example
		{"11010519491231002x", "11010519491231002X", nil},
		{" 1101 0519 4912 3100 2X ", "11010519491231002X", nil},
		{"440524188001010014", "440524188001010014", nil},
		{"932682198501010017", "932682198501010017", nil}, // 2023 foreigner card
		{"110101900307447", "110101199003074477", nil},    // 15-digit legacy, converted
		{"110101800101997", "110101188001019972", nil},    // centenarian sequence: 1800s
		{"110101199003074478", "", ErrCheckDigit},
		{"11010119900307447", "", ErrLength},
		{"", "", ErrLength},
		{"1101011990030744X7", "", ErrCharacters},
		{withCheck("11010119901307447"), "", ErrBirthDate}, // month 13
		{withCheck("11010120300101001"), "", ErrBirthDate}, // born in the future
		{withCheck("11010118000101001"), "", ErrBirthDate}, // older than 150 years
		{withCheck("01010119900307447"), "", ErrRegion},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, now)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func withCheck(first17 string) string {
	c, err := CheckChar(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

func TestErrorsCarryNoDigits(t *testing.T) {
	// Errors reach logs; none may carry part of the number.
	for _, in := range []string{withCheck("11010119901307447"), withCheck("11010120300101001"), "110101199003074478", "1101011990030744", "11010119900307447Y"} {
		if _, err := Parse(in, now); err == nil || strings.Contains(err.Error(), in[6:14]) {
			t.Errorf("Parse(%q) error %v", in, err)
		}
	}
}

func TestNumberFields(t *testing.T) {
	n, err := Parse("110101199003074477", now)
	if err != nil {
		t.Fatal(err)
	}
	if b := n.Birth(); b.Year() != 1990 || b.Month() != 3 || b.Day() != 7 {
		t.Errorf("Birth = %v", b)
	}
	if !n.Male() {
		t.Error("sequence 447 is odd: male")
	}
}

func TestMask(t *testing.T) {
	ids := map[string]string{"110101199003074477": "1101**********4477", "ABC": "***"}
	for in, want := range ids {
		if got := MaskID(in); got != want {
			t.Errorf("MaskID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"  ", ""},
		{"王", "*"},
		{"张三", "张*"},
		{"林美", "林*"},
		{" 张三 ", "张*"},
		{"张三丰", "张*丰"},
		{"张小三", "张*三"},
		{"欧阳娜娜", "欧**娜"},
		{"司马相如a", "司***a"},
		{"爱新觉罗溥仪", "爱****仪"},
		{"阿依古丽·买买提", "阿******提"}, // the middle dot of minority names counts as a character
		{"阿·提", "阿**"},           // … but hiding only the dot hides nothing
		{"张 三", "张*"},            // nor does hiding a space
		{"张 三 丰", "张*丰"},
		{"张A", "张*"}, // mixed scripts: the first character's decides
		{"李Ann", "李**n"},
		{"김민", "김*"}, // Hangul is masked like CJK
		{"ZHANG SAN", "Z**** S**"},
		{"Zhang San", "Z**** S**"},
		{"ZHANG  SAN", "Z**** S**"},
		{"JOHN A SMITH", "J*** A S****"},
		{"Anna张", "A****"},
		{"A", "*"},
		{"A B", "* *"},
		{"张!", "**"},
		{"ÉMILE", "É****"},
	} {
		got := MaskName(tc.in)
		if got != tc.want {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in != "" && strings.TrimSpace(tc.in) != "" && !strings.Contains(got, "*") {
			t.Errorf("MaskName(%q) = %q hides nothing", tc.in, got)
		}
	}
}

// FuzzMaskName: whatever the name, at least one character is hidden and no more characters are
// shown than the name has.
func FuzzMaskName(f *testing.F) {
	for _, s := range []string{"张三", "张三丰", "欧阳娜娜", "ZHANG SAN", "A B", "王", "李Ann", "·"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := MaskName(name)
		if strings.TrimSpace(name) == "" {
			if got != "" {
				t.Fatalf("MaskName(%q) = %q, want empty", name, got)
			}
			return
		}
		if !strings.Contains(got, "*") {
			t.Fatalf("MaskName(%q) = %q hides nothing", name, got)
		}
		if n := letters(name); n > 0 && letters(got) >= n {
			t.Fatalf("MaskName(%q) = %q shows every letter", name, got)
		}
	})
}

func letters(s string) int {
	n := 0
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsNumber(c) {
			n++
		}
	}
	return n
}

func TestPersonKey(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	a := PersonKey(k1, CertResident, "11010519491231002X")
	if len(a) != 32 {
		t.Fatalf("len = %d", len(a))
	}
	if !bytes.Equal(a, PersonKey(k1, CertResident, "11010519491231002x")) {
		t.Error("case of X must not change the key")
	}
	if bytes.Equal(a, PersonKey(k2, CertResident, "11010519491231002X")) {
		t.Error("another deployment key must give another person key")
	}
	if bytes.Equal(a, PersonKey(k1, CertForeigner, "11010519491231002X")) {
		t.Error("certificate type is part of the key")
	}
}

func TestSealOpen(t *testing.T) {
	priv, pub, err := NewPlatformKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(pub)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.Seal(CertResident, "110101199003074477")
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := s.Seal(CertResident, "110101199003074477")
	if bytes.Equal(c1, c2) {
		t.Error("two seals of one number must differ (fresh encapsulation)")
	}
	if bytes.Contains(c1, []byte("110101199003074477")) {
		t.Error("sealed bytes contain the number")
	}
	got, err := Open(priv, c1)
	if err != nil || got != "10|110101199003074477" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _, _ := NewPlatformKey()
	if _, err := Open(other, c1); err == nil {
		t.Error("another private key opened the seal")
	}
	c1[len(c1)-1] ^= 1
	if _, err := Open(priv, c1); err == nil {
		t.Error("a corrupted seal opened")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("bad public key accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"110101199003074477", "11010519491231002X", "110101900307447", "", "x", "11010119901307447X", strings.Repeat("9", 18)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s, now)
		if err != nil {
			return
		}
		// Anything accepted is canonical, re-parses to itself and has a correct check character.
		if len(n) != 18 {
			t.Fatalf("accepted %q as %q", s, n)
		}
		again, err := Parse(string(n), now)
		if err != nil || again != n {
			t.Fatalf("canonical %q does not re-parse: %v", n, err)
		}
		if c, _ := CheckChar(string(n[:17])); c != n[17] {
			t.Fatalf("bad check char in %q", n)
		}
		if m := MaskID(string(n)); strings.Contains(m, string(n[4:14])) {
			t.Fatalf("mask %q leaks the middle", m)
		}
	})
}

func TestParseCert(t *testing.T) {
	tests := []struct {
		ct   CertType
		in   string
		want string
		err  error
	}{
		{CertForeigner, "USA123456789012", "USA123456789012", nil},       // 2017 permanent residence: no check digit
		{CertForeigner, "932682198501010017", "932682198501010017", nil}, // 2023 card: GB 11643
		{CertForeigner, "932682198501010018", "", ErrCheckDigit},
		{CertResident, "USA123456789012", "", ErrCharacters}, // the 2017 form is a foreigner's only
		{CertForeigner, "usa123456789012", "", ErrCharacters},
		{CertResident, "110101900307447", "110101199003074477", nil},
	}
	for _, tt := range tests {
		got, err := ParseCert(tt.ct, tt.in, now)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseCert(%d, %q) error = %v, want %v", tt.ct, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCert(%d, %q) = %q, %v; want %q", tt.ct, tt.in, got, err, tt.want)
		}
	}
}
