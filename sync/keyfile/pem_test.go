package keyfile

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

func TestPEMKeyAndCert(t *testing.T) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  any
	}{{"Ed25519", ed}, {"ECDSA P-256", ec}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := PEMKey(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			blk, rest := pem.Decode(b)
			if blk == nil || blk.Type != "PRIVATE KEY" || len(rest) != 0 {
				t.Fatalf("not one PRIVATE KEY block: %q", b)
			}
			if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := PEMKey("not a key"); err == nil {
		t.Error("PEMKey accepted a string")
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ec.Public(), ec)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := PEMKey(ec)
	if _, err := tls.X509KeyPair(PEMCert(der), kp); err != nil {
		t.Errorf("the PEM pair does not load as a TLS key pair: %v", err)
	}
}
