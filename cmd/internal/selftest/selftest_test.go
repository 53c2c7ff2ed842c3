package selftest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/sync/store"
)

// fakePart is a part whose self-test, health and close results the test sets.
type fakePart struct {
	selfTest, close error
	health          device.Health
	closed          bool
}

func (p *fakePart) Health() device.Health              { return p.health }
func (p *fakePart) SelfTest(ctx context.Context) error { return p.selfTest }
func (p *fakePart) Close() error                       { p.closed = true; return p.close }

func opener(p *fakePart, err error) func(context.Context) (device.Part, error) {
	return func(context.Context) (device.Part, error) {
		if p == nil {
			return nil, err
		}
		return p, err
	}
}

func TestParts(t *testing.T) {
	healthy := device.Health{State: device.OK}
	tests := []struct {
		name   string
		part   *fakePart
		err    error
		state  State
		detail string
	}{
		{"passes", &fakePart{health: healthy}, nil, OK, "self-test passed"},
		{"SAM silent", &fakePart{selfTest: errors.New("SAM status: no answer in 2s"), health: healthy}, nil, Fail, "SAM status: no answer"},
		{"bad config", nil, errors.New(`unknown key "prot"`), Fail, `open: unknown key "prot"`},
		{"not configured", nil, nil, Skip, "not configured"},
		{"degraded", &fakePart{health: device.Health{State: device.Degraded, Reason: "paper low"}}, nil, Warn, "paper low"},
		{"close fails", &fakePart{health: healthy, close: errors.New("port stuck")}, nil, Fail, "close: port stuck"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(context.Background(), Options{Parts: []Part{{Name: "reader", Driver: "ga467", Open: opener(tt.part, tt.err)}}, Database: filepath.Join(t.TempDir(), "onepass.db")})
			c := r.Checks[0]
			if c.Name != "reader" || c.Driver != "ga467" || c.State != tt.state || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("check %+v, want %s %q", c, tt.state, tt.detail)
			}
			if r.OK != (tt.state != Fail) {
				t.Errorf("report OK = %v with a %s check", r.OK, tt.state)
			}
			if tt.part != nil && !tt.part.closed {
				t.Error("part left open")
			}
		})
	}
	// A part with no opener is reported, not silently dropped.
	r := Run(context.Background(), Options{Parts: []Part{{Name: "camera"}}, Database: filepath.Join(t.TempDir(), "x.db")})
	if r.Checks[0].State != Skip || !r.OK {
		t.Errorf("unconfigured camera: %+v", r)
	}
}

func TestDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good", "onepass.db")
	os.MkdirAll(filepath.Dir(good), 0o755)
	db, err := store.Open(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o644)
	tests := []struct {
		name, path string
		state      State
		detail     string
	}{
		{"healthy", good, OK, "integrity ok, 0 waiting for upload"},
		{"first start", filepath.Join(dir, "onepass.db"), OK, "no database yet"},
		{"no directory", filepath.Join(dir, "missing", "onepass.db"), Fail, "not writable"},
		{"not a database", garbage, Fail, "not a database"},
	}
	for _, tt := range tests {
		st, detail := checkDatabase(ctx, tt.path)
		if st != tt.state || !strings.Contains(detail, tt.detail) {
			t.Errorf("%s: %s %q, want %s %q", tt.name, st, detail, tt.state, tt.detail)
		}
	}
}

// pki is a throwaway CA with server and client certificates for a mutual-TLS hub.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test hub CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{ca: ca, caKey: key, caPool: pool}
}

func (p *pki) issue(t *testing.T, cn string, notBefore, notAfter time.Time, usage x509.ExtKeyUsage) (tls.Certificate, *x509.Certificate) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: []string{"localhost"},
		IPAddresses: nil}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = append(tmpl.IPAddresses, []byte{127, 0, 0, 1})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, leaf
}

