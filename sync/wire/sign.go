package wire

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Signature algorithms, named as in COSE and the trust-list document.
const (
	AlgEdDSA = "EdDSA" // Ed25519
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256, signature r‖s (64 bytes)
)

// UseBatches is the only use a hub key certificate may name.
const UseBatches = "batches"

// Envelope is a signed body: the trust-list document format (payload, alg, kid, signature; JSON
// byte fields are base64) plus, for hub bodies, the certificate of the key that signed it.
type Envelope struct {
	Payload   []byte    `json:"payload"`
	Alg       string    `json:"alg"`
	KID       []byte    `json:"kid"`
	Signature []byte    `json:"signature"`
	Signer    *Envelope `json:"signer,omitempty"`
}

// KeyCert is the payload of a hub key certificate: the root key vouches that PublicKey may sign
// batches between NotBefore and NotAfter.
type KeyCert struct {
	Header
	KID       []byte    `json:"kid"`
	Alg       string    `json:"alg"`
	PublicKey []byte    `json:"public_key"` // SubjectPublicKeyInfo DER
	Use       string    `json:"use"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// KID is the key identifier: the first 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER.
func KID(spki []byte) []byte {
	h := sha256.Sum256(spki)
	return h[:8]
}

// AlgFor names the signature algorithm of a public or private key.
func AlgFor(key any) (string, error) {
	switch k := key.(type) {
	case ed25519.PublicKey, ed25519.PrivateKey, *ed25519.PrivateKey:
		return AlgEdDSA, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	}
	return "", fmt.Errorf("wire: unsupported key type %T (want Ed25519 or ECDSA P-256)", key)
}

// Sign signs msg with key under alg.
func Sign(key crypto.Signer, alg string, msg []byte) ([]byte, error) {
	switch alg {
	case AlgEdDSA:
		return key.Sign(rand.Reader, msg, crypto.Hash(0))
	case AlgES256:
		ek, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("wire: ES256 needs an ECDSA key, got %T", key)
		}
		h := sha256.Sum256(msg)
		r, s, err := ecdsa.Sign(rand.Reader, ek, h[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("wire: unknown algorithm %q", alg)
}

// ErrSignature is wrapped by every verification failure.
var ErrSignature = errors.New("bad signature")

// Verify checks sig over msg with pub under alg.
func Verify(pub crypto.PublicKey, alg string, msg, sig []byte) error {
	switch alg {
	case AlgEdDSA:
		k, ok := pub.(ed25519.PublicKey)
		if ok && ed25519.Verify(k, msg, sig) {
			return nil
		}
	case AlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if ok && len(sig) == 64 {
			h := sha256.Sum256(msg)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if ecdsa.Verify(k, h[:], r, s) {
				return nil
			}
		}
	default:
		return fmt.Errorf("%w: unknown algorithm %q", ErrSignature, alg)
	}
	return fmt.Errorf("%w (%s)", ErrSignature, alg)
}

// SignEnvelope signs payload with key; kid names the key.
func SignEnvelope(key crypto.Signer, payload []byte) (Envelope, error) {
	alg, err := AlgFor(key)
	if err != nil {
		return Envelope{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: %w", err)
	}
	sig, err := Sign(key, alg, payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: sign: %w", err)
	}
	return Envelope{Payload: payload, Alg: alg, KID: KID(spki), Signature: sig}, nil
}

// CertifyKey makes the root-signed certificate of a hub batch key.
func CertifyKey(root crypto.Signer, pub crypto.PublicKey, notBefore, notAfter time.Time) (Envelope, error) {
	alg, err := AlgFor(pub)
	if err != nil {
		return Envelope{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: %w", err)
	}
	kc := KeyCert{
		Header: Header{V: Major, Type: TypeKeyCert, IssuedAt: time.Now().UTC()},
		KID:    KID(spki), Alg: alg, PublicKey: spki, Use: UseBatches,
		NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC(),
	}
	b, err := json.Marshal(kc)
	if err != nil {
		return Envelope{}, err
	}
	return SignEnvelope(root, b)
}

// Signer signs hub bodies with the batch key and attaches its certificate.
type Signer struct {
	key  crypto.Signer
	alg  string
	kid  []byte
	cert Envelope
}

// NewSigner pairs the batch key with its root-signed certificate; they must match.
func NewSigner(key crypto.Signer, cert Envelope) (*Signer, error) {
	var kc KeyCert
	if err := json.Unmarshal(cert.Payload, &kc); err != nil {
		return nil, fmt.Errorf("wire: key certificate: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	if !bytes.Equal(spki, kc.PublicKey) {
		return nil, errors.New("wire: the key certificate is for another key")
	}
	alg, err := AlgFor(key)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, alg: alg, kid: KID(spki), cert: cert}, nil
}

// Cert returns the signer's key certificate.
func (s *Signer) Cert() Envelope { return s.cert }

// Seal marshals v as the payload, signs it and returns the envelope's JSON: a response body.
func (s *Signer) Seal(v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal payload: %w", err)
	}
	sig, err := Sign(s.key, s.alg, payload)
	if err != nil {
		return nil, fmt.Errorf("wire: sign: %w", err)
	}
	cert := s.cert
	return json.Marshal(Envelope{Payload: payload, Alg: s.alg, KID: s.kid, Signature: sig, Signer: &cert})
}

// Verifier checks bodies against the pinned root key.
type Verifier struct {
	root    crypto.PublicKey
	rootAlg string
	rootKID []byte

	mu    sync.Mutex
	certs map[string]KeyCert // verified key certificates by their signature bytes
}

// NewVerifier pins the root key (SubjectPublicKeyInfo DER, as in the kiosk's `[trust] root`).
func NewVerifier(rootSPKI []byte) (*Verifier, error) {
	pub, err := x509.ParsePKIXPublicKey(rootSPKI)
	if err != nil {
		return nil, fmt.Errorf("wire: root key: %w", err)
	}
	alg, err := AlgFor(pub)
	if err != nil {
		return nil, fmt.Errorf("wire: root key: %w", err)
	}
	return &Verifier{root: pub, rootAlg: alg, rootKID: KID(rootSPKI), certs: map[string]KeyCert{}}, nil
}

// RootKID is the pinned root key's identifier.
func (v *Verifier) RootKID() []byte { return v.rootKID }

// parseEnvelope decodes a body, refusing oversized input before parsing.
func parseEnvelope(body []byte) (Envelope, error) {
	if len(body) > MaxBodyBytes {
		return Envelope{}, fmt.Errorf("wire: body of %d bytes exceeds %d", len(body), MaxBodyBytes)
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("wire: body is not a signed envelope: %w", err)
	}
	if len(env.Payload) == 0 || len(env.Signature) == 0 {
		return Envelope{}, errors.New("wire: envelope without payload or signature")
	}
	return env, nil
}

// OpenRoot verifies a body signed by the root key itself (the trust-list document) and returns
// its payload.
func (v *Verifier) OpenRoot(body []byte) ([]byte, error) {
	env, err := parseEnvelope(body)
	if err != nil {
		return nil, err
	}
	if err := v.checkRoot(env); err != nil {
		return nil, err
	}
	return env.Payload, nil
}

func (v *Verifier) checkRoot(env Envelope) error {
	if !bytes.Equal(env.KID, v.rootKID) {
		return fmt.Errorf("wire: signed by key %x, not the pinned root %x: %w", env.KID, v.rootKID, ErrSignature)
	}
	if env.Alg != v.rootAlg {
		return fmt.Errorf("wire: root signature alg %q, root key is %s: %w", env.Alg, v.rootAlg, ErrSignature)
	}
	if err := Verify(v.root, env.Alg, env.Payload, env.Signature); err != nil {
		return fmt.Errorf("wire: root signature: %w", err)
	}
	return nil
}

// KeyCert verifies a hub key certificate against the root (cached once verified).
func (v *Verifier) KeyCert(env *Envelope) (KeyCert, error) {
	if env == nil {
		return KeyCert{}, fmt.Errorf("wire: body carries no signer certificate: %w", ErrSignature)
	}
	cacheKey := string(env.Signature) + string(env.Payload)
	v.mu.Lock()
	kc, ok := v.certs[cacheKey]
	v.mu.Unlock()
	if ok {
		return kc, nil
	}
	if err := v.checkRoot(*env); err != nil {
		return KeyCert{}, fmt.Errorf("wire: signer certificate: %w", err)
	}
	if err := json.Unmarshal(env.Payload, &kc); err != nil {
		return KeyCert{}, fmt.Errorf("wire: signer certificate: %w", err)
	}
	if err := checkHeader(kc.Header, TypeKeyCert); err != nil {
		return KeyCert{}, fmt.Errorf("wire: signer certificate: %w", err)
	}
	if kc.Use != UseBatches {
		return KeyCert{}, fmt.Errorf("wire: signer certificate is for %q, not %q", kc.Use, UseBatches)
	}
	if !bytes.Equal(kc.KID, KID(kc.PublicKey)) {
		return KeyCert{}, errors.New("wire: signer certificate kid does not match its key")
	}
	v.mu.Lock()
	if len(v.certs) > 16 { // rotation leaves a few; never grow without bound
		clear(v.certs)
	}
	v.certs[cacheKey] = kc
	v.mu.Unlock()
	return kc, nil
}

// Open verifies a hub body: the signer certificate against the root, the signature against the
// certificate's key, the protocol version and the payload type. It decodes the payload into out
// (nil: not decoded) and returns the payload bytes. The certificate must cover the
// payload's issued_at (the hub's signed time, not the kiosk's clock, which may be wrong).
func (v *Verifier) Open(body []byte, want string, out any) ([]byte, error) {
	env, err := parseEnvelope(body)
	if err != nil {
		return nil, err
	}
	kc, err := v.KeyCert(env.Signer)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(env.KID, kc.KID) || env.Alg != kc.Alg {
		return nil, fmt.Errorf("wire: body signed by key %x (%s), certificate is for %x (%s): %w", env.KID, env.Alg, kc.KID, kc.Alg, ErrSignature)
	}
	pub, err := x509.ParsePKIXPublicKey(kc.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("wire: signer key: %w", err)
	}
	if err := Verify(pub, env.Alg, env.Payload, env.Signature); err != nil {
		return nil, fmt.Errorf("wire: %s body: %w", want, err)
	}
	// Decode once: into out when it carries a Header (all payload types do).
	var h Header
	hd, typed := out.(interface{ Head() Header })
	if typed {
		if err := json.Unmarshal(env.Payload, out); err != nil {
			return nil, fmt.Errorf("wire: %s payload: %w", want, err)
		}
		h = hd.Head()
	} else if err := json.Unmarshal(env.Payload, &h); err != nil {
		return nil, fmt.Errorf("wire: %s payload: %w", want, err)
	}
	if err := checkHeader(h, want); err != nil {
		return nil, err
	}
	if h.IssuedAt.Before(kc.NotBefore) || !h.IssuedAt.Before(kc.NotAfter) {
		return nil, fmt.Errorf("wire: %s issued at %s outside its signer's validity %s–%s",
			want, h.IssuedAt.Format(time.RFC3339), kc.NotBefore.Format(time.RFC3339), kc.NotAfter.Format(time.RFC3339))
	}
	if out != nil && !typed {
		if err := json.Unmarshal(env.Payload, out); err != nil {
			return nil, fmt.Errorf("wire: %s payload: %w", want, err)
		}
	}
	return env.Payload, nil
}
