// Package identity is a foundation package (drivers, kiosk and sync may import it; it imports
// nothing of ours). It checks certificate numbers for every card type (GB 11643-1999, the 2017
// foreigner form), masks names and numbers for the
// screen, derives the person key that the replica and visit log use instead of the number, and
// seals the number to the platform so the kiosk itself cannot read it back.
package identity

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Number is a checked 18-character certificate number (upper-case X), the canonical form.
type Number string

// Errors returned by Parse; wrapped with the detail.
var (
	ErrLength     = errors.New("id number must have 18 characters (or 15 digits for legacy numbers)")
	ErrCharacters = errors.New("id number has characters other than digits and a final X")
	ErrCheckDigit = errors.New("id number check digit is wrong")
	ErrBirthDate  = errors.New("id number has an impossible birth date")
	ErrRegion     = errors.New("id number has an impossible region code")
)

// weights are 2^(17−i) mod 11 for the 17 leading digits (ISO 7064 MOD 11-2).
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckChar computes the check character for 17 leading digits.
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, ErrLength
	}
	sum := 0
	for i := range 17 {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, ErrCharacters
		}
		sum += int(c-'0') * weights[i]
	}
	return "10X98765432"[sum%11], nil
}

// Parse checks a resident-style 18-character number (also used by HK/Macao/Taiwan residence permits
// and 2023 foreigner cards) or converts a 15-digit legacy number to 18. now bounds the birth date.
// Spaces are removed and a lower-case x accepted, as people type them.
func Parse(s string, now time.Time) (Number, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	switch len(s) {
	case 15:
		if !allDigits(s) {
			return "", ErrCharacters
		}
		century := "19"
		// Sequences 996–999 were reserved for centenarians born in the 1800s (GB 11643-1989).
		if s[12:15] >= "996" {
			century = "18"
		}
		s17 := s[:6] + century + s[6:15]
		c, _ := CheckChar(s17)
		s = s17 + string(c)
	case 18:
		if !allDigits(s[:17]) || !(isDigit(s[17]) || s[17] == 'X') {
			return "", ErrCharacters
		}
		c, _ := CheckChar(s[:17])
		if c != s[17] {
			return "", ErrCheckDigit
		}
	default:
		return "", fmt.Errorf("%w: got %d", ErrLength, len(s))
	}
	if s[0] == '0' {
		return "", ErrRegion
	}
	if _, err := birth(s, now); err != nil {
		return "", err
	}
	return Number(s), nil
}

// Birth returns the birth date encoded in the number.
func (n Number) Birth() time.Time {
	t, _ := time.Parse("20060102", string(n[6:14]))
	return t
}

// Male reports the sex encoded in the sequence (odd = male).
func (n Number) Male() bool { return (n[16]-'0')%2 == 1 }

func birth(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return time.Time{}, ErrBirthDate // no digits in the error: it may reach a log
	}
	// The oldest plausible holder: the standard's own example is born in 1880.
	if t.After(now) || t.Year() < now.Year()-150 {
		return time.Time{}, ErrBirthDate
	}
	return t, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// MaskName hides at least one character of every name, so what the screen shows and the log
// stores never gives a whole name away: 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜 (first,
// stars, last from four characters on), 王 → *. Latin names (foreigner cards) keep the first letter
// of each word: "ZHANG SAN" → "Z**** S**"; a name of one-letter words only becomes stars.
// The script is the first character's: a CJK name with Latin letters in it is masked as CJK.
func MaskName(name string) string {
	// Broken bytes stay broken: joining the parts of a CJK name must not glue two of them into a
	// letter that the mask would then show.
	name = strings.TrimSpace(strings.ToValidUTF8(name, "\uFFFD"))
	if name == "" {
		return ""
	}
	r := []rune(name)
	if r[0] < 0x2E80 { // not CJK: "ZHANG SAN" → "Z**** S**"
		words := strings.Fields(name)
		hidden := false
		for i, w := range words {
			wr := []rune(w)
			words[i] = string(wr[0]) + strings.Repeat("*", len(wr)-1)
			hidden = hidden || anyLetter(wr[1:])
		}
		if !hidden { // "A B": every letter would show
			for i, w := range words {
				words[i] = strings.Repeat("*", utf8.RuneCountInString(w))
			}
		}
		return strings.Join(words, " ")
	}
	// A space inside a CJK name is no character of it: "张 三" must not become 张*三.
	r = []rune(strings.Join(strings.Fields(name), ""))
	n := len(r)
	switch {
	case n >= 3 && anyLetter(r[1:n-1]):
		return string(r[0]) + strings.Repeat("*", n-2) + string(r[n-1])
	case n >= 2 && anyLetter(r[1:]):
		// 张三 → 张*: a star between two visible characters would hide nothing (nor would one
		// standing for the dot of 阿·提).
		return string(r[0]) + strings.Repeat("*", n-1)
	}
	return strings.Repeat("*", n)
}

// anyLetter reports whether rs holds a letter or digit: hiding only punctuation hides nothing.
func anyLetter(rs []rune) bool {
	return slices.ContainsFunc(rs, func(c rune) bool { return unicode.IsLetter(c) || unicode.IsNumber(c) })
}

// MaskID keeps the first four and the last four characters: 1101**********4477.
func MaskID(number string) string {
	if len(number) <= 8 {
		return strings.Repeat("*", len(number))
	}
	return number[:4] + strings.Repeat("*", len(number)-8) + number[len(number)-4:]
}

// foreigner2017 is the 2017 Foreigner's Permanent Residence ID number: a three-letter nationality
// code and 12 digits, with no GB 11643 check digit (the 2023 card uses the 18-digit form).
var foreigner2017 = regexp.MustCompile(`^[A-Z]{3}[0-9]{12}$`)

// IsForeigner2017 reports whether s has the form of a 2017 permanent-residence number.
func IsForeigner2017(s string) bool { return foreigner2017.MatchString(s) }

// ParseCert checks a certificate number for its type and returns its canonical form: a 2017
// foreigner number as it is, everything else through Parse (GB 11643, 15 → 18 digits).
func ParseCert(ct CertType, s string, now time.Time) (string, error) {
	if ct == CertForeigner && IsForeigner2017(s) {
		return s, nil
	}
	n, err := Parse(s, now)
	return string(n), err
}
