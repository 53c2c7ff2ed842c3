package signing

import (
	"bytes"
	"fmt"
)

// Document is a signed payload as JSON carries it (byte fields base64): the trust-list document
// (specs/healthcode-jkm1.md, "Trust-list document") and the core of the sync protocol's envelope.
type Document struct {
	Payload   []byte `json:"payload"`
	Alg       Alg    `json:"alg"`
	KID       []byte `json:"kid"`
	Signature []byte `json:"signature"`
}

// NewDocument signs payload with key.
func NewDocument(key *PrivateKey, payload []byte) (Document, error) {
	sig, err := key.Sign(payload)
	if err != nil {
		return Document{}, err
	}
	return Document{Payload: payload, Alg: key.Public().Alg(), KID: key.Public().KID(), Signature: sig}, nil
}

// Open checks that the document was signed by the pinned root key (key ID, algorithm,
// signature) and returns its payload. Every error wraps ErrSignature.
func (d Document) Open(root *PublicKey) ([]byte, error) {
	if !bytes.Equal(d.KID, root.KID()) {
		return nil, fmt.Errorf("signed by key %x, not the pinned root %x: %w", d.KID, root.KID(), ErrSignature)
	}
	if d.Alg != root.Alg() {
		return nil, fmt.Errorf("root signature alg %q, root key is %s: %w", d.Alg, root.Alg(), ErrSignature)
	}
	if err := root.Verify(d.Payload, d.Signature); err != nil {
		return nil, fmt.Errorf("root signature: %w", err)
	}
	return d.Payload, nil
}
