package idcard_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/idcard"
	"onepass/identity"
)

// at is one field of a hand-built text block: s written at byte offset off, padded to chars.
type at struct {
	off, chars int
	s          string
}

// block lays fields out by the spec's offset tables (§4), independently of the simulator.
func block(fields ...at) []byte {
	b := bytes.Repeat([]byte{0x20, 0x00}, 128)
	for _, f := range fields {
		i := f.off
		for _, r := range f.s {
			b[i], b[i+1] = byte(r), byte(r>>8)
			i += 2
		}
		if i > f.off+2*f.chars {
			panic("field too long")
		}
	}
	return b
}

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestParseText(t *testing.T) {
	longName := "WOLFESCHLEGELSTEINHAUSENBERGER, HUBERT BLAINE" // 45 characters: crosses the 35-char seam
	for _, tc := range []struct {
		name string
		raw  []byte
		want idcard.Text
		card device.Card
	}{
		{"resident", block(at{0, 15, "张三"}, at{30, 1, "1"}, at{32, 2, "01"}, at{36, 8, "19900307"},
			at{52, 35, "北京市东城区景山前街4号"}, at{122, 18, "110101199003074477"}, at{158, 15, "北京市公安局东城分局"},
			at{188, 8, "20200101"}, at{204, 8, "20400101"}),
			idcard.Text{Format: idcard.FormatResident, Name: "张三", SexCode: "1", Nation: "01", Birth: "19900307",
				Address: "北京市东城区景山前街4号", Number: "110101199003074477", Issuer: "北京市公安局东城分局",
				ValidFrom: "20200101", ValidTo: "20400101"},
			device.Card{Type: device.CardResident, Name: "张三", Sex: "男", Nation: "汉", Number: "110101199003074477"}},
		{"resident 长期, standard example", block(at{0, 15, "王五"}, at{30, 1, "2"}, at{32, 2, "46"}, at{36, 8, "18491231"},
			at{52, 35, "北京市"}, at{122, 18, "11010519491231002X"}, at{158, 15, "公安局"},
			at{188, 8, "20100101"}, at{204, 8, "长期"}),
			idcard.Text{Format: idcard.FormatResident, Name: "王五", SexCode: "2", Nation: "46", Birth: "18491231",
				Address: "北京市", Number: "11010519491231002X", Issuer: "公安局", ValidFrom: "20100101", ValidTo: "长期"},
			device.Card{Type: device.CardResident, Name: "王五", Sex: "女", Nation: "德昂", ValidTo: "长期"}},
		{"foreigner 2017 (I)", block(at{0, 60, "SMITH, JOHN PAUL"}, at{120, 1, "1"}, at{122, 15, "USA110080010112"},
			at{152, 3, "USA"}, at{158, 15, "史密斯"}, at{188, 8, "20170101"}, at{204, 8, "20270101"},
			at{220, 8, "19800101"}, at{236, 2, "01"}, at{240, 4, "1100"}, at{248, 1, "I"}),
			idcard.Text{Format: idcard.FormatForeigner2017, Flag: "I", Name: "SMITH, JOHN PAUL", NameChinese: "史密斯",
				SexCode: "1", Nation: "USA", Birth: "19800101", Number: "USA110080010112", Issuer: "1100",
				ValidFrom: "20170101", ValidTo: "20270101", CardVersion: "01"},
			device.Card{Type: device.CardForeigner, Name: "SMITH, JOHN PAUL", NameChinese: "史密斯", Nation: "USA"}},
		{"foreigner 2023 (Y), public sample", block(at{0, 15, "证件样本"}, at{30, 1, "2"}, at{32, 2, "00"}, at{36, 8, "19800101"},
			at{52, 35, "ZHENGJIAN, YANGBEN"}, at{122, 18, "931586198001010028"}, at{188, 8, "20230808"},
			at{204, 8, "20330807"}, at{242, 3, "PAK"}, at{248, 1, "Y"}, at{250, 3, "ABC"}),
			idcard.Text{Format: idcard.FormatForeigner2023, Flag: "Y", Name: "ZHENGJIAN, YANGBEN", NameChinese: "证件样本",
				SexCode: "2", RenewalCount: "00", Nation: "PAK", Birth: "19800101", Number: "931586198001010028",
				ValidFrom: "20230808", ValidTo: "20330807", PreviousLink: "ABC"},
			device.Card{Type: device.CardForeigner, Name: "ZHENGJIAN, YANGBEN", Sex: "女", Nation: "PAK"}},
		{"foreigner 2023, English name over the seam", block(at{0, 15, "沃尔夫"}, at{30, 1, "1"}, at{32, 2, "01"}, at{36, 8, "19850101"},
			at{52, 35, longName[:35]}, at{122, 18, "932682198501010017"}, at{188, 8, "20230101"}, at{204, 8, "20330101"},
			at{220, 11, longName[35:]}, at{242, 3, "DEU"}, at{248, 1, "Y"}),
			idcard.Text{Format: idcard.FormatForeigner2023, Flag: "Y", Name: longName, NameChinese: "沃尔夫", SexCode: "1",
				RenewalCount: "01", Nation: "DEU", Birth: "19850101", Number: "932682198501010017", ValidFrom: "20230101", ValidTo: "20330101"},
			device.Card{Type: device.CardForeigner, Name: longName}},
		{"HK/Macao/Taiwan (J)", block(at{0, 15, "陈大文"}, at{30, 1, "1"}, at{36, 8, "19900101"}, at{52, 35, "广东省深圳市"},
			at{122, 18, "810000199001010019"}, at{158, 15, "深圳市公安局"}, at{188, 8, "20190101"}, at{204, 8, "20240101"},
			at{220, 9, "H12345678"}, at{238, 2, "03"}, at{248, 1, "J"}),
			idcard.Text{Format: idcard.FormatHKMOTW, Flag: "J", Name: "陈大文", SexCode: "1", Birth: "19900101",
				Address: "广东省深圳市", Number: "810000199001010019", Issuer: "深圳市公安局", ValidFrom: "20190101",
				ValidTo: "20240101", PermitNumber: "H12345678", IssueCount: "03"},
			device.Card{Type: device.CardHKMOTW, Name: "陈大文", Nation: ""}},
		{"unknown flag", block(at{122, 18, "110101199003074477"}, at{248, 1, "Z"}),
			idcard.Text{Format: idcard.FormatUnknown, Flag: "Z", Number: "110101199003074477"},
			device.Card{Type: device.CardTypeUnknown}},
	} {
		got, err := idcard.ParseText(tc.raw)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
		photo := bytes.Repeat([]byte{7}, idcard.PhotoLen)
		c := got.Card(tc.raw, photo)
		if c.Type != tc.card.Type || tc.card.Name != "" && c.Name != tc.card.Name || tc.card.Sex != "" && c.Sex != tc.card.Sex ||
			tc.card.Nation != "" && c.Nation != tc.card.Nation || tc.card.NameChinese != "" && c.NameChinese != tc.card.NameChinese ||
			tc.card.ValidTo != "" && c.ValidTo != tc.card.ValidTo || tc.card.Number != "" && c.Number != tc.card.Number {
			t.Errorf("%s: card %#v", tc.name, c)
		}
		if !bytes.Equal(c.Raw, tc.raw) || !bytes.Equal(c.Photo, photo) {
			t.Errorf("%s: raw or photo not carried", tc.name)
		}
		if s := got.String(); strings.Contains(s, got.Number) && got.Number != "" || strings.Contains(s, "张") {
			t.Errorf("%s: String() leaks: %s", tc.name, s)
		}
	}
}

