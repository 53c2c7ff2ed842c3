package healthcode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"onepass/signing"
)

// Prefix starts the text of every JKM1 code.
const Prefix = "JKM1:"

// Limits applied before any cryptography (specs/healthcode-jkm1.md).
const (
	MaxTextLen  = 1000 // QR text, characters
	maxCBORLen  = MaxTextLen * 2 / 3
	maxTextItem = 64 // issuer ID, masked name
)

// ErrMalformed is wrapped by every error about the structure of a code.
var ErrMalformed = errors.New("malformed code")

// decMode decodes untrusted CBOR: depth ≤ 4, definite lengths only, duplicate map keys refused,
// no tags (the outer COSE tag 18 is removed before), small arrays and maps, valid UTF-8 text.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      32,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		IntDec:           cbor.IntDecConvertSigned,
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// encMode writes canonical CBOR (RFC 8949 core deterministic encoding) for issuers.
var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// sign1 is the COSE_Sign1 array.
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[int64]cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// header labels (RFC 9052).
const (
	hdrAlg = 1
	hdrKid = 4
)

// message is a structurally checked COSE_Sign1 whose signature is not yet verified.
type message struct {
	alg       signing.Alg
	kid       []byte
	protected []byte
	payload   []byte
	signature []byte
	claims    Claims
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// parse checks the prefix, Base45, the COSE_Sign1 structure and the claims' shapes.
func parse(text string) (*message, error) {
	if len(text) > MaxTextLen {
		return nil, malformed("%d characters, over %d", len(text), MaxTextLen)
	}
	body, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return nil, malformed("no %s prefix", Prefix)
	}
	raw, err := Base45Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return parseCOSE(raw)
}

// parseCOSE reads the CBOR part: COSE_Sign1 (tag 18 optional) with a JKM1 payload.
func parseCOSE(raw []byte) (*message, error) {
	if len(raw) > maxCBORLen {
		return nil, malformed("%d bytes, over %d", len(raw), maxCBORLen)
	}
	if len(raw) > 0 && raw[0] == 0xD2 { // tag 18, COSE_Sign1
		raw = raw[1:]
	}
	var s sign1
	if err := decMode.Unmarshal(raw, &s); err != nil {
		return nil, malformed("COSE_Sign1: %v", err)
	}
	if len(s.Protected) == 0 {
		return nil, malformed("empty protected header")
	}
	var prot map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(s.Protected, &prot); err != nil {
		return nil, malformed("protected header: %v", err)
	}
	m := &message{protected: s.Protected, payload: s.Payload, signature: s.Signature}
	var algLabel int64
	a, ok := prot[hdrAlg]
	if !ok {
		return nil, malformed("protected header has no alg")
	}
	if err := decMode.Unmarshal(a, &algLabel); err != nil {
		return nil, malformed("alg: %v", err)
	}
	if m.alg, ok = algFromCOSE(algLabel); !ok {
		return nil, malformed("alg %d is not ES256, EdDSA or SM2-SM3", algLabel)
	}
	// kid belongs in the protected header; the unprotected one is accepted as the DCC does
	// (the signature check decides anyway).
	k, ok := prot[hdrKid]
	if !ok {
		k, ok = s.Unprotected[hdrKid]
	}
	if !ok {
		return nil, malformed("no kid")
	}
	if err := decMode.Unmarshal(k, &m.kid); err != nil || len(m.kid) != signing.KIDSize {
		return nil, malformed("kid must be %d bytes", signing.KIDSize)
	}
	if len(s.Signature) != 64 {
		return nil, malformed("signature of %d bytes, want 64", len(s.Signature))
	}
	c, err := parseClaims(s.Payload)
	if err != nil {
		return nil, err
	}
	m.claims = c
	return m, nil
}

// sigStructure is the byte string a COSE_Sign1 signature covers (RFC 9052 §4.4): the array
// ["Signature1", protected, external_aad (an empty byte string), payload].
func sigStructure(protected, payload []byte) []byte {
	b, err := encMode.Marshal([]any{"Signature1", protected, []byte{}, payload})
	if err != nil {
		panic(err) // only byte strings and a text string: cannot fail
	}
	return b
}
