package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaffListenerHostRule: the real daemon's [staff] listener over TLS answers to IP literals,
// [staff] hosts and its certificate's names only (issue 15.3), and TLS still ends in the HTTP
// server (the session cookie is Secure), now that TLS goes on above the connection cap.
func TestStaffListenerHostRule(t *testing.T) {
	bin, ctl := binaries(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "lan.hall.example")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lan := l.Addr().String()
	l.Close()
	cfg := filepath.Join(dir, "onepass.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "[staff]\nlisten = %q\ntls_cert = %q\ntls_key = %q\nhosts = [\"kiosk3.hall.local\"]\n", lan, certFile, keyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, bin, ctl, "--config", cfg, "--sim", "--data", filepath.Join(dir, "data"))

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	login := func(host string) *http.Response {
		req, _ := http.NewRequest("POST", "https://"+lan+"/staff/api/login", strings.NewReader(`{"staff":"demo","pin":"1234"}`))
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			return nil
		}
		resp.Body.Close()
		return resp
	}
	deadline := time.Now().Add(20 * time.Second)
	for login(lan) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the staff listener did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for host, want := range map[string]int{
		"evil.example": http.StatusMisdirectedRequest, "evil.example:443": http.StatusMisdirectedRequest,
		lan: http.StatusOK, "kiosk3.hall.local": http.StatusOK, "lan.hall.example": http.StatusOK,
	} {
		resp := login(host)
		if resp == nil || resp.StatusCode != want {
			t.Errorf("login with Host %q: %v, want %d", host, resp, want)
			continue
		}
		if want == http.StatusOK && !strings.Contains(resp.Header.Get("Set-Cookie"), "Secure") {
			t.Errorf("login over TLS with Host %q: cookie %q is not Secure", host, resp.Header.Get("Set-Cookie"))
		}
	}
}

// writeCert writes a self-signed certificate for name and its key as PEM files in dir.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
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
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "lan.crt"), filepath.Join(dir, "lan.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
