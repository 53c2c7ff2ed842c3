package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrRollback is returned for a trust list older (lower seq) than the one held.
var ErrRollback = errors.New("trust list rollback")

// ErrTrustList is wrapped by every error about a trust-list document.
var ErrTrustList = errors.New("trust list")

// MaxTrustDocument bounds the trust-list document read from sync or a file.
const MaxTrustDocument = 4 << 20

// BindParams are an issuer's Argon2id parameters for the card binding hash.
type BindParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// DefaultBind is the spec's default binding: t=1, m=8 MiB, p=1. Issuers added without parameters
// get it, and so do codes issued without them. Read it; never assign to it.
var DefaultBind = BindParams{Time: 1, MemoryKiB: 8192, Threads: 1}

// Validate keeps a mistaken list from making every verification take seconds or gigabytes.
func (p BindParams) Validate() error {
	if p.Time < 1 || p.Time > 16 || p.MemoryKiB < 1024 || p.MemoryKiB > 256*1024 || p.Threads < 1 || p.Threads > 8 {
		return fmt.Errorf("binding parameters t=%d m=%d KiB p=%d outside t 1–16, m 1–256 MiB, p 1–8", p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// IssuerKey is one issuer signing key; usable for codes issued in [NotBefore, NotAfter).
type IssuerKey struct {
	KID       []byte    `json:"kid"`
	Alg       Alg       `json:"alg"`
	PublicKey []byte    `json:"public_key"` // SubjectPublicKeyInfo DER
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`

	key *PublicKey // set by OpenTrustList
}

// NewIssuerKey describes a public key for a trust-list entry.
func NewIssuerKey(pub *PublicKey, notBefore, notAfter time.Time) IssuerKey {
	return IssuerKey{KID: pub.KID(), Alg: pub.Alg(), PublicKey: pub.SPKI(), NotBefore: notBefore, NotAfter: notAfter}
}

// ValidAt reports whether the key may sign a code issued at t: t in [not_before, not_after).
func (k *IssuerKey) ValidAt(t time.Time) bool { return !t.Before(k.NotBefore) && t.Before(k.NotAfter) }

// Verify checks a signature with the key; the key must come from a list OpenTrustList returned.
func (k *IssuerKey) Verify(msg, sig []byte) error {
	if k.key == nil {
		return fmt.Errorf("%w: key %x of a trust list that was not opened", ErrSignature, k.KID)
	}
	return k.key.Verify(msg, sig)
}

// Issuer is one code issuer in the trust list. Classes are the code classes it may issue
// (1 phone, 2 printed, 3 proxy: kiosk/policy.CodeClass).
type Issuer struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	Region  string      `json:"region"`
	Classes []int       `json:"classes"`
	Binding BindParams  `json:"binding"`
	Keys    []IssuerKey `json:"keys"`
}

// TrustList is the payload of the trust-list document: what the hub publishes on the trust stream
// (sync/hub and sync/client use this type by this name) and what the health-code verifier looks
// keys up in.
type TrustList struct {
	Version  int       `json:"version"`
	Seq      int64     `json:"seq"`
	IssuedAt time.Time `json:"issued_at"`
	Issuers  []Issuer  `json:"issuers"`

	byKID map[[KIDSize]byte][]KeyRef // set by OpenTrustList
}

// KeyRef is one key of the list with the issuer that holds it.
type KeyRef struct {
	Issuer *Issuer
	Key    *IssuerKey
}

// SignTrustList signs a list with the root key and returns the document's JSON (the hub's
// tools, the simulator, tests).
func SignTrustList(l *TrustList, root *PrivateKey) ([]byte, error) {
	payload, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	d, err := NewDocument(root, payload)
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	return json.Marshal(d)
}

// OpenTrustList checks a trust-list document against the pinned root key and returns the list,
// each key parsed and checked against its kid and alg. It does not judge rollback: compare Seq
// with the held list (CheckNewer). Every error wraps ErrTrustList.
func OpenTrustList(doc []byte, root *PublicKey) (*TrustList, error) {
	if len(doc) > MaxTrustDocument {
		return nil, fmt.Errorf("%w: document of %d bytes, over %d", ErrTrustList, len(doc), MaxTrustDocument)
	}
	var d Document
	// Unknown envelope fields are ignored (sync's envelope may carry more); the signature covers
	// the payload, which is what counts.
	dec := json.NewDecoder(bytes.NewReader(doc))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: document: %v", ErrTrustList, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: document: data after the JSON object", ErrTrustList)
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root key is configured ([trust] root)", ErrTrustList)
	}
	payload, err := d.Open(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTrustList, err)
	}
	return parseTrustList(payload)
}

func parseTrustList(payload []byte) (*TrustList, error) {
	var l TrustList
	// Unknown fields are allowed here: the list is signed, and a newer root may add fields.
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrTrustList, err)
	}
	if l.Version != 1 {
		return nil, fmt.Errorf("%w: version %d, this kiosk reads 1", ErrTrustList, l.Version)
	}
	if l.Seq <= 0 {
		return nil, fmt.Errorf("%w: seq %d", ErrTrustList, l.Seq)
	}
	if l.IssuedAt.IsZero() {
		return nil, fmt.Errorf("%w: no issued_at", ErrTrustList)
	}
	l.byKID = map[[KIDSize]byte][]KeyRef{}
	ids := map[string]bool{}
	for i := range l.Issuers {
		is := &l.Issuers[i]
		if is.ID == "" || ids[is.ID] {
			return nil, fmt.Errorf("%w: issuer %d: empty or repeated id %q", ErrTrustList, i, is.ID)
		}
		ids[is.ID] = true
		if err := is.Binding.Validate(); err != nil {
			return nil, fmt.Errorf("%w: issuer %s: %v", ErrTrustList, is.ID, err)
		}
		for j := range is.Keys {
			k := &is.Keys[j]
			pub, err := ParsePublicKey(k.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("%w: issuer %s key %d: %v", ErrTrustList, is.ID, j, err)
			}
			if pub.Alg() != k.Alg {
				return nil, fmt.Errorf("%w: issuer %s key %d: alg %q but the key is %s", ErrTrustList, is.ID, j, k.Alg, pub.Alg())
			}
			if !bytes.Equal(k.KID, pub.KID()) {
				return nil, fmt.Errorf("%w: issuer %s key %d: kid %x is not SHA-256(SPKI)[:8] = %x", ErrTrustList, is.ID, j, k.KID, pub.KID())
			}
			if !k.NotAfter.After(k.NotBefore) {
				return nil, fmt.Errorf("%w: issuer %s key %d: not_after is not after not_before", ErrTrustList, is.ID, j)
			}
			k.key = pub
			kid := [KIDSize]byte(k.KID)
			l.byKID[kid] = append(l.byKID[kid], KeyRef{Issuer: is, Key: k})
		}
	}
	return &l, nil
}

// CheckNewer refuses a list older than the held one (seq held; 0 when none is held).
func (l *TrustList) CheckNewer(held int64) error {
	if l.Seq < held {
		return fmt.Errorf("%w: held seq %d, offered %d", ErrRollback, held, l.Seq)
	}
	return nil
}

// Keys returns every key with this kid, in list order. Kids are short, so keys of different
// issuers may collide (or one key be listed by two issuers): a verifier tries every one (the DCC
// rule). Only a list OpenTrustList returned is indexed.
func (l *TrustList) Keys(kid []byte) []KeyRef {
	if len(kid) != KIDSize {
		return nil
	}
	return l.byKID[[KIDSize]byte(kid)]
}

// Issuer returns the issuer with this id.
func (l *TrustList) Issuer(id string) (*Issuer, bool) {
	for i := range l.Issuers {
		if l.Issuers[i].ID == id {
			return &l.Issuers[i], true
		}
	}
	return nil, false
}
