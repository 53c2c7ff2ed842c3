package ui

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"onepass/kiosk/policy"
	"onepass/kiosk/queue"
)

// The tests here run real servers on loopback: the kiosk's local listener (Server.Serve), the
// daemon's front door that serves it (Starting), and the staff listener on the LAN (ServeLAN).
// Several 127.0.0.x source addresses stand for several hosts on the hall's network.

// serveOn runs serve on a fresh loopback listener until the test ends and returns its address.
func serveOn(t *testing.T, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String()
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// openStream GETs an event stream and keeps it open until the test ends when it is served (200).
func openStream(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return resp.StatusCode
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp.StatusCode
}

func sseOf(t *testing.T, url string) *sse {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	s := &sse{t: t, body: resp.Body, fr: make(chan frame)}
	go s.read(bufio.NewReader(resp.Body))
	return s
}

// Issue 15.1: hall screens on the LAN have their own stream budget, and each address its share of
// it, so however many streams the LAN opens, the kiosk screen's /events is served.
func TestLANStreamsCannotBlankTheKioskScreen(t *testing.T) {
	e := newQueueEnv(t)
	lan := serveOn(t, e.srv.ServeLAN)
	local := serveOn(t, e.srv.Serve)

	// One address: its share, then 429.
	first := clientFrom(t, "127.0.0.2")
	for i := range maxStreamsPerClient {
		if code := openStream(t, first, "http://"+lan+"/hall/events"); code != 200 {
			t.Fatalf("LAN stream %d from one address: %d", i+1, code)
		}
	}
	if code := openStream(t, first, "http://"+lan+"/hall/events"); code != http.StatusTooManyRequests {
		t.Fatalf("stream %d from one address: %d, want 429", maxStreamsPerClient+1, code)
	}
	// More addresses fill the LAN's budget; past it, even a new address waits (503).
	open := maxStreamsPerClient
	for host := 3; open < maxStreams; host++ {
		c := clientFrom(t, fmt.Sprintf("127.0.0.%d", host))
		for range maxStreamsPerClient {
			if open == maxStreams {
				break
			}
			if code := openStream(t, c, "http://"+lan+"/hall/events"); code != 200 {
				t.Fatalf("LAN stream %d: %d", open+1, code)
			}
			open++
		}
	}
	if code := openStream(t, clientFrom(t, "127.0.0.99"), "http://"+lan+"/hall/events"); code != http.StatusServiceUnavailable {
		t.Fatalf("a LAN stream past the budget: %d, want 503", code)
	}
	// The kiosk screen and a hall screen on this machine are still served.
	kiosk := clientFrom(t, "127.0.0.1")
	if code := openStream(t, kiosk, "http://"+local+"/events"); code != 200 {
		t.Fatalf("the kiosk screen's /events with the LAN's streams full: %d", code)
	}
	if code := openStream(t, kiosk, "http://"+local+"/hall/events"); code != 200 {
		t.Fatalf("a local hall screen with the LAN's streams full: %d", code)
	}
}

// The local hall screens' streams are capped per address too, and do not take the kiosk's budget.
func TestLocalHallStreamsArePerClient(t *testing.T) {
	e := newQueueEnv(t)
	local := serveOn(t, e.srv.Serve)
	c := clientFrom(t, "127.0.0.1")
	for i := range maxStreamsPerClient {
		if code := openStream(t, c, "http://"+local+"/hall/events"); code != 200 {
			t.Fatalf("hall stream %d: %d", i+1, code)
		}
	}
	if code := openStream(t, c, "http://"+local+"/hall/events"); code != http.StatusTooManyRequests {
		t.Fatalf("hall stream past the per-client cap: %d, want 429", code)
	}
	if code := openStream(t, c, "http://"+local+"/events"); code != 200 {
		t.Fatalf("the kiosk's /events beside them: %d", code)
	}
}

// listeners are the three ways the daemon serves HTTP, each with lim.
func listeners(t *testing.T, e *queueEnv, lim Limits) map[string]func(context.Context, net.Listener) error {
	e.srv.o.Limits = lim
	front := NewStarting("test", quiet())
	front.Limits = lim
	front.Ready(e.srv.Handler())
	return map[string]func(context.Context, net.Listener) error{
		"local": e.srv.Serve, "front": front.Serve, "lan": e.srv.ServeLAN,
	}
}

// closedWithin reports whether the server ends c (EOF or reset) before d passes, reading
// whatever it answers first.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// Issue 15.2: a request body sent a byte at a time is cut off by the read time-out.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := newQueueEnv(t)
	for name, serve := range listeners(t, e, Limits{ReadTimeout: 300 * time.Millisecond}) {
		t.Run(name, func(t *testing.T) {
			addr := serveOn(t, serve)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /staff/api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for t := time.NewTicker(50 * time.Millisecond); ; {
					select {
					case <-stop:
						t.Stop()
						return
					case <-t.C:
						if _, err := c.Write([]byte(" ")); err != nil {
							t.Stop()
							return
						}
					}
				}
			}()
			if !closedWithin(c, 5*time.Second) {
				t.Fatal("a body trickling in was still being read after 5s (read time-out 300ms)")
			}
		})
	}
}

// Issue 15.2: one address holds at most ConnsPerClient connections; a closed one frees its place.
func TestConnectionsPerClient(t *testing.T) {
	e := newQueueEnv(t)
	for name, serve := range listeners(t, e, Limits{ConnsPerClient: 2}) {
		t.Run(name, func(t *testing.T) {
			addr := serveOn(t, serve)
			healthz := func(c net.Conn) (int, error) {
				fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			var held []net.Conn
			for i := range 2 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if _, err := healthz(c); err != nil {
					t.Fatalf("connection %d of 2: %v", i+1, err)
				}
				held = append(held, c)
			}
			third, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer third.Close()
			if code, err := healthz(third); err == nil {
				t.Fatalf("a third connection from one address was served (%d)", code)
			} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("a third connection was neither served nor closed")
			}
			// Another address is not affected.
			other, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if _, err := healthz(other); err != nil {
				t.Fatalf("another address: %v", err)
			}
			held[0].Close()
			waitFor(t, "a place freed by a closed connection", func() bool {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					return false
				}
				defer c.Close()
				_, err = healthz(c)
				return err == nil
			})
		})
	}
}

