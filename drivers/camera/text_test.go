package camera

import "testing"

// TestScores pins the two legacy-encoding ratings branch by branch (ASCII, each double-byte
// class, GB18030 four-byte sequences, half-width katakana, a lone lead byte at the end), so the
// shared walk (rate) scores exactly as the two loops it replaced.
func TestScores(t *testing.T) {
	tests := []struct {
		name     string
		b        []byte
		gb, sjis int
	}{
		{"empty", nil, 0, 0},
		{"ascii", []byte("AB1"), 3, 3},
		{"gb2312 hanzi 你好", []byte{0xC4, 0xE3, 0xBA, 0xC3}, 4, 1},
		{"gb2312 symbols row", []byte{0xA1, 0xA2}, 1, 0},
		{"gbk extension", []byte{0x81, 0x40}, -1, 1},
		{"gb18030 four-byte", []byte{0x81, 0x30, 0x81, 0x30, 'a'}, -2, 3},
		{"sjis kana あ", []byte{0x82, 0xA0}, -1, 2},
		{"sjis kanji level 1", []byte{0x88, 0x9F, 0x93, 0xFA}, -2, 4},
		{"sjis level 2 kanji", []byte{0xE0, 0x40}, -1, 1},
		{"sjis other lead", []byte{0xEB, 0x40}, -1, -1},
		{"half-width katakana", []byte{0xB1, 'x'}, -1, 1},
		{"half-width katakana at the end", []byte{'x', 0xB1}, 0, 1},
		{"lone lead byte at the end", []byte{'x', 0x88}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gbScore(tt.b); got != tt.gb {
				t.Errorf("gbScore(% x) = %d, want %d", tt.b, got, tt.gb)
			}
			if got := sjisScore(tt.b); got != tt.sjis {
				t.Errorf("sjisScore(% x) = %d, want %d", tt.b, got, tt.sjis)
			}
		})
	}
}
