package wire

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"onepass/signing"
)

// UseBatches is the only use a hub key certificate may name.
const UseBatches = "batches"

// Envelope is a signed body: the trust-list document format (signing.Document: payload, alg,
// kid, signature; JSON byte fields are base64) plus, for hub bodies, the certificate of the key
// that signed it.
type Envelope struct {
	signing.Document
	Signer *Envelope `json:"signer,omitempty"`
}

// KeyCert is the payload of a hub key certificate: the root key vouches that PublicKey may sign
// batches between NotBefore and NotAfter.
type KeyCert struct {
	Header
	KID       []byte      `json:"kid"`
	Alg       signing.Alg `json:"alg"`
	PublicKey []byte      `json:"public_key"` // SubjectPublicKeyInfo DER
	Use       string      `json:"use"`
	NotBefore time.Time   `json:"not_before"`
	NotAfter  time.Time   `json:"not_after"`
}

// protocolKey admits the keys the sync protocol signs with: Ed25519 and ECDSA P-256. SM2 keys
// sign health codes only.
func protocolKey(k *signing.PublicKey) error {
	if a := k.Alg(); a != signing.EdDSA && a != signing.ES256 {
		return fmt.Errorf("wire: unsupported key algorithm %s (want Ed25519 or ECDSA P-256)", a)
	}
	return nil
}

// batchKey wraps a hub key (root or batch) for signing.
func batchKey(key crypto.Signer) (*signing.PrivateKey, error) {
	k, err := signing.NewPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	if err := protocolKey(k.Public()); err != nil {
		return nil, err
	}
	return k, nil
}

// SignEnvelope signs payload with key; kid names the key.
func SignEnvelope(key crypto.Signer, payload []byte) (Envelope, error) {
	k, err := batchKey(key)
	if err != nil {
		return Envelope{}, err
	}
	d, err := signing.NewDocument(k, payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: %w", err)
	}
	return Envelope{Document: d}, nil
}

// CertifyKey makes the root-signed certificate of a hub batch key.
func CertifyKey(root crypto.Signer, pub crypto.PublicKey, notBefore, notAfter time.Time) (Envelope, error) {
	k, err := signing.PublicKeyOf(pub)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: %w", err)
	}
	if err := protocolKey(k); err != nil {
		return Envelope{}, err
	}
	kc := KeyCert{
		Header: Header{V: Major, Type: TypeKeyCert, IssuedAt: time.Now().UTC()},
		KID:    k.KID(), Alg: k.Alg(), PublicKey: k.SPKI(), Use: UseBatches,
		NotBefore: notBefore.UTC(), NotAfter: notAfter.UTC(),
	}
	b, err := json.Marshal(kc)
	if err != nil {
		return Envelope{}, fmt.Errorf("wire: key certificate: %w", err)
	}
	return SignEnvelope(root, b)
}

// Signer signs hub bodies with the batch key and attaches its certificate.
type Signer struct {
	key  *signing.PrivateKey
	cert Envelope
}

// NewSigner pairs the batch key with its root-signed certificate; they must match.
func NewSigner(key crypto.Signer, cert Envelope) (*Signer, error) {
	var kc KeyCert
	if err := json.Unmarshal(cert.Payload, &kc); err != nil {
		return nil, fmt.Errorf("wire: key certificate: %w", err)
	}
	k, err := batchKey(key)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(k.Public().SPKI(), kc.PublicKey) {
		return nil, errors.New("wire: the key certificate is for another key")
	}
	return &Signer{key: k, cert: cert}, nil
}

// Cert returns the signer's key certificate.
func (s *Signer) Cert() Envelope { return s.cert }

// Seal marshals v as the payload, signs it and returns the envelope's JSON: a response body.
func (s *Signer) Seal(v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal payload: %w", err)
	}
	d, err := signing.NewDocument(s.key, payload)
	if err != nil {
		return nil, fmt.Errorf("wire: sign: %w", err)
	}
	cert := s.cert
	return json.Marshal(Envelope{Document: d, Signer: &cert})
}

// Verifier checks bodies against the pinned root key.
type Verifier struct {
	root *signing.PublicKey

	mu    sync.Mutex
	certs map[string]KeyCert // verified key certificates by their signature bytes
}

// NewVerifier pins the root key (SubjectPublicKeyInfo DER, as in the kiosk's `[trust] root`).
func NewVerifier(rootSPKI []byte) (*Verifier, error) {
	root, err := signing.ParsePublicKey(rootSPKI)
	if err != nil {
		return nil, fmt.Errorf("wire: root key: %w", err)
	}
	if err := protocolKey(root); err != nil {
		return nil, fmt.Errorf("wire: root key: %w", err)
	}
	return &Verifier{root: root, certs: map[string]KeyCert{}}, nil
}

// RootKID is the pinned root key's identifier.
func (v *Verifier) RootKID() []byte { return v.root.KID() }

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
	if _, err := env.Open(v.root); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	return nil
}

// KeyCert verifies a hub key certificate against the root (cached once verified).
func (v *Verifier) KeyCert(env *Envelope) (KeyCert, error) {
	if env == nil {
		return KeyCert{}, fmt.Errorf("wire: body carries no signer certificate: %w", signing.ErrSignature)
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
	if !bytes.Equal(kc.KID, signing.KID(kc.PublicKey)) {
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
		return nil, fmt.Errorf("wire: body signed by key %x (%s), certificate is for %x (%s): %w", env.KID, env.Alg, kc.KID, kc.Alg, signing.ErrSignature)
	}
	pub, err := signing.ParsePublicKey(kc.PublicKey)
	if err == nil && pub.Alg() != kc.Alg {
		err = fmt.Errorf("alg %q but the key is %s", kc.Alg, pub.Alg())
	}
	if err == nil {
		err = protocolKey(pub)
	}
	if err != nil {
		return nil, fmt.Errorf("wire: signer key: %w", err)
	}
	if err := pub.Verify(env.Payload, env.Signature); err != nil {
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
