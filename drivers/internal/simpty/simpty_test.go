package simpty

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A host writes to the tty path and reads back what the far end answered; the line is raw
// (binary bytes such as XON/XOFF and CR pass unchanged) at the rate asked for; Close stops the
// simulator and reports no error for the stop itself.
func TestLine(t *testing.T) {
	tests := []struct {
		name string
		baud int
	}{{"default rate", 0}, {"115200", 115200}, {"9600", 9600}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := make(chan struct{})
			echo := func(ctx context.Context, m *os.File, _ func() int) error {
				defer close(stopped)
				buf := make([]byte, 64)
				for {
					n, err := m.Read(buf)
					if err != nil {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						return err
					}
					if _, err := m.Write(buf[:n]); err != nil {
						return err
					}
				}
			}
			l, err := Open(tt.baud, echo)
			if err != nil {
				t.Fatal(err)
			}
			host, err := os.OpenFile(l.Path(), os.O_RDWR|unix.O_NOCTTY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer host.Close()
			if tt.baud != 0 {
				if got := l.HostBaud(); got != tt.baud {
					t.Errorf("line rate %d, want %d", got, tt.baud)
				}
			}
			msg := []byte{0x1B, 0x11, 0x13, '\r', '\n', 0x00, 0xFF}
			if _, err := host.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			host.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(host, got); err != nil {
				t.Fatalf("read back: %v", err)
			}
			if string(got) != string(msg) {
				t.Errorf("read back % x, want % x", got, msg)
			}
			if err := l.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			select {
			case <-stopped:
			default:
				t.Error("the simulator still runs after Close")
			}
			if err := l.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
		})
	}
}
