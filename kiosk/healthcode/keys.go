package healthcode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Alg is a signature algorithm as the trust list names it.
type Alg string

// Algorithms (specs/healthcode-jkm1.md, "Rules fixed for onepass").
const (
	ES256  Alg = "ES256"   // ECDSA P-256 with SHA-256, signature r‖s
	EdDSA  Alg = "EdDSA"   // Ed25519
	SM2SM3 Alg = "SM2-SM3" // SM2 with SM3, signer ID 1234567812345678, signature r‖s
)

// COSE algorithm labels: ES256 and EdDSA are registered; SM2-with-SM3 (OID 1.2.156.10197.1.501)
// has no registered label, so JKM1 uses the private-use label -48.
var coseAlg = map[Alg]int64{ES256: -7, EdDSA: -8, SM2SM3: -48}

func algFromCOSE(v int64) (Alg, bool) {
	for a, l := range coseAlg {
		if l == v {
			return a, true
		}
	}
	return "", false
}

// KidSize is the length of a key ID: the first 8 bytes of SHA-256 over the key's SPKI DER.
const KidSize = 8

// PublicKey is a verification key of one of the three algorithms.
type PublicKey struct {
	alg  Alg
	key  crypto.PublicKey
	spki []byte
}

// ParsePublicKey reads a SubjectPublicKeyInfo (DER) of a P-256, Ed25519 or SM2 key.
func ParsePublicKey(spki []byte) (*PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch k := k.(type) {
	case ed25519.PublicKey:
		return &PublicKey{alg: EdDSA, key: k, spki: spki}, nil
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(k) {
			return &PublicKey{alg: SM2SM3, key: k, spki: spki}, nil
		}
		if k.Curve == elliptic.P256() {
			return &PublicKey{alg: ES256, key: k, spki: spki}, nil
		}
		return nil, fmt.Errorf("public key: ECDSA curve %s is not accepted (P-256 or SM2)", k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("public key: %T is not accepted (ES256, EdDSA or SM2-SM3)", k)
}

// Alg is the key's algorithm.
func (k *PublicKey) Alg() Alg { return k.alg }

// SPKI is the key's SubjectPublicKeyInfo DER.
func (k *PublicKey) SPKI() []byte { return k.spki }

// Kid is the key ID: the first 8 bytes of SHA-256 over the SPKI DER.
func (k *PublicKey) Kid() []byte { return KidOf(k.spki) }

// KidOf computes the key ID of an SPKI.
func KidOf(spki []byte) []byte {
	h := sha256.Sum256(spki)
	return h[:KidSize]
}

// Verify checks a raw signature (r‖s for ES256 and SM2, 64 bytes each way) over msg.
func (k *PublicKey) Verify(msg, sig []byte) bool {
	switch k.alg {
	case EdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.key.(ed25519.PublicKey), msg, sig)
	case ES256:
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(msg)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.key.(*ecdsa.PublicKey), h[:], r, s)
	case SM2SM3:
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return sm2.VerifyWithSM2(k.key.(*ecdsa.PublicKey), nil, msg, r, s)
	}
	return false
}

// PrivateKey signs codes (issuers) or trust lists (the root). The kiosk never holds one.
type PrivateKey struct {
	alg    Alg
	signer crypto.Signer
	pub    *PublicKey
}

// GenerateKey makes a key for alg.
func GenerateKey(alg Alg) (*PrivateKey, error) {
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case ES256:
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, s, err = ed25519.GenerateKey(rand.Reader)
	case SM2SM3:
		s, err = sm2.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("algorithm %q: want ES256, EdDSA or SM2-SM3", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	return newPrivateKey(s)
}

func newPrivateKey(s crypto.Signer) (*PrivateKey, error) {
	spki, err := smx509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, err := ParsePublicKey(spki)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{alg: pub.alg, signer: s, pub: pub}, nil
}

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Sign makes the raw signature Verify checks.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	switch k.alg {
	case EdDSA:
		return ed25519.Sign(k.signer.(ed25519.PrivateKey), msg), nil
	case ES256:
		h := sha256.Sum256(msg)
		r, s, err := ecdsa.Sign(rand.Reader, k.signer.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			return nil, err
		}
		return rs(r, s), nil
	case SM2SM3:
		r, s, err := sm2.SignWithSM2(rand.Reader, &k.signer.(*sm2.PrivateKey).PrivateKey, nil, msg)
		if err != nil {
			return nil, err
		}
		return rs(r, s), nil
	}
	return nil, errors.New("unknown algorithm")
}

func rs(r, s *big.Int) []byte {
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out
}

// MarshalPEM writes the key as a PKCS #8 "PRIVATE KEY" PEM block.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM reads a PKCS #8 PEM private key of one of the three algorithms.
func ParsePrivateKeyPEM(b []byte) (*PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("private key: no PKCS #8 \"PRIVATE KEY\" PEM block")
	}
	k, err := smx509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key: %T cannot sign", k)
	}
	if e, ok := s.(ed25519.PrivateKey); ok {
		s = e
	}
	return newPrivateKey(s)
}
