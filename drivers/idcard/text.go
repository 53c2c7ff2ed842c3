package idcard

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"onepass/device"
	"onepass/identity"
)

// Sizes of the two blocks every card carries.
const (
	TextLen  = 256  // the UCS-2 text block
	PhotoLen = 1024 // the WLT photo
)

// Permanent is the "valid until" of cards without expiry.
const Permanent = "长期"

// Card formats, told apart by the type flag at text offset 248 (§4.1).
const (
	FormatResident      = "resident"       // 居民身份证, flag blank
	FormatForeigner2017 = "foreigner-2017" // 外国人永久居留证, flag I
	FormatForeigner2023 = "foreigner-2023" // 外国人永久居留身份证, flag Y
	FormatHKMOTW        = "hkmotw"         // 港澳台居民居住证, flag J
	FormatUnknown       = "unknown"
)

// Text is the parsed 256-byte text block with every field the card carries. It holds the raw ID
// number: keep it in memory only, never log it (String and LogValue hide it).
type Text struct {
	Format      string
	Flag        string // the type flag as read ("" for resident cards)
	Name        string // resident / HK-Macao-Taiwan name; foreigner cards: the English name
	NameChinese string // foreigner cards
	SexCode     string // GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 not stated
	Nation      string // resident: nation code (GB 3304); foreigner: nationality (3 letters)
	Birth       string // YYYYMMDD
	Address     string
	Number      string
	Issuer      string // issuing authority; 2017 foreigner card: accepting-authority code
	ValidFrom   string // YYYYMMDD
	ValidTo     string // YYYYMMDD or 长期

	CardVersion  string // 2017 foreigner card: 证件版本号
	RenewalCount string // 2023 foreigner card: 换证次数
	PreviousLink string // 2023 foreigner card: link to the 2017 number (3 chars)
	PermitNumber string // HK/Macao/Taiwan: 通行证号码
	IssueCount   string // HK/Macao/Taiwan: 签发次数
}

// String keeps the number and the name out of logs.
func (t Text) String() string { return "text(" + t.Format + ")" }

// LogValue keeps the number and the name out of structured logs.
func (t Text) LogValue() slog.Value { return slog.StringValue(t.String()) }

// field reads chars UCS-2 characters at byte offset off.
func field(b []byte, off, chars int) string { return ucs2(b[off : off+2*chars]) }

// ParseText reads the text block of any of the four card layouts (§4.2–4.5). It fails only when
// the block is not 256 bytes; odd contents are decoded as they are (see Check).
func ParseText(b []byte) (Text, error) {
	if len(b) != TextLen {
		return Text{}, fmt.Errorf("%w: text block of %d bytes, want %d", ErrBadReply, len(b), TextLen)
	}
	t := Text{Flag: field(b, 248, 1)}
	t.Flag = strings.TrimSpace(t.Flag)
	switch t.Flag {
	case "":
		t.Format = FormatResident
		t.Name, t.SexCode, t.Nation = field(b, 0, 15), field(b, 30, 1), field(b, 32, 2)
		t.Birth, t.Address, t.Number = field(b, 36, 8), field(b, 52, 35), field(b, 122, 18)
		t.Issuer, t.ValidFrom, t.ValidTo = field(b, 158, 15), field(b, 188, 8), field(b, 204, 8)
	case "I":
		t.Format = FormatForeigner2017
		t.Name, t.SexCode, t.Number = field(b, 0, 60), field(b, 120, 1), field(b, 122, 15)
		t.Nation, t.NameChinese = field(b, 152, 3), field(b, 158, 15)
		t.ValidFrom, t.ValidTo, t.Birth = field(b, 188, 8), field(b, 204, 8), field(b, 220, 8)
		t.CardVersion, t.Issuer = field(b, 236, 2), field(b, 240, 4)
	case "Y":
		t.Format = FormatForeigner2023
		t.NameChinese, t.SexCode, t.RenewalCount = field(b, 0, 15), field(b, 30, 1), field(b, 32, 2)
		t.Birth, t.Number = field(b, 36, 8), field(b, 122, 18)
		// The English name runs over two places: 35 characters at 52 and 11 more at 220. Join
		// the raw characters before trimming, or a space at the seam would be lost.
		t.Name = ucs2(append(append([]byte(nil), b[52:122]...), b[220:242]...))
		t.ValidFrom, t.ValidTo = field(b, 188, 8), field(b, 204, 8)
		t.Nation, t.PreviousLink = field(b, 242, 3), field(b, 250, 3)
	case "J":
		t.Format = FormatHKMOTW
		t.Name, t.SexCode = field(b, 0, 15), field(b, 30, 1)
		t.Birth, t.Address, t.Number = field(b, 36, 8), field(b, 52, 35), field(b, 122, 18)
		t.Issuer, t.ValidFrom, t.ValidTo = field(b, 158, 15), field(b, 188, 8), field(b, 204, 8)
		t.PermitNumber, t.IssueCount = field(b, 220, 9), field(b, 238, 2)
	default:
		t.Format = FormatUnknown
		// Keep what a reader of an unknown layout can still rely on: the number sits at 122 in
		// every 18-digit layout; the kiosk's own checks then decide.
		t.Number = field(b, 122, 18)
	}
	return t, nil
}

