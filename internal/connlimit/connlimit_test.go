package connlimit

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address from (127.0.0.x are all this host on Linux),
// so that one test can play several clients.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echo serves every accepted connection by echoing it, until the listener closes.
func echo(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() { io.Copy(c, c); c.Close() }()
	}
}

// served reports whether c is served (its byte comes back) rather than closed unanswered.
func served(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("neither served nor closed within 5s")
	}
	return err == nil
}

func TestPerAddressCap(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, 3)
	defer l.Close()
	go echo(l)
	addr := raw.Addr().String()

	var mine []net.Conn
	for i := range 3 {
		c := dialFrom(t, "127.0.0.1", addr)
		if !served(t, c) {
			t.Fatalf("connection %d of 3 was refused", i+1)
		}
		mine = append(mine, c)
	}
	if served(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a 4th connection from the same address was served")
	}
	// Another address has its own allowance.
	if !served(t, dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("another address was refused")
	}
	if l.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", l.Refused())
	}
	// A closed connection frees its slot (once, however often it is closed).
	mine[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open("127.0.0.1") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("open connections of 127.0.0.1: %d, want 2 after a close", l.Open("127.0.0.1"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !served(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatal("a connection after a close was refused")
	}
}

func TestCloseTwiceReleasesOnce(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, 2)
	defer l.Close()
	for range 2 {
		dialFrom(t, "127.0.0.1", raw.Addr().String())
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Close()
	a.Close()
	if n := l.Open("127.0.0.1"); n != 1 {
		t.Fatalf("after closing one of two connections twice: %d open, want 1", n)
	}
}

func TestAddrKey(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.168.1.7"), Port: 5000}, "192.168.1.7"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 5000, Zone: "eth0"}, "fe80::1%eth0"},
		{&net.UnixAddr{Name: "@sock", Net: "unix"}, "@sock"},
		{nil, ""},
	} {
		if got := addrKey(c.addr); got != c.want {
			t.Errorf("addrKey(%v) = %q, want %q", c.addr, got, c.want)
		}
	}
}
