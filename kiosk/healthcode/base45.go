package healthcode

import (
	"errors"
	"fmt"
)

// base45Alphabet is the 45-character set of RFC 9285, which is also the QR alphanumeric set.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(base45Alphabet) {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// ErrBase45 is wrapped by every Base45 decoding error.
var ErrBase45 = errors.New("base45")

// Base45Encode encodes b as RFC 9285 Base45: every two bytes become three characters, a final odd
// byte two.
func Base45Encode(b []byte) string {
	out := make([]byte, 0, (len(b)/2)*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[(n/45)%45], base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

// Base45Decode decodes RFC 9285 Base45. It refuses characters outside the alphabet, a length that
// leaves one character over, and triplets or pairs whose value does not fit (RFC 9285 §4.4).
func Base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("%w: length %d leaves one character over", ErrBase45, len(s))
	}
	out := make([]byte, 0, len(s)/3*2+1)
	digit := func(i int) (int, error) {
		v := base45Value[s[i]]
		if v < 0 {
			return 0, fmt.Errorf("%w: character %q at %d is not in the alphabet", ErrBase45, s[i], i)
		}
		return int(v), nil
	}
	for i := 0; i < len(s); i += 3 {
		c, err := digit(i)
		if err != nil {
			return nil, err
		}
		d, err := digit(i + 1)
		if err != nil {
			return nil, err
		}
		if i+2 == len(s) {
			n := c + d*45
			if n > 0xFF {
				return nil, fmt.Errorf("%w: final pair at %d is %d, over 255", ErrBase45, i, n)
			}
			out = append(out, byte(n))
			break
		}
		e, err := digit(i + 2)
		if err != nil {
			return nil, err
		}
		n := c + d*45 + e*2025
		if n > 0xFFFF {
			return nil, fmt.Errorf("%w: triplet at %d is %d, over 65535", ErrBase45, i, n)
		}
		out = append(out, byte(n>>8), byte(n))
	}
	return out, nil
}
