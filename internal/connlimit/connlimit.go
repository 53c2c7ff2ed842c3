// Package connlimit caps how many connections one client address may hold open on a listener,
// so that a single host on the network cannot use up a server's goroutines and file descriptors.
package connlimit

import (
	"net"
	"sync"
	"sync/atomic"
)

// Listener is a net.Listener that closes, at once and unanswered, a connection from an address
// that already holds PerAddr open ones. Writing an error page could block on a peer that does
// not read; the client sees a reset and retries later.
type Listener struct {
	net.Listener
	perAddr int

	mu   sync.Mutex
	open map[string]int

	refused atomic.Uint64
}

// New wraps l. perAddr <= 0 means no limit.
func New(l net.Listener, perAddr int) *Listener {
	return &Listener{Listener: l, perAddr: perAddr, open: map[string]int{}}
}

// Accept returns the next connection within the limit; refused ones are closed and skipped.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.perAddr <= 0 {
			return c, nil
		}
		key := addrKey(c.RemoteAddr())
		l.mu.Lock()
		if l.open[key] >= l.perAddr {
			l.mu.Unlock()
			l.refused.Add(1)
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &conn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

// Refused counts the connections closed for being over the limit.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Open reports how many connections addr (an IP, as in RemoteAddr without the port) holds open.
func (l *Listener) Open(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[addr]
}

func (l *Listener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key) // the map stays as small as the set of connected clients
	}
}

// addrKey is the client's IP: its ports differ from one connection to the next.
func addrKey(a net.Addr) string {
	if a == nil {
		return ""
	}
	s := a.String()
	if host, _, err := net.SplitHostPort(s); err == nil {
		return host
	}
	return s
}

// conn releases its slot once, however often it is closed (http.Server and tls.Conn both may).
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
