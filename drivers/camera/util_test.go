package camera

import (
	"math/rand/v2"
	"unicode/utf8"
)

func camtestRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func isValidUTF8(s string) bool { return utf8.ValidString(s) }
