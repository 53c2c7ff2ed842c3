package queue

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// fixedKey is a deterministic key so the seed corpus holds codes that verify.
func fixedKey() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) }

func TestAppointmentRoundTrip(t *testing.T) {
	k := fixedKey()
	a := Appointment{Ref: "BK-20261126-42", Service: "B", Slot: time.Date(2026, 11, 26, 10, 30, 0, 0, cst), Length: 30 * time.Minute}
	code, err := SignAppointment(k, a, cst)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(code, "APPT1:BK-20261126-42:B:202611261030:30:") || len(code) > 160 {
		t.Fatalf("code %q", code)
	}
	if !IsAppointmentCode(code) || IsAppointmentCode("JKM1:xyz") {
		t.Error("IsAppointmentCode")
	}
	got, err := ParseAppointment(code, []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}, cst)
	if err != nil || got != a {
		t.Fatalf("ParseAppointment = %+v, %v; want %+v", got, err, a)
	}
	for _, bad := range []Appointment{
		{Ref: "lower", Service: "B", Slot: a.Slot, Length: time.Hour},
		{Ref: "X", Service: "BB", Slot: a.Slot, Length: time.Hour},
		{Ref: strings.Repeat("X", 25), Service: "B", Slot: a.Slot, Length: time.Hour},
	} {
		if _, err := SignAppointment(k, bad, cst); err == nil {
			t.Errorf("SignAppointment(%+v) accepted", bad)
		}
	}
	for _, c := range []string{"", "APPT1:", code + "A", strings.Replace(code, ":30:", ":0:", 1), strings.Replace(code, ":30:", ":999:", 1),
		strings.Replace(code, "202611261030", "202613261030", 1), strings.ToLower(code)} {
		if _, err := ParseAppointment(c, []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}, cst); !errors.Is(err, ErrAppointment) {
			t.Errorf("ParseAppointment(%q) = %v, want invalid", c, err)
		}
	}
}

// FuzzParseAppointment: any scanned text is refused cleanly or verifies, and what verifies
// signs back to the same text.
func FuzzParseAppointment(f *testing.F) {
	k := fixedKey()
	good, _ := SignAppointment(k, Appointment{Ref: "A-1", Service: "A", Slot: time.Date(2026, 1, 2, 3, 4, 0, 0, cst), Length: time.Minute}, cst)
	for _, s := range []string{good, "APPT1:", "APPT1:X:A:202601020304:1:" + strings.Repeat("A", 103), "JKM1.abc", "", "APPT1:X:A:999999999999:480:" + strings.Repeat("7", 103)} {
		f.Add(s)
	}
	keys := []ed25519.PublicKey{k.Public().(ed25519.PublicKey)}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAppointment(s, keys, cst)
		if err != nil {
			if !errors.Is(err, ErrAppointment) {
				t.Fatalf("ParseAppointment(%q): unexpected error kind %v", s, err)
			}
			return
		}
		again, err := SignAppointment(k, a, cst)
		if err != nil || again != s {
			t.Fatalf("verified %q but signs back to %q, %v", s, again, err)
		}
	})
}
