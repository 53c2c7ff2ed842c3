package idcard_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
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
// device.Card out of Next, the card placed at a random point of the poll cycle. "default" is the
// default poll interval (idcard.DefaultPollInterval), where the wait for the next find dominates
// (half the interval on average); "poll=200ms" is the old default; "poll=1ms" shows the driver's
// own path; "paced" sends every byte at 115200 baud as a real UART does, and over-wire-p50-ms is
// the median minus the 118 ms those bytes need.
//
//	go test -run '^$' -bench CardPlacedToEvent -benchtime 40x ./drivers/idcard/
func BenchmarkCardPlacedToEvent(b *testing.B) {
	for _, bc := range []struct {
		name  string
		poll  time.Duration
		paced bool
	}{
		{"poll=200ms", 200 * time.Millisecond, false},
		{"default", idcard.DefaultPollInterval, false},
		{"default,paced115200", idcard.DefaultPollInterval, true},
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
			var took []time.Duration
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
				s.Place(cards[len(took)%2])
				if _, err := r.Next(ctx); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			var total time.Duration
			for _, d := range took {
				total += d
			}
			p50 := percentile(took, 50)
			b.ReportMetric(ms(total/time.Duration(len(took))), "ms/card")
			b.ReportMetric(ms(p50), "p50-ms")
			if bc.paced {
				wire := wireTime(readWireBytes, 115200)
				b.ReportMetric(ms(wire), "wire-ms")
				b.ReportMetric(ms(p50-wire), "over-wire-p50-ms")
			}
		})
	}
}

// BenchmarkIdleCPU: the CPU the driver spends while it polls an empty field, per second of idle
// (each b.N is one second), over a pty paced at 115200. The simulator runs in a child process (this
// test binary again, see TestMain), so getrusage of this process counts the driver alone, as on a
// kiosk; the child's CPU is reported as sim-%core. Reported, not asserted (the VM is shared).
//
//	go test -run '^$' -bench IdleCPU -benchtime 5x ./drivers/idcard/
func BenchmarkIdleCPU(b *testing.B) {
	for _, poll := range []time.Duration{idcard.DefaultPollInterval, 200 * time.Millisecond} {
		b.Run("poll="+poll.String(), func(b *testing.B) {
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), simChildEnv+"=1")
			stdin, err := child.StdinPipe()
			if err != nil {
				b.Fatal(err)
			}
			stdout, err := child.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := child.Start(); err != nil {
				b.Fatal(err)
			}
			path, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				b.Fatalf("simulator child: %v", err)
			}
			r, err := idcard.Open(context.Background(), idcard.Options{Port: strings.TrimSpace(path), PollInterval: poll, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if h := r.Health(); h.State != device.OK {
				b.Fatalf("reader not connected: %s", h)
			}
			time.Sleep(200 * time.Millisecond) // past the connection's own exchanges
			cpu0, csw0, wall0 := cpuTime(b), switches(b), time.Now()
			for b.Loop() {
				time.Sleep(time.Second)
			}
			cpu, csw, wall := cpuTime(b)-cpu0, switches(b)-csw0, time.Since(wall0)
			r.Close()
			stdin.Close() // the child ends when its stdin does
			if err := child.Wait(); err != nil {
				b.Fatalf("simulator child: %v", err)
			}
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
			b.ReportMetric(float64(cpu.Microseconds())*poll.Seconds()/wall.Seconds(), "cpu-µs/poll")
			b.ReportMetric(float64(csw)*poll.Seconds()/wall.Seconds(), "switches/poll")
			b.ReportMetric(100*(child.ProcessState.UserTime()+child.ProcessState.SystemTime()).Seconds()/wall.Seconds(), "sim-%core")
		})
	}
}

// simChildEnv makes the test binary a reader simulator on a pty instead of running tests.
const simChildEnv = "IDCARD_BENCH_SIM_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(simChildEnv) != "" {
		os.Exit(simChild())
	}
	os.Exit(m.Run())
}

// simChild serves a paced simulator on a new pty, prints its path and runs until stdin closes.
func simChild() int {
	p, err := idcardsim.New(idcardsim.Options{Paced: true}).OpenPTY()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer p.Close()
	fmt.Println(p.Path())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// cpuTime is the user + system CPU time of the whole process so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// switches counts the process's context switches (voluntary and not) so far.
func switches(tb testing.TB) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return ru.Nvcsw + ru.Nivcsw
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
			b.ReportMetric(ms(per), "ms/read")
			if paced {
				wire := wireTime(readWireBytes, 115200)
				b.ReportMetric(ms(wire), "wire-ms")
				b.ReportMetric(ms(per-wire), "overhead-ms")
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
