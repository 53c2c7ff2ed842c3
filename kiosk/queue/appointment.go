package queue

import (
	"crypto/ed25519"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// An appointment code is the QR a booking system gives a citizen for a slot at the hall:
//
//	APPT1:<REF>:<SERVICE>:<YYYYMMDDHHMM>:<MINUTES>:<SIGNATURE>
//
// REF is the booking reference (1–24 of A–Z, 0–9, '-'), SERVICE the service letter, the slot
// start is hall-local time, MINUTES its length (1–480), and SIGNATURE the Ed25519 signature by
// the booking system over everything before the last ':' (the "APPT1:" prefix included), in
// unpadded base32 (RFC 4648). Only capitals, digits and ':' appear, so the QR code can use its
// compact alphanumeric mode. docs/queue.md describes the format and the checks.
const apptPrefix = "APPT1:"

var (
	apptRe = regexp.MustCompile(`^APPT1:([A-Z0-9-]{1,24}):([A-Z]):([0-9]{12}):([0-9]{1,3}):([A-Z2-7]{103})$`)
	b32    = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// Appointment is a verified booking.
type Appointment struct {
	Ref     string
	Service string
	Slot    time.Time
	Length  time.Duration
}

// IsAppointmentCode tells whether a scanned text claims to be an appointment code (so a scanner
// can route it to the queue rather than the health-code check).
func IsAppointmentCode(text string) bool { return strings.HasPrefix(text, apptPrefix) }

// ParseAppointment checks the form and the signature of an appointment code against keys; the
// slot is read in loc. It does not judge the time (see Queue.CheckIn).
func ParseAppointment(text string, keys []ed25519.PublicKey, loc *time.Location) (Appointment, error) {
	m := apptRe.FindStringSubmatch(text)
	if m == nil {
		return Appointment{}, ErrAppointment.with("（格式不符）", " (malformed)")
	}
	slot, err := time.ParseInLocation("200601021504", m[3], loc)
	if err != nil {
		return Appointment{}, ErrAppointment.with("（时间无效）", " (bad slot time)")
	}
	minutes, _ := strconv.Atoi(m[4]) // the pattern allows only digits
	if minutes < 1 || minutes > 480 {
		return Appointment{}, ErrAppointment.with("（时长无效）", " (bad slot length)")
	}
	sig, err := b32.DecodeString(m[5])
	// The last character carries spare bits that decoding ignores; only the canonical spelling is
	// accepted, so one booking has exactly one code (the check-in remembers codes by their text).
	if err != nil || len(sig) != ed25519.SignatureSize || b32.EncodeToString(sig) != m[5] {
		return Appointment{}, ErrAppointment.with("（签名格式不符）", " (bad signature encoding)")
	}
	signed := []byte(text[:strings.LastIndexByte(text, ':')])
	ok := false
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, signed, sig) {
			ok = true
			break
		}
	}
	if !ok {
		return Appointment{}, ErrAppointment.with("（签名无效）", " (signature does not verify)")
	}
	return Appointment{Ref: m[1], Service: m[2], Slot: slot, Length: time.Duration(minutes) * time.Minute}, nil
}

// SignAppointment makes the code for a booking, as the booking system does (tests and the
// simulator use it; the kiosk only verifies).
func SignAppointment(key ed25519.PrivateKey, a Appointment, loc *time.Location) (string, error) {
	body := fmt.Sprintf("%s%s:%s:%s:%d", apptPrefix, a.Ref, a.Service, a.Slot.In(loc).Format("200601021504"), int(a.Length/time.Minute))
	text := body + ":" + b32.EncodeToString(ed25519.Sign(key, []byte(body)))
	if !apptRe.MatchString(text) {
		return "", fmt.Errorf("queue: appointment %+v does not fit the code format", a)
	}
	return text, nil
}
