package identity

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// CertType is the certificate type of the JKM1 `ct` value set.
type CertType int

// Certificate types (specs/healthcode-jkm1.md, "Exact inputs").
const (
	CertResident  CertType = 10 // resident ID card and HK/Macao/Taiwan residence permit
	CertHKMOPass  CertType = 14
	CertTWPass    CertType = 15
	CertPassport  CertType = 20
	CertForeigner CertType = 34
	CertOther     CertType = 99
)

// Canonical is the form of a certificate that keys and bindings are computed over:
// "<ct>|<number upper-cased, without spaces>", e.g. "10|11010119900307447X".
func Canonical(ct CertType, number string) string {
	return fmt.Sprintf("%d|%s", ct, strings.ToUpper(strings.ReplaceAll(number, " ", "")))
}

// DeploymentKeySize is the length of the deployment key in bytes.
const DeploymentKeySize = 32

// PersonKey is HMAC-SHA256 of the canonical certificate under the deployment key: what the replica
// and the visit log store instead of the number. A keyed hash, because ID numbers have so little
// entropy that a plain hash is reversed by enumeration.
func PersonKey(deploymentKey []byte, ct CertType, number string) []byte {
	m := hmac.New(sha256.New, deploymentKey)
	m.Write([]byte(Canonical(ct, number)))
	return m.Sum(nil)
}

// sealInfo binds ciphertexts to their purpose so they cannot be replayed as another HPKE message.
var sealInfo = []byte("onepass id v1")

// The HPKE suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (RFC 9180 mode base).
var (
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES128GCM()
)

// Sealer seals certificate numbers to the platform's public key. The kiosk holds only the public
// key, so a stolen kiosk disk reveals no ID numbers.
type Sealer struct{ pk hpke.PublicKey }

// NewSealer takes the platform's X25519 public key (32 bytes).
func NewSealer(platformPublic []byte) (*Sealer, error) {
	pub, err := ecdh.X25519().NewPublicKey(platformPublic)
	if err != nil {
		return nil, fmt.Errorf("platform key: %w", err)
	}
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("platform key: %w", err)
	}
	return &Sealer{pk: pk}, nil
}

// Seal encrypts the canonical certificate; the result is the HPKE encapsulated key followed by
// the ciphertext, which only the platform can open.
func (s *Sealer) Seal(ct CertType, number string) ([]byte, error) {
	out, err := hpke.Seal(s.pk, kdf, aead, sealInfo, []byte(Canonical(ct, number)))
	if err != nil {
		return nil, fmt.Errorf("seal id: %w", err)
	}
	return out, nil
}

// Open is the platform's side of Seal (the hub and tests use it; the kiosk has no private key).
func Open(platformPrivate []byte, sealed []byte) (string, error) {
	priv, err := ecdh.X25519().NewPrivateKey(platformPrivate)
	if err != nil {
		return "", fmt.Errorf("platform private key: %w", err)
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("platform private key: %w", err)
	}
	pt, err := hpke.Open(k, kdf, aead, sealInfo, sealed)
	if err != nil {
		return "", errors.New("open sealed id: not sealed to this key or corrupted")
	}
	return string(pt), nil
}

// NewPlatformKey makes an X25519 key pair for the platform (the sim's embedded hub uses it).
func NewPlatformKey() (private, public []byte, err error) {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	return k.Bytes(), k.PublicKey().Bytes(), nil
}
