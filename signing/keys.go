// Package signing holds the project's one signing stack: keys, key IDs, the algorithm names of the
// trust list and COSE, raw signatures for ES256, EdDSA (Ed25519) and SM2-SM3, key parsing and
// marshalling (SubjectPublicKeyInfo, PKCS #8), the root-signed document and the trust list of code
// issuers. The sync protocol (sync/wire) and the health-code verifier (kiosk/healthcode) both use
// it; it imports nothing of ours.
//
// SM2 comes from github.com/emmansun/gmsm (sm2 for the signature, smx509 for the key encodings,
// which also read and write the standard library's key types).
package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Alg is a signature algorithm as the trust list, the sync envelope and COSE name it.
type Alg string

// Algorithms (specs/healthcode-jkm1.md, "Rules fixed for onepass").
const (
	ES256  Alg = "ES256"   // ECDSA P-256 with SHA-256, signature r‖s (64 bytes)
	EdDSA  Alg = "EdDSA"   // Ed25519
	SM2SM3 Alg = "SM2-SM3" // SM2 with SM3, signer ID 1234567812345678, signature r‖s (64 bytes)
)

// KIDSize is the length of a key ID.
const KIDSize = 8

// KID is the key identifier: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER.
func KID(spki []byte) []byte {
	h := sha256.Sum256(spki)
	return h[:KIDSize]
}

// ErrSignature is wrapped by every signature that does not verify.
var ErrSignature = errors.New("bad signature")

// PublicKey is a verification key of one of the three algorithms, with the SPKI DER it was read
// from (the key ID is computed over those exact bytes).
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

// ParsePublicKeyBase64 reads a key as configuration files hold it (the kiosk's `[trust] root`):
// standard base64 of the SPKI DER.
func ParsePublicKeyBase64(s string) (*PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("public key: not base64: %w", err)
	}
	return ParsePublicKey(der)
}

// PublicKeyOf wraps a key of the standard library (or gmsm's SM2 key) as a PublicKey.
func PublicKeyOf(pub crypto.PublicKey) (*PublicKey, error) {
	spki, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return ParsePublicKey(spki)
}

// Alg is the key's algorithm.
func (k *PublicKey) Alg() Alg { return k.alg }

// SPKI is the key's SubjectPublicKeyInfo DER.
func (k *PublicKey) SPKI() []byte { return k.spki }

// KID is the key ID: the first 8 bytes of SHA-256 over the SPKI DER.
func (k *PublicKey) KID() []byte { return KID(k.spki) }

// Verify checks a raw signature over msg (r‖s for ES256 and SM2-SM3, 64 bytes either way). The
// error wraps ErrSignature and names the algorithm.
func (k *PublicKey) Verify(msg, sig []byte) error {
	ok := false
	switch k.alg {
	case EdDSA:
		ok = len(sig) == ed25519.SignatureSize && ed25519.Verify(k.key.(ed25519.PublicKey), msg, sig)
	case ES256:
		if len(sig) == 64 {
			h := sha256.Sum256(msg)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = ecdsa.Verify(k.key.(*ecdsa.PublicKey), h[:], r, s)
		}
	case SM2SM3:
		if len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = sm2.VerifyWithSM2(k.key.(*ecdsa.PublicKey), nil, msg, r, s)
		}
	}
	if !ok {
		return fmt.Errorf("%w (%s)", ErrSignature, k.alg)
	}
	return nil
}

// PrivateKey signs: issuers sign codes, the root signs trust lists and key certificates, the hub
// signs batches. The kiosk never holds one.
type PrivateKey struct {
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
	return NewPrivateKey(s)
}

// NewPrivateKey wraps a signer: an Ed25519 key, an ECDSA P-256 key or a gmsm SM2 key.
func NewPrivateKey(s crypto.Signer) (*PrivateKey, error) {
	if e, ok := s.(*ed25519.PrivateKey); ok && e != nil {
		s = *e // Sign below needs the value
	}
	pub, err := PublicKeyOf(s.Public())
	if err != nil {
		return nil, err
	}
	// The concrete type must match what Sign asserts: an ECDSA key on the SM2 curve that is not
	// a *sm2.PrivateKey, or an opaque signer, cannot sign here.
	ok := false
	switch pub.alg {
	case EdDSA:
		_, ok = s.(ed25519.PrivateKey)
	case ES256:
		_, ok = s.(*ecdsa.PrivateKey)
	case SM2SM3:
		_, ok = s.(*sm2.PrivateKey)
	}
	if !ok {
		return nil, fmt.Errorf("private key: %T cannot sign %s here", s, pub.alg)
	}
	return &PrivateKey{signer: s, pub: pub}, nil
}

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Signer is the wrapped key, for the standard library's uses (TLS, certificates).
func (k *PrivateKey) Signer() crypto.Signer { return k.signer }

// Sign makes the raw signature PublicKey.Verify checks.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	switch k.pub.alg {
	case EdDSA:
		return ed25519.Sign(k.signer.(ed25519.PrivateKey), msg), nil
	case ES256:
		h := sha256.Sum256(msg)
		r, s, err := ecdsa.Sign(rand.Reader, k.signer.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			return nil, fmt.Errorf("sign ES256: %w", err)
		}
		return rs(r, s), nil
	case SM2SM3:
		r, s, err := sm2.SignWithSM2(rand.Reader, &k.signer.(*sm2.PrivateKey).PrivateKey, nil, msg)
		if err != nil {
			return nil, fmt.Errorf("sign SM2-SM3: %w", err)
		}
		return rs(r, s), nil
	}
	return nil, fmt.Errorf("sign: unknown algorithm %q", k.pub.alg)
}

// rs is the fixed-size r‖s encoding of an ECDSA or SM2 signature.
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
	return NewPrivateKey(s)
}
