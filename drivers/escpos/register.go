package escpos

import (
	"context"
	"time"

	"onepass/device"
)

func init() { device.RegisterTicketPrinter("escpos", open) }

// params is the [printer] section for driver = "escpos".
type params struct {
	Port          string           `json:"port"`            // serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-path/…
	Device        string           `json:"device"`          // printer device file, e.g. /dev/usb/lp0 or /dev/ticketprinter
	Baud          int              `json:"baud"`            // serial rate (default 9600)
	Encoding      string           `json:"encoding"`        // gb18030 (default) or gbk
	KanjiModeCmds bool             `json:"kanji_mode_cmds"` // wrap Chinese text in FS & … FS .
	Width         int              `json:"width"`           // characters per line: 32 (58 mm) or 48 (80 mm, default)
	QRSize        int              `json:"qr_size"`         // QR module size in dots (default 6)
	Status        *bool            `json:"status"`          // ask DLE EOT around each ticket (default true)
	StatusTimeout device.Duration  `json:"status_timeout"`  // default "500ms"
	Poll          *device.Duration `json:"poll"`            // status poll while idle, default "30s", "0" off
	Copies        int              `json:"copies"`          // default 1
}

func open(ctx context.Context, ps device.Params) (device.TicketPrinter, error) {
	var c params
	if err := ps.Decode(&c); err != nil {
		return nil, err
	}
	return New(c.options())
}

func (c params) options() Options {
	l := DefaultLayout()
	if c.Encoding != "" {
		l.Encoding = c.Encoding
	}
	if c.Width != 0 {
		l.Width = c.Width
	}
	if c.QRSize != 0 {
		l.QRSize = c.QRSize
	}
	l.KanjiCmds = c.KanjiModeCmds
	o := Options{Port: c.Port, Device: c.Device, Baud: c.Baud, Layout: l, Status: true, Copies: c.Copies,
		StatusTimeout: c.StatusTimeout.Duration, Poll: c.Poll.Or(30 * time.Second)}
	if c.Status != nil {
		o.Status = *c.Status
	}
	return o
}