// Event streams outlive the write time-out: each event and heartbeat moves the deadline on.
func TestStreamsOutliveTheWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	k := newFake(idleView())
	srv := New(k, Options{Logger: quiet(), Heartbeat: 50 * time.Millisecond, Limits: Limits{WriteTimeout: writeTimeout}})
	local := serveOn(t, srv.Serve)
	s := sseOf(t, "http://"+local+"/events")
	s.nextState()

	e := newQueueEnv(t)
	e.srv.o.Limits = Limits{WriteTimeout: writeTimeout} // heartbeat 1s: longer than the time-out
	lan := serveOn(t, e.srv.ServeLAN)
	h := sseOf(t, "http://"+lan+"/hall/events")
	first := nextBoard(t, h)

	time.Sleep(4 * writeTimeout)
	want := k.publish(decided(policy.ReasonOK, policy.Pass, "p1", 36.6))
	for {
		if _, v := s.nextState(); v.Version == want.Version {
			break
		}
	}
	if _, err := e.q.Issue(context.Background(), queue.IssueRequest{Service: "A"}); err != nil {
		t.Fatal(err)
	}
	if b := nextBoard(t, h); b.Version <= first.Version {
		t.Fatalf("hall stream: board version %d after %d", b.Version, first.Version)
	}
}

// Issue 15.3: the LAN listener answers only to IP literals, localhost and the configured names
// ([staff] hosts, and the certificate's names over TLS): a DNS-rebinding page cannot log in.
func TestLANHostRule(t *testing.T) {
	e := newQueueEnv(t)
	e.srv.o.LANHosts = []string{"kiosk3.hall.local"}
	plain := serveOn(t, e.srv.ServeLAN)
	cert := selfSigned(t, "onepass.hall.example")
	tlsAddr := serveOn(t, func(ctx context.Context, l net.Listener) error {
		return e.srv.ServeLANTLS(ctx, l, &tls.Config{Certificates: []tls.Certificate{cert}})
	})
	_, port, _ := net.SplitHostPort(plain)
	for _, tc := range []struct {
		addr, host string
		want       int
	}{
		{plain, "evil.example", http.StatusMisdirectedRequest},
		{plain, "evil.example:" + port, http.StatusMisdirectedRequest},
		{plain, "kiosk3.hall.local.evil.example", http.StatusMisdirectedRequest},
		{plain, "onepass.hall.example", http.StatusMisdirectedRequest}, // the certificate's name counts over TLS only
		{plain, plain, http.StatusOK},
		{plain, "localhost:" + port, http.StatusOK},
		{plain, "[::1]:" + port, http.StatusOK},
		{plain, "kiosk3.hall.local:" + port, http.StatusOK},
		{plain, "KIOSK3.Hall.Local.", http.StatusOK},
		{tlsAddr, "evil.example", http.StatusMisdirectedRequest},
		{tlsAddr, "onepass.hall.example", http.StatusOK},
		{tlsAddr, tlsAddr, http.StatusOK},
	} {
		scheme := "http"
		if tc.addr == tlsAddr {
			scheme = "https"
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
		for _, path := range []string{"/staff/api/login", "/staff", "/hall/state"} {
			method, body := "GET", ""
			if path == "/staff/api/login" {
				method, body = "POST", `{"staff":"7","pin":"`+testPIN+`"}`
			}
			req, _ := http.NewRequest(method, scheme+"://"+tc.addr+path, strings.NewReader(body))
			req.Host = tc.host
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s with Host %q: %d, want %d", method, scheme+"://"+tc.addr+path, tc.host, resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK && strings.Contains(string(b), "csrf") {
				t.Errorf("Host %q got a CSRF token", tc.host)
			}
		}
	}
}

// selfSigned makes a TLS certificate for name.
func selfSigned(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// Issue 15.9: a static path the file system cannot name is not found, not a server error.
func TestStaticBadPathsAreNotFound(t *testing.T) {
	e := newQueueEnv(t)
	local := serveOn(t, e.srv.Serve)
	lan := serveOn(t, e.srv.ServeLAN)
	for _, addr := range []string{local, lan} {
		for path, want := range map[string]int{
			"/static/%c0%ae%c0%ae/etc/passwd":                 404,
			"/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd":    404,
			"/static/%ff%fe":                                  404,
			"/static/app.js%c0":                               404,
			"/static/nothing.js":                              404,
			"/static/app.js":                                  200,
			"/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd":         404,
			"/static/..%2f..%2f..%2fetc%2fpasswd":             404,
			"/static/%c0%ae%c0%ae%c0%af%c0%ae%c0%aeetc/hosts": 404,
		} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s%s: %d, want %d", addr, path, resp.StatusCode, want)
			}
		}
	}
}

func FuzzAllowedHost(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "[::1]:80", "localhost", "evil.example", "kiosk3.hall.local.", "[", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !allowedHost(host, []string{"kiosk3.hall.local"}) {
			return
		}
		h := host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			h = hh
		}
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if net.ParseIP(h) == nil && h != "localhost" && !strings.EqualFold(strings.TrimSuffix(h, "."), "kiosk3.hall.local") {
			t.Fatalf("allowedHost(%q) with a name that is none of the allowed ones", host)
		}
	})
}
