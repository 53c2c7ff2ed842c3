package escpos

import (
	"fmt"
	"strings"

	"onepass/device"
)

// Real-time status requests (DLE EOT n) and what each bit of the one-byte reply means
// (specs/escpos.md §2.2). Every reply byte has bits 1 and 4 set and bits 0 and 7 clear; a byte
// that does not is not a status reply (an echo, a leftover of another request, line noise).
const (
	StatusPrinter = 1 // bit 3 offline
	StatusOffline = 2 // bit 2 cover open, bit 3 feed button, bit 5 stopped by paper end, bit 6 error
	StatusError   = 3 // bit 3 autocutter error, bit 5 unrecoverable, bit 6 auto-recoverable
	StatusPaper   = 4 // bits 2+3 paper near end, bits 5+6 paper end
)

// Query is the request for status n.
func Query(n byte) []byte { return []byte{dle, eot, n} }

// IsReply tells whether b has the fixed bits of a real-time status reply.
func IsReply(b byte) bool { return b&0x93 == 0x12 }

// Status is what the printer answered, request by request.
type Status struct {
	Offline       bool
	CoverOpen     bool
	PaperEnd      bool // stopped by paper end (n=2) or roll sensor at end (n=4)
	PaperNearEnd  bool
	CutterError   bool
	Unrecoverable bool
	Error         bool // any error condition reported (n=2 bit 6, n=3 bits 5/6)
	Answered      []byte
}

// Apply folds the reply b to request n into s.
func (s *Status) Apply(n, b byte) error {
	if !IsReply(b) {
		return fmt.Errorf("escpos: %#02x is not a status reply (fixed bits wrong)", b)
	}
	switch n {
	case StatusPrinter:
		s.Offline = s.Offline || b&0x08 != 0
	case StatusOffline:
		s.CoverOpen = s.CoverOpen || b&0x04 != 0
		s.PaperEnd = s.PaperEnd || b&0x20 != 0
		s.Error = s.Error || b&0x40 != 0
	case StatusError:
		s.CutterError = s.CutterError || b&0x08 != 0
		s.Unrecoverable = s.Unrecoverable || b&0x20 != 0
		s.Error = s.Error || b&0x60 != 0
	case StatusPaper:
		s.PaperNearEnd = s.PaperNearEnd || b&0x0c == 0x0c
		s.PaperEnd = s.PaperEnd || b&0x60 == 0x60
	default:
		return fmt.Errorf("escpos: no status request %d", n)
	}
	s.Answered = append(s.Answered, n)
	return nil
}

// Device turns the status into the device contract's form.
func (s Status) Device() device.PrinterStatus {
	return device.PrinterStatus{Online: !s.Offline && !s.CoverOpen && !s.PaperEnd && !s.Error,
		PaperOut: s.PaperEnd, PaperLow: s.PaperNearEnd, CoverOpen: s.CoverOpen}
}

// Problem says, in a technician's words, why the printer cannot print ("" when it can).
func (s Status) Problem() string {
	var p []string
	if s.PaperEnd {
		p = append(p, "paper out")
	}
	if s.CoverOpen {
		p = append(p, "cover open")
	}
	if s.CutterError {
		p = append(p, "cutter jammed")
	}
	if s.Unrecoverable {
		p = append(p, "unrecoverable error")
	}
	if s.Offline && len(p) == 0 {
		p = append(p, "offline")
	}
	if s.Error && len(p) == 0 {
		p = append(p, "error")
	}
	return strings.Join(p, ", ")
}

// ParseReplies reads the replies to the requests ns from a byte stream: bytes that are not
// status replies are skipped (printers send stray bytes, and late answers to earlier requests),
// and requests the stream has no reply left for stay unanswered. It never fails: what it could
// not read shows as missing from Answered.
func ParseReplies(ns []byte, stream []byte) (Status, int) {
	var s Status
	skipped := 0
	i := 0
	for _, b := range stream {
		if i == len(ns) {
			break
		}
		if s.Apply(ns[i], b) != nil {
			skipped++
			continue
		}
		i++
	}
	return s, skipped
}