// CardType maps the format to the device's card type.
func (t Text) CardType() device.CardType {
	switch t.Format {
	case FormatResident:
		return device.CardResident
	case FormatForeigner2017, FormatForeigner2023:
		return device.CardForeigner
	case FormatHKMOTW:
		return device.CardHKMOTW
	}
	return device.CardTypeUnknown
}

// Sex is the printed sex: 男, 女, or the code itself when it is 0, 9 or not a code at all.
func (t Text) Sex() string {
	switch t.SexCode {
	case "1":
		return "男"
	case "2":
		return "女"
	}
	return t.SexCode
}

// Card builds the device.Card the kiosk consumes. raw and photo are copied.
func (t Text) Card(raw, photo []byte) device.Card {
	c := device.Card{
		Type: t.CardType(), Name: t.Name, NameChinese: t.NameChinese, Sex: t.Sex(), Nation: t.Nation,
		Birth: t.Birth, Address: t.Address, Number: t.Number, Issuer: t.Issuer,
		ValidFrom: t.ValidFrom, ValidTo: t.ValidTo,
		Raw: clone(raw), Photo: clone(photo),
	}
	if t.Format == FormatResident {
		c.Nation, _ = Nation(t.Nation)
	}
	return c
}

// Problems found by Check. None of them carries the number or the name, so they may be logged.
var (
	ErrUnknownFormat = errors.New("unknown card type flag")
	ErrNumberFormat  = errors.New("certificate number does not fit the card type")
	ErrDate          = errors.New("malformed date")
	ErrBirthMismatch = errors.New("birth date differs from the one in the number")
	ErrSexCode       = errors.New("sex code is not 0, 1, 2 or 9")
)

var (
	hkmotwPrefix = regexp.MustCompile(`^8[123]0000`)
)

// Check verifies the text as the chip should hold it: the number's format and GB 11643 check digit
// (through package identity) for the card type, the birth date inside the number, the dates (长期
// allowed as "valid until"), and the sex code. A card that fails is still a card the kiosk must
// answer ("证件无效"), so the reader delivers it and logs what Check says.
func (t Text) Check(now time.Time) error {
	var errs []error
	switch t.Format {
	case FormatUnknown:
		return fmt.Errorf("%w %q", ErrUnknownFormat, t.Flag)
	case FormatForeigner2017:
		if !identity.IsForeigner2017(t.Number) {
			errs = append(errs, fmt.Errorf("%w: want 3 letters and 12 digits", ErrNumberFormat))
		}
	default:
		n, err := identity.Parse(t.Number, now)
		switch {
		case err != nil:
			errs = append(errs, identityProblem(err))
		case len(t.Number) != 18:
			errs = append(errs, fmt.Errorf("%w: the chip holds 18 characters", ErrNumberFormat))
		case t.Format == FormatForeigner2023 && t.Number[0] != '9':
			errs = append(errs, fmt.Errorf("%w: 2023 foreigner numbers start with 9", ErrNumberFormat))
		case t.Format == FormatHKMOTW && !hkmotwPrefix.MatchString(t.Number):
			errs = append(errs, fmt.Errorf("%w: residence permits start with 810000, 820000 or 830000", ErrNumberFormat))
		case string(n[6:14]) != t.Birth:
			errs = append(errs, ErrBirthMismatch)
		}
	}
	if _, _, err := ParseDate(t.Birth); err != nil || t.Birth == Permanent {
		errs = append(errs, fmt.Errorf("birth: %w", ErrDate))
	}
	from, _, errFrom := ParseDate(t.ValidFrom)
	if errFrom != nil || t.ValidFrom == Permanent {
		errs = append(errs, fmt.Errorf("valid from: %w", ErrDate))
	}
	to, permanent, errTo := ParseDate(t.ValidTo)
	switch {
	case errTo != nil:
		errs = append(errs, fmt.Errorf("valid until: %w", ErrDate))
	case errFrom == nil && !permanent && to.Before(from):
		errs = append(errs, fmt.Errorf("valid until: %w: before valid from", ErrDate))
	}
	switch t.SexCode {
	case "0", "1", "2", "9":
	default:
		errs = append(errs, ErrSexCode)
	}
	return errors.Join(errs...)
}

// identityProblem keeps only identity's sentinel: its detail may quote digits of the number.
func identityProblem(err error) error {
	for _, s := range []error{identity.ErrLength, identity.ErrCharacters, identity.ErrCheckDigit, identity.ErrBirthDate, identity.ErrRegion} {
		if errors.Is(err, s) {
			return s
		}
	}
	return ErrNumberFormat
}

// ParseDate reads a card date, YYYYMMDD. 长期 (valid until: no expiry) gives permanent = true
// and the zero time.
func ParseDate(s string) (t time.Time, permanent bool, err error) {
	if s == Permanent {
		return time.Time{}, true, nil
	}
	if len(s) != 8 {
		return time.Time{}, false, fmt.Errorf("%w: %d characters, want YYYYMMDD", ErrDate, len([]rune(s)))
	}
	t, err = time.Parse("20060102", s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: not a calendar date", ErrDate)
	}
	return t, false, nil
}