func TestParseTextPadding(t *testing.T) {
	raw := block(at{0, 15, "张 三"}, at{248, 1, " "})
	// NUL padding counts as padding too; interior spaces stay.
	copy(raw[8:30], make([]byte, 22))
	got, _ := idcard.ParseText(raw)
	if got.Name != "张 三" {
		t.Errorf("name %q", got.Name)
	}
	raw = block(at{0, 15, "张\x01三"})
	if got, _ := idcard.ParseText(raw); got.Name != "张\uFFFD三" {
		t.Errorf("control character: %q", got.Name)
	}
	for _, n := range []int{0, 255, 257} {
		if _, err := idcard.ParseText(make([]byte, n)); !errors.Is(err, idcard.ErrBadReply) {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

// 长期 is 7F 95 1F 67 on the wire (§4.1).
func TestPermanentOnTheWire(t *testing.T) {
	raw := block(at{204, 8, "长期"})
	if !bytes.Equal(raw[204:208], []byte{0x7F, 0x95, 0x1F, 0x67}) {
		t.Fatalf("test builder: % X", raw[204:208])
	}
	if got, _ := idcard.ParseText(raw); got.ValidTo != idcard.Permanent {
		t.Errorf("valid to %q", got.ValidTo)
	}
	tm, perm, err := idcard.ParseDate("长期")
	if !perm || !tm.IsZero() || err != nil {
		t.Errorf("ParseDate(长期) = %v %v %v", tm, perm, err)
	}
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"20240229", true}, {"20230229", false}, {"2024022", false}, {"2024-02-2", false}, {"", false}, {"长期长期", false},
	} {
		_, perm, err := idcard.ParseDate(tc.in)
		if (err == nil) != tc.ok || perm {
			t.Errorf("%q: perm=%v err=%v", tc.in, perm, err)
		}
	}
}

func TestCheck(t *testing.T) {
	good := idcard.Text{Format: idcard.FormatResident, SexCode: "1", Birth: "19900307", Number: "110101199003074477",
		ValidFrom: "20200101", ValidTo: "20400101"}
	with := func(f func(*idcard.Text)) idcard.Text { t := good; f(&t); return t }
	for _, tc := range []struct {
		name string
		text idcard.Text
		want error
	}{
		{"good resident", good, nil},
		{"长期", with(func(t *idcard.Text) { t.ValidTo = "长期" }), nil},
		{"bad check digit", with(func(t *idcard.Text) { t.Number = "110101199003074478" }), identity.ErrCheckDigit},
		{"letters", with(func(t *idcard.Text) { t.Number = "11010119900307447A" }), identity.ErrCharacters},
		{"15 digits on a chip", with(func(t *idcard.Text) { t.Number = "110101900307447" }), idcard.ErrNumberFormat},
		{"birth differs", with(func(t *idcard.Text) { t.Birth = "19900308" }), idcard.ErrBirthMismatch},
		{"bad valid-to", with(func(t *idcard.Text) { t.ValidTo = "2040011" }), idcard.ErrDate},
		{"until before from", with(func(t *idcard.Text) { t.ValidTo = "20100101" }), idcard.ErrDate},
		{"长期 as birth", with(func(t *idcard.Text) { t.Birth = "长期" }), idcard.ErrDate},
		{"sex code", with(func(t *idcard.Text) { t.SexCode = "M" }), idcard.ErrSexCode},
		{"unknown layout", idcard.Text{Format: idcard.FormatUnknown, Flag: "Z"}, idcard.ErrUnknownFormat},
		{"2017 foreigner", idcard.Text{Format: idcard.FormatForeigner2017, SexCode: "1", Birth: "19800101", Number: "USA110080010112",
			ValidFrom: "20170101", ValidTo: "20270101"}, nil},
		{"2017 foreigner, bad number", idcard.Text{Format: idcard.FormatForeigner2017, SexCode: "1", Birth: "19800101", Number: "US1110080010112",
			ValidFrom: "20170101", ValidTo: "20270101"}, idcard.ErrNumberFormat},
		{"2023 foreigner", idcard.Text{Format: idcard.FormatForeigner2023, SexCode: "2", Birth: "19800101", Number: "931586198001010028",
			ValidFrom: "20230808", ValidTo: "20330807"}, nil},
		{"2023 foreigner not starting with 9", idcard.Text{Format: idcard.FormatForeigner2023, SexCode: "1", Birth: "19900307",
			Number: "110101199003074477", ValidFrom: "20230808", ValidTo: "20330807"}, idcard.ErrNumberFormat},
		{"HK permit", idcard.Text{Format: idcard.FormatHKMOTW, SexCode: "1", Birth: "19900101", Number: "810000199001010019",
			ValidFrom: "20190101", ValidTo: "20240101"}, nil},
		{"permit with a resident number", idcard.Text{Format: idcard.FormatHKMOTW, SexCode: "1", Birth: "19900307",
			Number: "110101199003074477", ValidFrom: "20190101", ValidTo: "20240101"}, idcard.ErrNumberFormat},
	} {
		err := tc.text.Check(now)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if err != nil && tc.text.Number != "" && strings.Contains(err.Error(), tc.text.Number[6:14]) {
			t.Errorf("%s: the error quotes the number: %v", tc.name, err)
		}
	}
}

func TestNations(t *testing.T) {
	for code, want := range map[string]string{"01": "汉", "02": "蒙古", "20": "傈僳", "46": "德昂", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士"} {
		if got, ok := idcard.Nation(code); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", code, got, ok, want)
		}
	}
	n := 0
	for i := range 100 {
		code := string([]byte{byte('0' + i/10), byte('0' + i%10)})
		if _, ok := idcard.Nation(code); ok {
			n++
		}
	}
	if n != 58 {
		t.Errorf("%d nation codes, want 56 groups + 97 + 98", n)
	}
	if got, ok := idcard.Nation("99"); ok || got != "99" {
		t.Errorf("unknown code: %q %v, want it passed through", got, ok)
	}
}
