// Package escpossim is a ticket printer at the far end of a serial line: it parses the ESC/POS
// the driver sends, answers the real-time status requests (DLE EOT) from its own paper and cover
// state, and renders each cut ticket to PNG. It runs on a pseudo-terminal, so the driver under
// test uses its real serial code path; `onepassd --sim` prints to it.
package escpossim

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Element is one printed thing on a receipt.
type Element struct {
	Text    string `json:"text,omitempty"` // a printed line (decoded), "" for an empty line
	QR      string `json:"qr,omitempty"`   // a QR code's data
	QRSize  int    `json:"qr_size,omitempty"`
	Align   int    `json:"align"` // 0 left, 1 centre, 2 right
	Bold    bool   `json:"bold,omitempty"`
	W       int    `json:"w"` // character magnification
	H       int    `json:"h"`
	Reverse bool   `json:"reverse,omitempty"`
}

// Receipt is one ticket, from the first byte after the previous cut to this cut.
type Receipt struct {
	Elements []Element `json:"elements"`
	Partial  bool      `json:"partial_cut"`
}

// Lines returns the receipt's text lines, for assertions.
func (r Receipt) Lines() []string {
	var out []string
	for _, e := range r.Elements {
		if e.QR == "" {
			out = append(out, e.Text)
		}
	}
	return out
}

// Parser turns an ESC/POS byte stream into receipts. It accepts the stream in pieces of any size
// and never fails: unknown commands and stray bytes are counted and skipped, as a printer would.
type Parser struct {
	// OnStatus answers a real-time status request DLE EOT n (the byte to send, and whether to).
	OnStatus func(n byte) (byte, bool)
	// OnReceipt gets each receipt when it is cut.
	OnReceipt func(Receipt)
	// Accept tells whether print data is printed now (false: paper out or cover open, the
	// printer drops it). Status requests are answered either way.
	Accept func() bool

	dec     *encoding.Decoder
	pending []byte // an incomplete command
	line    []byte // text of the current line, in the printer's encoding
	cur     Receipt
	mode    Element // current alignment, size, emphasis
	qr      struct {
		data        []byte
		size, model int
	}
	kanji   bool
	Unknown int // commands the parser did not know
	Garbage int // bytes that were not text and not a command
}

// NewParser makes a parser for a printer whose Chinese font uses GB18030 (gbk: GBK).
func NewParser(encodingName string) *Parser {
	var e encoding.Encoding = simplifiedchinese.GB18030
	if encodingName == "gbk" {
		e = simplifiedchinese.GBK
	}
	p := &Parser{dec: e.NewDecoder()}
	p.reset()
	return p
}

func (p *Parser) reset() {
	p.mode = Element{W: 1, H: 1}
	p.qr.size, p.qr.model = 3, 2
	p.kanji = false
}

const maxQR = 7089 // the largest QR code (version 40, numeric)

// Write feeds bytes to the parser; it always consumes them all.
func (p *Parser) Write(b []byte) (int, error) {
	p.pending = append(p.pending, b...)
	i := 0
	for i < len(p.pending) {
		n := p.step(p.pending[i:])
		if n == 0 {
			break // incomplete: wait for more bytes
		}
		i += n
	}
	p.pending = append(p.pending[:0], p.pending[i:]...)
	return len(b), nil
}

