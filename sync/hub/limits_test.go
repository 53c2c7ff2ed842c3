package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"onepass/sync/wire"
)

// Issue 15.2: the hub caps the connections of one address (counted before the TLS handshake) and
// cuts off a request body that trickles in.
func TestHubConnectionCapAndReadTimeout(t *testing.T) {
	forBackends(t, testHubConnectionCapAndReadTimeout)
}

func testHubConnectionCapAndReadTimeout(t *testing.T, be string) {
	h := newHub(t, be, Options{ConnsPerAddr: 2, ReadTimeout: 300 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := l.Addr().String()

	dial := func(from string) (*tls.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		return c, nil
	}
	var held []*tls.Conn
	for i := range 2 {
		c, err := dial("127.0.0.1")
		if err != nil {
			t.Fatalf("connection %d of 2: %v", i+1, err)
		}
		held = append(held, c)
	}
	if _, err := dial("127.0.0.1"); err == nil {
		t.Fatal("a third connection from one address completed its TLS handshake")
	}
	if _, err := dial("127.0.0.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}

	c := held[0]
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", wire.PathEnroll, addr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a body trickling in was still being read after 5s (read time-out 300ms)")
	}
}
