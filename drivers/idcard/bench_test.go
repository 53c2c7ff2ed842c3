package idcard_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
)

// Bytes on the wire for one read at 8N1: find (10 + 15), select (10 + 19), read (10 + 1295).
const readWireBytes = 10 + 15 + 10 + 19 + 10 + 1295

func wireTime(bytes, baud int) time.Duration {
	return time.Duration(bytes) * 10 * time.Second / time.Duration(baud)
}

// BenchmarkCardPlacedToEvent: from the card placed on the simulated reader (SAM delay zero) to the
// device.Card out of Next, the card placed at a random point of the poll cycle. "poll=200ms" is the
// default configuration, where the wait for the next find dominates (half the interval on average); "poll=1ms" shows the driver's own path;
// "paced" sends every byte at 115200 baud as a real UART does.
//
//	go test -run '^$' -bench CardPlacedToEvent -benchtime 40x ./drivers/idcard/
func BenchmarkCardPlacedToEvent(b *testing.B) {
	for _, bc := range []struct {
		name  string
		poll  time.Duration
		paced bool
	}{
		{"poll=200ms", 200 * time.Millisecond, false},
		{"poll=1ms", time.Millisecond, false},
		{"poll=1ms,paced115200", time.Millisecond, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := idcardsim.New(idcardsim.Options{Paced: bc.paced})
			p, err := s.OpenPTY()
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			r, err := idcard.Open(context.Background(), idcard.Options{Port: p.Path(), PollInterval: bc.poll, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			cards := []device.Card{resident, hkmotw}
			var total time.Duration
			n := 0
			ctx := context.Background()
			for b.Loop() {
				// Take the last card away and let the reader see the empty field before timing.
				s.Remove()
				finds := s.Count(0x20, 0x01)
				for s.Count(0x20, 0x01) < finds+2 {
					time.Sleep(100 * time.Microsecond)
				}
				// A person does not wait for the poll: place the card at a random point of it.
				time.Sleep(rand.N(bc.poll))
				start := time.Now()
				s.Place(cards[n%2])
				if _, err := r.Next(ctx); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				n++
			}
			b.ReportMetric(float64(total.Microseconds())/float64(n)/1000, "ms/card")
			if bc.paced {
				b.ReportMetric(float64(wireTime(readWireBytes, 115200).Microseconds())/1000, "wire-ms")
			}
		})
	}
}

// BenchmarkReadOverhead: one find → select → read exchange on the Conn. Unpaced, the bytes cost
// nothing on the pty, so the time is the driver's own (plus the simulator's and the kernel's — an
// upper bound). Paced at 115200, overhead-ms = measured − the 118 ms the bytes need on the wire.
//
//	go test -run '^$' -bench ReadOverhead -benchtime 20x ./drivers/idcard/
func BenchmarkReadOverhead(b *testing.B) {
	for _, paced := range []bool{false, true} {
		name := "unpaced"
		if paced {
			name = "paced115200"
		}
		b.Run(name, func(b *testing.B) {
			s := idcardsim.New(idcardsim.Options{Paced: paced, RefindAfterRead: true})
			p, err := s.OpenPTY()
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			c := openConn(&testing.T{}, p.Path())
			s.Place(resident)
			ctx := context.Background()
			start := time.Now()
			n := 0
			for b.Loop() {
				if _, err := c.FindCard(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := c.SelectCard(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := c.ReadBase(ctx); err != nil {
					b.Fatal(err)
				}
				n++
			}
			per := time.Since(start) / time.Duration(n)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/read")
			if paced {
				wire := wireTime(readWireBytes, 115200)
				b.ReportMetric(float64(wire.Microseconds())/1000, "wire-ms")
				b.ReportMetric(float64((per-wire).Microseconds())/1000, "overhead-ms")
			}
		})
	}
}

// BenchmarkDecodeRead: the CPU cost of one read reply: framing (XOR over 1295 bytes), the length
// words, the text parse and the checks.
func BenchmarkDecodeRead(b *testing.B) {
	chip := idcardsim.NewCard(resident)
	data := append([]byte{1, 0, 4, 0}, chip.Text[:]...)
	data = append(data, chip.Photo[:]...)
	frame := idcard.Encode(0x00, 0x00, append([]byte{0x90}, data...))
	now := time.Now()
	for b.Loop() {
		_, payload, err := idcard.Split(frame)
		if err != nil {
			b.Fatal(err)
		}
		r, _ := idcard.ParseResponse(payload)
		t, err := idcard.ParseText(r.Data[4 : 4+idcard.TextLen])
		if err != nil {
			b.Fatal(err)
		}
		if err := t.Check(now); err != nil {
			b.Fatal(err)
		}
		_ = t.Card(r.Data[4:260], r.Data[260:])
	}
}