// step handles one command or text byte at the start of b and returns how many bytes it used;
// 0 means the command is not complete yet.
func (p *Parser) step(b []byte) int {
	need := func(n int) bool { return len(b) >= n }
	switch b[0] {
	case 0x0a: // LF
		p.endLine()
		return 1
	case 0x0d, 0x09: // CR, HT: nothing to draw
		return 1
	case 0x10: // DLE
		if !need(2) {
			return 0
		}
		if b[1] != 0x04 {
			p.Unknown++
			return 2
		}
		if !need(3) {
			return 0
		}
		if p.OnStatus != nil {
			p.OnStatus(b[2])
		}
		return 3
	case 0x1b: // ESC
		if !need(2) {
			return 0
		}
		switch b[1] {
		case '@':
			p.flushText()
			p.reset()
			return 2
		case '2':
			return 2
		case 'a', 'E', '!', 'd', 't', '-', 'J', '3', 'M', 'G', 'V', '{', 'R', 'U':
			if !need(3) {
				return 0
			}
			p.esc(b[1], b[2])
			return 3
		}
		p.Unknown++
		return 2
	case 0x1c: // FS
		if !need(2) {
			return 0
		}
		switch b[1] {
		case '&':
			p.kanji = true
		case '.':
			p.kanji = false
		default:
			p.Unknown++
		}
		return 2
	case 0x1d: // GS
		if !need(2) {
			return 0
		}
		switch b[1] {
		case '!':
			if !need(3) {
				return 0
			}
			p.mode.W, p.mode.H = int(b[2]>>4&7)+1, int(b[2]&7)+1
			return 3
		case 'B':
			if !need(3) {
				return 0
			}
			p.mode.Reverse = b[2]&1 == 1
			return 3
		case 'V':
			if !need(3) {
				return 0
			}
			switch b[2] {
			case 65, 66, 97, 98, 103, 104:
				if !need(4) {
					return 0
				}
				p.cut(b[2] == 66 || b[2] == 98 || b[2] == 104)
				return 4
			}
			p.cut(b[2] == 1 || b[2] == 49)
			return 3
		case '(':
			if !need(5) {
				return 0
			}
			n := int(b[3]) | int(b[4])<<8
			if n > maxQR+3 {
				p.Garbage += 5 // a length no printer takes: drop the header, read on
				return 5
			}
			if !need(5 + n) {
				return 0
			}
			if b[2] == 'k' {
				p.qrFunc(b[5 : 5+n])
			} else {
				p.Unknown++
			}
			return 5 + n
		}
		p.Unknown++
		return 2
	}
	if b[0] < 0x20 || b[0] == 0x7f {
		p.Garbage++
		return 1
	}
	if p.Accept == nil || p.Accept() {
		p.line = append(p.line, b[0])
	}
	return 1
}

func (p *Parser) esc(cmd, n byte) {
	switch cmd {
	case 'a':
		p.flushText()
		p.mode.Align = int(n % 3) // 0/1/2 or '0'/'1'/'2'

	case 'E':
		p.mode.Bold = n&1 == 1
	case '!':
		p.mode.Bold = n&0x08 != 0
		p.mode.W, p.mode.H = 1, 1
		if n&0x20 != 0 {
			p.mode.W = 2
		}
		if n&0x10 != 0 {
			p.mode.H = 2
		}
	case 'd':
		p.endLine()
		for range min(int(n), 20) - 1 {
			p.emit(Element{Text: "", W: 1, H: 1})
		}
	}
}

// qrFunc handles the body of GS ( k: cn fn [params].
func (p *Parser) qrFunc(b []byte) {
	if len(b) < 2 || b[0] != '1' {
		p.Unknown++
		return
	}
	switch b[1] {
	case 65:
		if len(b) >= 3 {
			p.qr.model = int(b[2]) - '0'
		}
	case 67:
		if len(b) >= 3 && b[2] >= 1 && b[2] <= 16 {
			p.qr.size = int(b[2])
		}
	case 69:
	case 80:
		if len(b) >= 3 {
			p.qr.data = append(p.qr.data[:0], b[3:]...)
		}
	case 81:
		if len(p.qr.data) > 0 && (p.Accept == nil || p.Accept()) {
			p.flushText()
			p.emit(Element{QR: string(p.qr.data), QRSize: p.qr.size, Align: p.mode.Align, W: 1, H: 1})
		}
	default:
		p.Unknown++
	}
}

// flushText ends a line that has text, without adding an empty line when there is none.
func (p *Parser) flushText() {
	if len(p.line) > 0 {
		p.endLine()
	}
}

func (p *Parser) endLine() {
	if p.Accept != nil && !p.Accept() && len(p.line) == 0 {
		return
	}
	text, err := p.dec.Bytes(p.line)
	if err != nil || !utf8.Valid(text) {
		text = bytes.ToValidUTF8(p.line, []byte("?"))
	}
	e := p.mode
	e.Text = string(text)
	p.emit(e)
	p.line = p.line[:0]
}

func (p *Parser) emit(e Element) { p.cur.Elements = append(p.cur.Elements, e) }

func (p *Parser) cut(partial bool) {
	p.flushText()
	r := p.cur
	r.Partial = partial
	p.cur = Receipt{}
	if len(r.Elements) == 0 {
		return
	}
	if p.OnReceipt != nil {
		p.OnReceipt(r)
	}
}
