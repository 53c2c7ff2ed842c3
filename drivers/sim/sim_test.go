package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/idcard/idcardsim"
)

// TestRig: the rig's commands reach its parts (the HTTP routes are ui's, tested there).
func TestRig(t *testing.T) {
	rig := NewRig()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()

	rig.Cards.Place(idcardsim.CardRequest{ID: "110101199003074477", Name: "张三"}.Card(time.Now()))
	c, err := rig.Reader.Next(ctx)
	if err != nil || c.Number != "110101199003074477" || c.Birth != "19900307" || c.Type != device.CardResident || c.ValidTo == "" {
		t.Fatalf("card read: %+v %v", c, err)
	}
	rig.Codes.Show("JKM1:ABC")
	if s, err := rig.Scanner.Next(ctx); err != nil || s.Text != "JKM1:ABC" {
		t.Fatalf("scan: %+v %v", s, err)
	}
	for _, bad := range []struct{ part, state string }{{"toaster", "down"}, {"reader", "broken"}} {
		if err := rig.Fault(bad.part, device.Health{State: device.HealthState(bad.state)}); err == nil {
			t.Errorf("fault %s %s accepted", bad.part, bad.state)
		}
	}
	if err := rig.Fault("reader", device.Health{State: device.Down, Reason: "port gone"}); err != nil {
		t.Fatalf("fault: %v", err)
	}
	if hl := rig.Reader.Health(); hl.State != device.Down || hl.Reason != "port gone" {
		t.Errorf("health: %+v", hl)
	}
	if err := rig.Reader.SelfTest(ctx); err == nil {
		t.Error("self-test of a down part passed")
	}
}

func TestThermometerPersonSteps(t *testing.T) {
	th := NewThermometer()
	ctx := context.Background()
	read := func() float64 {
		r, err := th.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r.ObjectC - r.AmbientC
	}
	if d := read(); d != 0 {
		t.Fatalf("empty lane reads %v above ambient", d)
	}
	th.Person(36.6)
	for range stepGap {
		if d := read(); d != 0 {
			t.Fatalf("the gap between people reads %v", d)
		}
	}
	for range 10 {
		if d := read(); d < 11.5 || d > 11.7 {
			t.Fatalf("person reads %v above ambient", d)
		}
	}
	th.Leave()
	if d := read(); d != 0 {
		t.Fatalf("after leaving: %v", d)
	}
}

func TestCardRemovedBeforeReadIsNotReported(t *testing.T) {
	r := NewCardReader()
	r.Place(device.Card{Number: "x"})
	r.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %v", err)
	}
	r.Close()
	if _, err := r.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v", err)
	}
}

func TestPrinterAndSignal(t *testing.T) {
	p := NewPrinter()
	ctx := context.Background()
	if err := p.Print(ctx, device.Ticket{Number: "A001"}); err != nil {
		t.Fatal(err)
	}
	p.SetPaperOut(true)
	if err := p.Print(ctx, device.Ticket{Number: "A002"}); !errors.Is(err, ErrPaperOut) {
		t.Fatalf("print without paper: %v", err)
	}
	if st, _ := p.Status(ctx); !st.PaperOut || len(p.Printed()) != 1 {
		t.Errorf("status %+v, printed %d", st, len(p.Printed()))
	}
	s := NewSignal()
	s.OpenGate(ctx, time.Second)
	s.SetLED(device.LEDGreen)
	s.Buzz(device.BuzzShort)
	if st := s.State(); st.GatePulses != 1 || st.LED != "green" || st.Buzz != "short" {
		t.Errorf("signal state %+v", st)
	}
}
