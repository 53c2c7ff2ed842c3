package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

var algs = []Alg{ES256, EdDSA, SM2SM3}

func mustKey(t testing.TB, alg Alg) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	for _, alg := range algs {
		t.Run(string(alg), func(t *testing.T) {
			k := mustKey(t, alg)
			other := mustKey(t, alg)
			msg := []byte("onepass")
			sig, err := k.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != 64 {
				t.Errorf("signature of %d bytes, want 64 (r‖s or Ed25519)", len(sig))
			}
			flipped := bytes.Clone(sig)
			flipped[10] ^= 1
			cases := []struct {
				name string
				key  *PublicKey
				msg  []byte
				sig  []byte
				ok   bool
			}{
				{"good", k.Public(), msg, sig, true},
				{"other message", k.Public(), []byte("onepasS"), sig, false},
				{"flipped bit", k.Public(), msg, flipped, false},
				{"other key", other.Public(), msg, sig, false},
				{"short", k.Public(), msg, sig[:63], false},
				{"long", k.Public(), msg, append(bytes.Clone(sig), 0), false},
				{"empty", k.Public(), msg, nil, false},
			}
			for _, tc := range cases {
				err := tc.key.Verify(tc.msg, tc.sig)
				if (err == nil) != tc.ok {
					t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
				}
				if err != nil && (!errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), string(alg))) {
					t.Errorf("%s: %v does not wrap ErrSignature and name %s", tc.name, err, alg)
				}
			}
		})
	}
}

// TestKIDAndSPKI pins the key ID to SHA-256(SPKI DER)[:8] over the exact bytes read, and the SPKI
// of standard keys to what crypto/x509 writes: hub key certificates and pinned roots made with
// crypto/x509 must keep their kid.
func TestKIDAndSPKI(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for name, pub := range map[string]any{"P-256": &ec.PublicKey, "Ed25519": ed} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		k, err := PublicKeyOf(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.SPKI(), der) {
			t.Errorf("%s: SPKI differs from crypto/x509's", name)
		}
		if len(k.KID()) != KIDSize || !bytes.Equal(k.KID(), KID(der)) {
			t.Errorf("%s: kid %x, want %x", name, k.KID(), KID(der))
		}
	}
	if got := KID([]byte("abc")); base64.StdEncoding.EncodeToString(got) != "ungWv48Bz+o=" {
		t.Errorf("KID(abc) = %x: not SHA-256(abc)[:8]", got)
	}
}

func TestParsePublicKey(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	cases := []struct {
		name string
		spki []byte
		alg  Alg
		err  string
	}{
		{"ES256", mustKey(t, ES256).Public().SPKI(), ES256, ""},
		{"EdDSA", mustKey(t, EdDSA).Public().SPKI(), EdDSA, ""},
		{"SM2", mustKey(t, SM2SM3).Public().SPKI(), SM2SM3, ""},
		{"P-384", p384DER, "", "P-384"},
		{"garbage", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, "", "public key"},
		{"empty", nil, "", "public key"},
	}
	for _, tc := range cases {
		k, err := ParsePublicKey(tc.spki)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && k.Alg() != tc.alg:
			t.Errorf("%s: alg %s, want %s", tc.name, k.Alg(), tc.alg)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.err)
		}
	}
	if _, err := ParsePublicKeyBase64("not base64!"); err == nil {
		t.Error("ParsePublicKeyBase64 accepted text that is not base64")
	}
	k := mustKey(t, ES256)
	if got, err := ParsePublicKeyBase64(base64.StdEncoding.EncodeToString(k.Public().SPKI())); err != nil || !bytes.Equal(got.KID(), k.Public().KID()) {
		t.Errorf("ParsePublicKeyBase64: %v", err)
	}
}

func TestPrivateKeyPEM(t *testing.T) {
	for _, alg := range algs {
		k := mustKey(t, alg)
		b, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePrivateKeyPEM(b)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if k2.Public().Alg() != alg || !bytes.Equal(k2.Public().KID(), k.Public().KID()) {
			t.Errorf("%s: round trip gave %s", alg, k2.Public().Alg())
		}
		sig, _ := k2.Sign([]byte("m"))
		if k.Public().Verify([]byte("m"), sig) != nil || k.Public().Verify([]byte("n"), sig) == nil {
			t.Errorf("%s: sign/verify after the round trip", alg)
		}
	}
	for name, b := range map[string]string{
		"no PEM":     "hello",
		"wrong type": "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
		"bad DER":    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParsePrivateKeyPEM([]byte(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestNewPrivateKey: the key types the hub and the tools hold are wrapped; a key Sign could not
// use is refused here rather than panicking later.
func TestNewPrivateKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	sm, _ := sm2.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := []struct {
		name string
		key  crypto.Signer
		alg  Alg // "" refused
	}{
		{"ECDSA P-256", ec, ES256},
		{"Ed25519", ed, EdDSA},
		{"*Ed25519", &ed, EdDSA},
		{"SM2", sm, SM2SM3},
		{"SM2 as plain ECDSA", &sm.PrivateKey, ""},
		{"P-384", p384, ""},
	}
	for _, tc := range cases {
		k, err := NewPrivateKey(tc.key)
		if tc.alg == "" {
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sig, err := k.Sign([]byte("m"))
		if err != nil || k.Public().Alg() != tc.alg || k.Public().Verify([]byte("m"), sig) != nil {
			t.Errorf("%s: alg %s, sign %v", tc.name, k.Public().Alg(), err)
		}
	}
	if _, err := GenerateKey("RS256"); err == nil {
		t.Error("GenerateKey(RS256) accepted")
	}
}