func TestSync(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	serverCert, _ := p.issue(t, "hub", now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageServerAuth)
	hub := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r) // any answer proves the path; the sync client knows the real routes
	}))
	hub.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert}
	hub.StartTLS()
	defer hub.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusBadGateway)
	}))
	defer down.Close()

	client, clientCert := p.issue(t, "kiosk-0001", now.Add(-time.Hour), now.Add(365*24*time.Hour), x509.ExtKeyUsageClientAuth)
	_, soon := p.issue(t, "kiosk-0002", now.Add(-time.Hour), now.Add(10*24*time.Hour), x509.ExtKeyUsageClientAuth)
	_, expired := p.issue(t, "kiosk-0003", now.Add(-48*time.Hour), now.Add(-time.Hour), x509.ExtKeyUsageClientAuth)
	withCert := &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{client}}
	noCert := &tls.Config{RootCAs: p.caPool}

	tests := []struct {
		name                  string
		url                   string
		tls                   *tls.Config
		cert                  *x509.Certificate
		err                   error
		clockAhead            time.Duration
		hub, clock, certState State
		detail                string
	}{
		{"all good", hub.URL, withCert, clientCert, nil, 0, OK, OK, OK, "kiosk-0001 valid until"},
		{"clock 10 min fast", hub.URL, withCert, clientCert, nil, 10 * time.Minute, OK, Fail, OK, "check NTP"},
		{"no client certificate", hub.URL, noCert, clientCert, nil, 0, Fail, Fail, OK, "unreachable"},
		{"hub down", "http://127.0.0.1:1/", withCert, clientCert, nil, 0, Fail, Fail, OK, "unreachable"},
		{"hub error", down.URL, withCert, clientCert, nil, 0, Fail, OK, OK, "502"},
		{"certificate expiring", hub.URL, withCert, soon, nil, 0, OK, OK, Warn, "renew soon"},
		{"certificate expired", hub.URL, withCert, expired, nil, 0, OK, OK, Fail, "expired"},
		{"no certificate", hub.URL, withCert, nil, nil, 0, OK, OK, Fail, "not enrolled"},
		{"enrollment unreadable", hub.URL, withCert, clientCert, errors.New("sync: identity: device.key: permission denied"), 0, Fail, Fail, Fail, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(time.Now().Add(tt.clockAhead))
			r := Run(context.Background(), Options{Database: filepath.Join(t.TempDir(), "onepass.db"), Clock: clock,
				Sync: &Sync{HubURL: tt.url, TLS: tt.tls, Cert: tt.cert, Err: tt.err}})
			got := map[string]Check{}
			for _, c := range r.Checks {
				got[c.Name] = c
			}
			if got["hub"].State != tt.hub || got["clock"].State != tt.clock || got["certificate"].State != tt.certState {
				t.Errorf("hub %+v\nclock %+v\ncertificate %+v\nwant %s %s %s", got["hub"], got["clock"], got["certificate"], tt.hub, tt.clock, tt.certState)
			}
			all := got["hub"].Detail + got["clock"].Detail + got["certificate"].Detail
			if !strings.Contains(all, tt.detail) {
				t.Errorf("details %q lack %q", all, tt.detail)
			}
			wantOK := tt.hub != Fail && tt.clock != Fail && tt.certState != Fail
			if r.OK != wantOK {
				t.Errorf("report OK = %v, want %v", r.OK, wantOK)
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	r := Run(context.Background(), Options{Version: "1.0", Database: filepath.Join(t.TempDir(), "onepass.db"),
		Parts: []Part{{Name: "printer", Driver: "escpos", Open: opener(&fakePart{selfTest: errors.New("paper out")}, nil)}}})
	var table bytes.Buffer
	r.WriteTable(&table)
	for _, want := range []string{"CHECK", "printer", "escpos", "FAIL", "paper out", "database", "OK", "hub", "SKIP", "sync not configured", "self-test FAILED (onepass 1.0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	r.WriteJSON(&js)
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.OK || len(back.Checks) != 5 || back.Checks[0].State != Fail {
		t.Errorf("JSON round trip: %v %+v\n%s", err, back, js.String())
	}
}
