package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestInitCertificates: the root, the device CA, the TLS server certificate and a device's
// client certificate each carry the usages of their role and chain as the kiosk checks them.
func TestInitCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{Hosts: []string{"hub.example", "10.0.0.7"}, Validity: 1000 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	k, err := loadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, devKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	_, dev, err := k.issueDeviceCert(csr, "d-0123456789", "hall 7", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		c        *x509.Certificate
		cn       string
		ca       bool
		pathZero bool
		usage    x509.KeyUsage
		ext      []x509.ExtKeyUsage
		life     time.Duration
	}{
		{"root", k.rootCert, "onepass root", true, false, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, nil, 1000 * time.Hour},
		{"device CA", k.caCert, "onepass device CA", true, true, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, nil, 1000 * time.Hour},
		{"TLS server", k.tls.Leaf, "onepass hub", false, false, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, 200 * time.Hour},
		{"device", dev, "d-0123456789", false, false, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, time.Hour + 5*time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c.Subject.CommonName != tc.cn || c.IsCA != tc.ca || c.MaxPathLenZero != tc.pathZero || c.KeyUsage != tc.usage || !slices.Equal(c.ExtKeyUsage, tc.ext) {
				t.Errorf("%s: cn %q ca %v pathZero %v usage %v ext %v", tc.name, c.Subject.CommonName, c.IsCA, c.MaxPathLenZero, c.KeyUsage, c.ExtKeyUsage)
			}
			if got := c.NotAfter.Sub(c.NotBefore); got < tc.life-time.Second || got > tc.life+time.Second {
				t.Errorf("%s: valid for %s, want %s", tc.name, got, tc.life)
			}
		})
	}
	if dev.Subject.Organization[0] != "hall 7" {
		t.Errorf("device certificate organization %v, want the hall", dev.Subject.Organization)
	}
	if k.rootCert.SerialNumber.Cmp(k.caCert.SerialNumber) == 0 {
		t.Error("root and CA share a serial number")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(k.rootCert)
	inter.AddCert(k.caCert)
	for _, host := range []string{"hub.example", "10.0.0.7"} {
		if _, err := k.tls.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err != nil {
			t.Errorf("TLS certificate for %s: %v", host, err)
		}
	}
	if _, err := dev.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("device certificate: %v", err)
	}
}

// TestKeyFileNotPEM: a key or certificate file that is not PEM is named in the error, whether
// the whole keyring or only the root key is loaded (one PEM step for all three readers).
func TestKeyFileNotPEM(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		load func() error
	}{
		{caKeyFile, func() error { _, err := loadKeys(dir); return err }},
		{caCertFile, func() error { _, err := loadKeys(dir); return err }},
		{rootCertFile, func() error { _, err := RootSPKI(dir); return err }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := filepath.Join(dir, "keys", tc.file)
			good, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.WriteFile(p, good, 0o600) })
			if err := os.WriteFile(p, []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
			want := "hub: " + tc.file + " is not PEM"
			if err := tc.load(); err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}
