package escpos

import (
	"bytes"
	"fmt"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"onepass/device"
)

// ESC/POS command bytes (specs/escpos.md §2.2).
const (
	esc = 0x1b
	gs  = 0x1d
	fs  = 0x1c
	dle = 0x10
	eot = 0x04
	lf  = 0x0a
)

// Layout is how tickets are laid out for one printer model.
type Layout struct {
	Encoding  string // "gb18030" (default) or "gbk"
	KanjiCmds bool   // wrap Chinese text in FS & … FS . (printers whose CJK mode is off by default)
	Width     int    // characters per line in font A: 32 on 58 mm paper, 48 on 80 mm
	QRSize    int    // QR module size in dots, 1–16
}

// DefaultLayout suits an 80 mm printer with a GB18030 font (Xprinter and most Chinese models).
func DefaultLayout() Layout { return Layout{Encoding: "gb18030", Width: 48, QRSize: 6} }

func (l Layout) validate() error {
	switch l.Encoding {
	case "gb18030", "gbk":
	default:
		return fmt.Errorf("encoding %q: want gb18030 or gbk", l.Encoding)
	}
	if l.Width < 24 || l.Width > 64 {
		return fmt.Errorf("width %d: want 24–64 characters", l.Width)
	}
	if l.QRSize < 1 || l.QRSize > 16 {
		return fmt.Errorf("qr_size %d: want 1–16", l.QRSize)
	}
	return nil
}

// Builder accumulates ESC/POS commands.
type Builder struct {
	buf   bytes.Buffer
	enc   *encoding.Encoder
	kanji bool
	err   error
}

// NewBuilder starts a job for a printer with the given text encoding.
func NewBuilder(l Layout) *Builder {
	var e encoding.Encoding = simplifiedchinese.GB18030
	if l.Encoding == "gbk" {
		e = simplifiedchinese.GBK
	}
	// A character the font's encoding lacks prints as '?' rather than failing the ticket.
	return &Builder{enc: encoding.ReplaceUnsupported(e.NewEncoder()), kanji: l.KanjiCmds}
}

// Bytes returns the job, or the first error met while building it.
func (b *Builder) Bytes() ([]byte, error) { return b.buf.Bytes(), b.err }

func (b *Builder) raw(p ...byte) *Builder { b.buf.Write(p); return b }

// Init resets the printer to its power-on modes (ESC @).
func (b *Builder) Init() *Builder { return b.raw(esc, '@') }

// Align sets 0 left, 1 centre, 2 right (ESC a n).
func (b *Builder) Align(n byte) *Builder { return b.raw(esc, 'a', n) }

// Bold switches emphasis (ESC E n).
func (b *Builder) Bold(on bool) *Builder { return b.raw(esc, 'E', boolByte(on)) }

// Size sets the character magnification, 1–8 each way (GS ! n).
func (b *Builder) Size(w, h int) *Builder {
	w, h = min(max(w, 1), 8), min(max(h, 1), 8)
	return b.raw(gs, '!', byte((w-1)<<4|(h-1)))
}

// Reverse switches white-on-black printing (GS B n).
func (b *Builder) Reverse(on bool) *Builder { return b.raw(gs, 'B', boolByte(on)) }

// Text prints s in the printer's Chinese encoding (without a line feed).
func (b *Builder) Text(s string) *Builder {
	enc, err := b.enc.Bytes([]byte(s))
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("escpos: encode %q: %w", s, err)
	}
	if b.kanji && !isASCII(s) {
		b.raw(fs, '&')
		b.buf.Write(enc)
		return b.raw(fs, '.')
	}
	b.buf.Write(enc)
	return b
}

// Line prints s and a line feed.
func (b *Builder) Line(s string) *Builder { return b.Text(s).raw(lf) }

// Feed prints and feeds n lines (ESC d n).
func (b *Builder) Feed(n byte) *Builder { return b.raw(esc, 'd', n) }

// QR prints data as a QR code rendered by the printer (GS ( k, function 165/167/169/180/181):
// model 2, module size in dots, error correction M.
func (b *Builder) QR(data string, size int) *Builder {
	if len(data) == 0 || len(data) > 700 {
		if b.err == nil {
			b.err = fmt.Errorf("escpos: QR data of %d bytes: want 1–700", len(data))
		}
		return b
	}
	fn := func(f byte, args ...byte) {
		n := len(args) + 2
		b.raw(gs, '(', 'k', byte(n), byte(n>>8), '1', f)
		b.raw(args...)
	}
	fn(65, '2', 0)                          // model 2
	fn(67, byte(size))                      // module size
	fn(69, '1')                             // error correction level M (48 + 1)
	fn(80, append([]byte{'0'}, data...)...) // store the data
	fn(81, '0')                             // print it
	return b
}

// Cut feeds n dots past the print head and cuts partially (GS V 66 n).
func (b *Builder) Cut(n byte) *Builder { return b.raw(gs, 'V', 66, n) }

// Ticket lays out one queue ticket: hall, service, the number large, people ahead, the slot of
// an appointment, the time, the check-in QR code, then a cut. It carries no personal data.
func Ticket(t device.Ticket, l Layout) ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("escpos: layout: %w", err)
	}
	b := NewBuilder(l).Init().Align(1)
	if t.Hall != "" {
		b.Bold(true).Line(t.Hall).Bold(false)
	}
	b.Size(2, 2).Line(t.Service).Size(1, 1)
	b.Feed(1).Line("您的号码")
	b.Size(4, 4).Bold(true).Line(t.Number).Bold(false).Size(1, 1)
	if t.Priority {
		b.Reverse(true).Line(" 优先 ").Reverse(false)
	}
	if !t.Slot.IsZero() {
		b.Line("预约时段 " + t.Slot.Format("15:04"))
	}
	b.Line(fmt.Sprintf("前面还有 %d 人等候", t.Waiting))
	b.Line(t.IssuedAt.Format("2006-01-02 15:04:05"))
	if t.URL != "" {
		b.Feed(1).QR(t.URL, l.QRSize).raw(lf).Line("扫码查看排队进度")
	}
	b.Line("请留意叫号，过号需重新取号")
	b.Feed(3).Cut(0)
	return b.Bytes()
}

func boolByte(on bool) byte {
	if on {
		return 1
	}
	return 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
