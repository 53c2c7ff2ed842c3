package camera

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// ToUTF8 turns the bytes of a decoded QR symbol into UTF-8 text. wechat_qrcode hands back byte-mode,
// Kanji-mode and Hanzi-mode segments unconverted (and no ECI), so a code written in Shift_JIS or
// GB2312/GB18030 arrives as those bytes. Valid UTF-8 is kept as it is; otherwise the legacy
// encoding that decodes the bytes cleanly with the more common characters wins (GB18030 on a tie:
// the kiosk stands in China), and bytes that fit neither are read as ISO-8859-1, the QR default.
func ToUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	gb, gbOK := decodeStrict(simplifiedchinese.GB18030, b)
	sj, sjOK := decodeStrict(japanese.ShiftJIS, b)
	switch {
	case gbOK && sjOK:
		if sjisScore(b) > gbScore(b) {
			return sj
		}
		return gb
	case gbOK:
		return gb
	case sjOK:
		return sj
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// decodeStrict decodes b with enc and refuses a result with replacement characters: bytes that
// are not valid in that encoding.
func decodeStrict(enc encoding.Encoding, b []byte) (string, bool) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return "", false
	}
	return string(out), true
}

// rate walks b as legacy multi-byte text: an ASCII byte scores one, and char rates the character
// that starts at any other byte (rest is b from there) and says how many bytes it takes.
func rate(b []byte, char func(rest []byte) (width, points int)) int {
	score := 0
	for i := 0; i < len(b); {
		if b[i] < 0x80 {
			score++
			i++
			continue
		}
		w, p := char(b[i:])
		score += p
		i += w
	}
	return score
}

// gbScore rates b as GB18030 text: the GB2312 hanzi rows are what Chinese text is made of; the GBK
// extension rows and four-byte sequences are what other encodings look like when misread.
func gbScore(b []byte) int {
	return rate(b, func(r []byte) (int, int) {
		c := r[0]
		switch {
		case len(r) > 3 && r[1] >= 0x30 && r[1] <= 0x39:
			return 4, -3
		case len(r) > 1:
			t := r[1]
			switch {
			case c >= 0xB0 && c <= 0xF7 && t >= 0xA1:
				return 2, 2
			case c >= 0xA1 && c <= 0xA9 && t >= 0xA1:
				return 2, 1
			}
			return 2, -1
		}
		return 1, -1 // a lead byte with nothing after it
	})
}

// sjisScore rates b as Shift_JIS text: kana and level-1 kanji are what Japanese text is made of.
func sjisScore(b []byte) int {
	return rate(b, func(r []byte) (int, int) {
		c := r[0]
		switch {
		case c >= 0xA1 && c <= 0xDF: // half-width katakana: rare in real text
			return 1, 0
		case len(r) > 1:
			switch {
			case c == 0x82 || c == 0x83 || (c >= 0x88 && c <= 0x9F):
				return 2, 2
			case c == 0x81 || (c >= 0xE0 && c <= 0xEA):
				return 2, 1
			}
			return 2, -1
		}
		return 1, -1 // a lead byte with nothing after it
	})
}
