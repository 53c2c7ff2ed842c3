package idcardsim

import (
	"crypto/sha256"
	"strings"
	"unicode/utf16"

	"onepass/device"
)

// textBlock builds the 256-byte UCS-2 text block a chip of c's type holds (specs/idcard-ga467.md
// §4). Fields too long for their place are cut, as the card issuer would have to; empty fields
// are spaces.
type textBlock [256]byte

// put writes s at byte offset off as little-endian UCS-2, cut or space-padded to chars characters.
func (b *textBlock) put(off, chars int, s string) {
	u := make([]uint16, 0, chars)
	for _, r := range s {
		if r > 0xFFFF {
			r = '?' // UCS-2 has no room for characters outside the BMP
		}
		u = append(u, uint16(r))
	}
	u = u[:min(len(u), chars)]
	for len(u) < chars {
		u = append(u, ' ')
	}
	for i, c := range u {
		b[off+2*i] = byte(c)
		b[off+2*i+1] = byte(c >> 8)
	}
}

// nationNames is GB 3304 in code order: index i is code i+1 (01 汉 … 56 基诺).
var nationNames = strings.Fields(`汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳
	佤 畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米
	塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺`)

// nationCode turns a nation name (or a code) into the two-digit code; unknown names are 97 (其他).
func nationCode(s string) string {
	if len(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' {
		return s
	}
	for i, n := range nationNames {
		if n == s {
			return string([]byte{byte('0' + (i+1)/10), byte('0' + (i+1)%10)})
		}
	}
	if s == "外国血统中国籍人士" {
		return "98"
	}
	return "97"
}

// sexCode turns 男/女 (or a code) into GB/T 2261.1; without one, the number's sequence parity.
func sexCode(sex, number string) string {
	switch sex {
	case "男", "1":
		return "1"
	case "女", "2":
		return "2"
	case "0", "9":
		return sex
	}
	if len(number) == 18 && number[16] >= '0' && number[16] <= '9' {
		if (number[16]-'0')%2 == 1 {
			return "1"
		}
		return "2"
	}
	return "9"
}

// is2017Foreigner tells the old permanent-residence number: three letters, twelve digits.
func is2017Foreigner(n string) bool {
	if len(n) != 15 {
		return false
	}
	for i := range 15 {
		c := n[i]
		if i < 3 && (c < 'A' || c > 'Z') || i >= 3 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// nationality is the 3-letter code of a foreigner card; anything else becomes "UNK".
func nationality(s string) string {
	if len(s) == 3 && strings.ToUpper(s) == s && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" {
		return s
	}
	return "UNK"
}

// EncodeText lays a card out as its chip would hold it. A foreigner card with a 2017-style number
// (3 letters, 12 digits) gets the 2017 layout (flag I), any other foreigner card the 2023 layout
// (flag Y); hkmotw gets flag J; anything else is a resident card.
func EncodeText(c device.Card) [256]byte {
	var b textBlock
	b.put(0, 128, "") // all spaces
	sex := sexCode(c.Sex, c.Number)
	switch c.Type {
	case device.CardForeigner:
		if is2017Foreigner(c.Number) {
			b.put(0, 60, c.Name)
			b.put(120, 1, sex)
			b.put(122, 15, c.Number)
			b.put(152, 3, nationality(c.Nation))
			b.put(158, 15, c.NameChinese)
			b.put(188, 8, c.ValidFrom)
			b.put(204, 8, c.ValidTo)
			b.put(220, 8, c.Birth)
			b.put(236, 2, "01")
			b.put(240, 4, firstN(c.Issuer, 4, "1100"))
			b.put(248, 1, "I")
			break
		}
		b.put(0, 15, c.NameChinese)
		b.put(30, 1, sex)
		b.put(32, 2, "00")
		b.put(36, 8, c.Birth)
		name := []rune(c.Name)
		b.put(52, 35, string(name[:min(35, len(name))]))
		b.put(122, 18, c.Number)
		b.put(188, 8, c.ValidFrom)
		b.put(204, 8, c.ValidTo)
		if len(name) > 35 {
			b.put(220, 11, string(name[35:]))
		}
		b.put(242, 3, nationality(c.Nation))
		b.put(248, 1, "Y")
	case device.CardHKMOTW:
		b.put(0, 15, c.Name)
		b.put(30, 1, sex)
		b.put(36, 8, c.Birth)
		b.put(52, 35, c.Address)
		b.put(122, 18, c.Number)
		b.put(158, 15, c.Issuer)
		b.put(188, 8, c.ValidFrom)
		b.put(204, 8, c.ValidTo)
		b.put(220, 9, permitNumber(c.Number))
		b.put(238, 2, "01")
		b.put(248, 1, "J")
	default:
		b.put(0, 15, c.Name)
		b.put(30, 1, sex)
		b.put(32, 2, nationCode(c.Nation))
		b.put(36, 8, c.Birth)
		b.put(52, 35, c.Address)
		b.put(122, 18, c.Number)
		b.put(158, 15, c.Issuer)
		b.put(188, 8, c.ValidFrom)
		b.put(204, 8, c.ValidTo)
	}
	return b
}

func firstN(s string, n int, def string) string {
	if s == "" {
		return def
	}
	r := []rune(s)
	return string(r[:min(n, len(r))])
}

// permitNumber makes up a travel-permit number that looks like one: H/M + 8 digits for Hong Kong
// and Macao (回乡证), 8 digits for Taiwan (台胞证).
func permitNumber(number string) string {
	digits := "00000000"
	if len(number) >= 18 {
		digits = number[9:17]
	}
	switch {
	case strings.HasPrefix(number, "81"):
		return "H" + digits
	case strings.HasPrefix(number, "82"):
		return "M" + digits
	}
	return digits
}

// photoFor makes 1024 stable bytes standing in for the WLT photo (no real photo is ever needed).
func photoFor(seed string) [1024]byte {
	var p [1024]byte
	h := sha256.Sum256([]byte("photo|" + seed))
	for i := 0; i < len(p); i += len(h) {
		copy(p[i:], h[:])
		h = sha256.Sum256(h[:])
	}
	return p
}

// utf16le encodes s as little-endian UTF-16 (for the appended address and management number).
func utf16le(s string, chars int) []byte {
	u := utf16.Encode([]rune(s))
	u = u[:min(len(u), chars)]
	for len(u) < chars {
		u = append(u, ' ')
	}
	out := make([]byte, 2*chars)
	for i, c := range u {
		out[2*i], out[2*i+1] = byte(c), byte(c>>8)
	}
	return out
}
